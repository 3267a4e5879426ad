"""What the template's tests and the benchmarks both do with a bake, written once and free of pytest: run a command,
find an interpreter and a free port, build an API Gateway event, package a bake offline with osls for a Lambda
architecture, read the ELF machines in a zip, and serve a throwaway MariaDB that requires TLS.

Functions raise HarnessError carrying the failed command's output; tests turn it into a failure, benchmarks into
an exit message.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import stat
import subprocess
import time
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import trustme

# The function's environment on a deployed stage; placeholders, since /health never touches the database.
LAMBDA_ENV = {"ENVIRONMENT": "dev", "DB_HOST": "db.invalid", "DB_PASSWORD": "placeholder"}  # nosec B105
# What `make package` needs from the deploying shell (SERVERLESS_ORG only matters to the v4 flavour).
PACKAGE_ENV = {**LAMBDA_ENV, "SERVERLESS_ORG": "example-org"}
OSLS = "osls@4.3.1"
# The SLS value for `make package` once osls is installed in infra/node_modules.
OSLS_SLS = "npx osls"
NPM = ["npm", "--no-audit", "--no-fund", "--loglevel=error"]
# The ELF header's e_machine for each Lambda architecture.
ELF_MACHINES = {"x86_64": 62, "arm64": 183}
# MariaDB server options for a throwaway server on loopback (TLS options come from mariadb_tls_options).
MARIADB_OPTIONS = ["--skip-log-bin", "--bind-address=127.0.0.1", "--skip-name-resolve"]


class HarnessError(RuntimeError):
    """A command the harness ran failed; the message holds the command and its output."""


def run_command(command: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: int = 600) -> str:
    """Run a command and return its output; raise HarnessError with that output when it exits non-zero."""
    result = subprocess.run(
        command, cwd=cwd, env=dict(env or os.environ), capture_output=True, text=True, timeout=timeout, check=False
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise HarnessError(f"{' '.join(command)} exited {result.returncode} in {cwd}:\n{output}")
    return output


def project_env(**overrides: str) -> dict[str, str]:
    """The environment for running a baked project's tools: no inherited virtualenv, no settings leaking in."""
    env = {key: value for key, value in os.environ.items() if key not in {"VIRTUAL_ENV", "DATABASE_URL"}}
    env.update(overrides)
    return env


def find_python(version: str) -> str:
    """The system interpreter of a Python version (it has pip, which serverless-python-requirements needs)."""
    result = subprocess.run(["uv", "python", "find", "--system", version], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HarnessError(f"Python {version} not found by uv: {result.stderr.strip()}")
    return result.stdout.strip()


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_api_event(
    method: str, path: str, body: str | None = None, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event, as Lambda hands it to `main.handler`."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", **(headers or {})},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1"},
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    return event


def uses_v4_cli(infra: Path) -> bool:
    """Whether the bake's infra/ installs Serverless v4 (the default flavour) rather than osls."""
    package_json = json.loads((infra / "package.json").read_text(encoding="utf-8"))
    return "serverless" in package_json["devDependencies"]


def install_osls_for_v4(infra: Path) -> None:
    """Put osls in place of the v4 CLI, which downloads its binary and needs an account: same serverless.yml, minus
    `org` (v4's dashboard key, which osls rejects)."""
    config = infra / "serverless.yml"
    lines = config.read_text(encoding="utf-8").splitlines(keepends=True)
    config.write_text("".join(line for line in lines if not line.startswith("org:")), encoding="utf-8")
    run_command([*NPM, "install", "--no-save", OSLS], infra)


def host_architecture() -> str:
    """The Lambda architecture this machine runs: only packages built for it can be invoked here."""
    return "arm64" if platform.machine().lower() in {"aarch64", "arm64"} else "x86_64"


def make_package(project: Path, python: str, sls: str | None = None, architecture: str | None = None) -> Path:
    """`make package` in a project laid out like a bake, dependencies built by `python`, for the bake's architecture
    or the one given (LAMBDA_ARCHITECTURE, the deploy-time override); returns the zip."""
    command = ["make", "package"] + ([f"SLS={sls}"] if sls else [])
    env = project_env(PYTHON_BIN=python, **PACKAGE_ENV)
    env.pop("LAMBDA_ARCHITECTURE", None)
    if architecture:
        env["LAMBDA_ARCHITECTURE"] = architecture
    run_command(command, project / "infra", env, timeout=900)
    zips = list((project / "infra" / ".serverless").glob("*.zip"))
    if len(zips) != 1:
        raise HarnessError(f"expected one zip in {project / 'infra' / '.serverless'}, found {zips}")
    return zips[0]


def package_offline(project: Path, python: str, architecture: str | None = None) -> Path:
    """npm ci from the committed lock, osls for the v4 flavour, then `make package`; returns the zip."""
    infra = project / "infra"
    run_command([*NPM, "ci"], infra)
    if not uses_v4_cli(infra):
        return make_package(project, python, architecture=architecture)
    install_osls_for_v4(infra)
    return make_package(project, python, OSLS_SLS, architecture)


def elf_machines(zip_path: Path) -> dict[str, int]:
    """The e_machine of every ELF file in a zip (shared objects, mostly), by name."""
    machines = {}
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            with archive.open(info) as member:
                header = member.read(20)
            if header[:4] == b"\x7fELF" and len(header) == 20:
                machines[info.filename] = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return machines


def sizes(zip_path: Path) -> tuple[float, float]:
    """Zipped and unzipped size in MB."""
    with zipfile.ZipFile(zip_path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    return zip_path.stat().st_size / 1e6, unzipped / 1e6


def set_write_bits(folder: Path, writable: bool) -> None:
    """Remove every write bit under folder, like Lambda's /var/task, or give the owner write access back."""
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod((mode | stat.S_IWUSR) if writable else (mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)))


@contextmanager
def unpacked_read_only(zip_path: Path, destination: Path) -> Iterator[Path]:
    """The zip unpacked into a fresh read-only folder; write bits come back on exit, so the folder can be deleted."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(destination)
    set_write_bits(destination, writable=False)
    try:
        yield destination
    finally:
        set_write_bits(destination, writable=True)


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a test CA and of a server certificate it signed for 127.0.0.1 and localhost."""

    ca: Path
    certificate: Path
    key: Path


def write_tls_files(directory: Path) -> TlsFiles:
    """A fresh test CA and server certificate, written into directory."""
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(directory / "ca.pem", directory / "server-cert.pem", directory / "server-key.pem")
    authority.cert_pem.write_to_path(str(files.ca))
    issued.cert_chain_pems[0].write_to_path(str(files.certificate))
    issued.private_key_pem.write_to_path(str(files.key))
    return files


def mariadb_tls_options(tls: TlsFiles) -> list[str]:
    """Server options that present the certificate and refuse unencrypted TCP connections, so every client that
    connects proves it speaks TLS."""
    return [
        f"--ssl-ca={tls.ca}",
        f"--ssl-cert={tls.certificate}",
        f"--ssl-key={tls.key}",
        "--require-secure-transport=ON",
    ]


def create_database(unix_socket: str, database: str, user: str, password: str) -> None:
    """A database in latin1, like many servers' default (the app's tables must still store full Unicode), and a user
    with every privilege on it; MariaDB maps 127.0.0.1 to localhost, so the user exists for both."""
    admin = pymysql.connect(unix_socket=unix_socket, user="root", autocommit=True)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {database} CHARACTER SET latin1")
            for host in ("localhost", "127.0.0.1"):
                cursor.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'")
                cursor.execute(f"GRANT ALL ON {database}.* TO '{user}'@'{host}'")
    finally:
        admin.close()


@dataclass(frozen=True)
class MariaDB:
    """A running throwaway MariaDB server: loopback TCP port (TLS required), admin socket, and the CA of its
    certificate."""

    port: int
    socket: Path
    ca: Path


def wait_for_mariadb(server: subprocess.Popen[bytes], unix_socket: Path, log: Path, seconds: float = 30) -> None:
    """Return once the server accepts root on its socket; raise HarnessError with its log if it exits or is late."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise HarnessError(f"mariadbd exited {server.returncode}:\n{log.read_text(errors='replace')}")
        try:
            pymysql.connect(unix_socket=str(unix_socket), user="root", connect_timeout=1).close()
            return
        except pymysql.err.OperationalError:
            time.sleep(0.1)
    raise HarnessError(f"mariadbd did not answer within {seconds} s:\n{log.read_text(errors='replace')}")


@contextmanager
def throwaway_mariadb(directory: Path) -> Iterator[MariaDB]:
    """A MariaDB server from the installed binaries (apt: mariadb-server) with its own data folder, socket and
    loopback port, TLS required on TCP; stopped by its PID on exit."""
    missing = [name for name in ("mariadbd", "mariadb-install-db") if shutil.which(name) is None]
    if missing:
        raise HarnessError(f"not installed: {', '.join(missing)} (apt-get install mariadb-server)")
    tls = write_tls_files(directory)
    data, unix_socket, log = directory / "data", directory / "mariadb.sock", directory / "mariadb.log"
    install = ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root"]
    run_command([*install, "--auth-root-authentication-method=normal", "--skip-test-db"], directory)
    port = free_port()
    command = ["mariadbd", "--no-defaults", "--user=root", f"--datadir={data}", f"--socket={unix_socket}"]
    command += [
        f"--pid-file={directory / 'mariadb.pid'}",
        f"--port={port}",
        *MARIADB_OPTIONS,
        *mariadb_tls_options(tls),
    ]
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_mariadb(server, unix_socket, log)
        yield MariaDB(port, unix_socket, tls.ca)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
