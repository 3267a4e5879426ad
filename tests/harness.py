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
import queue
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import trustme

# The function's environment on a deployed stage; placeholders, since /health never touches the database. A deployed
# stage needs a CA bundle: the package's own (package_offline puts a test CA in its place).
LAMBDA_ENV = {
    "ENVIRONMENT": "dev",
    "DB_HOST": "db.invalid",
    "DB_PASSWORD": "placeholder",  # nosec B105
    "DB_SSL_CA": "certs/rds-global-bundle.pem",
}
# What `make package` needs from the deploying shell of the default bake (db_credentials=secrets_manager: the secret's
# ARN, a placeholder; SERVERLESS_ORG only matters to the v4 flavour; api_auth=jwt: a Cognito user pool's issuer and
# two app client ids, which an api_auth=none bake ignores).
PACKAGE_ENV = {
    "DB_HOST": "db.invalid",
    "DB_SECRET_ARN": "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:app-db-AbCdEf",
    "SERVERLESS_ORG": "example-org",
    "JWT_ISSUER_URL": "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_AbCdEf123",
    "JWT_AUDIENCE": "4b1tq8rvd2mdb0example01,7uuo3mu3ohp6qexample02",
}
# Where `make ca-bundle` puts AWS's RDS CA bundle, which packaging requires (infra/Makefile, check-ca).
CA_BUNDLE = Path("certs") / "rds-global-bundle.pem"
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


def missing_pythons_message(versions: Sequence[str]) -> str | None:
    """None when uv finds an interpreter of every version; otherwise one message naming those it cannot find and how
    to provide them."""
    uv = shutil.which("uv")
    if uv is None:
        return "uv is not on PATH: the bakes lock and sync with it. Install it (https://docs.astral.sh/uv/)."
    missing: dict[str, str] = {}
    for version in versions:
        # --system, as find_python: a bake's `uv sync` builds its .venv from a base interpreter, never from the
        # virtual environment the tests run in.
        result = subprocess.run(
            [uv, "python", "find", "--system", version], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            missing[version] = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[0]
    if not missing:
        return None
    names = " and ".join(f"Python {version}" for version in missing)
    first = next(iter(missing))
    return "\n".join(
        [
            f"uv cannot find {names}, which the template offers (python_version in cookiecutter.json); every bake of"
            " it would fail. Make it available, then run the tests again, with one of:",
            *(f"    uv python install {version}" for version in missing),
            "      (a download: not with UV_PYTHON_DOWNLOADS=never)",
            f"    pyenv install {first}, then list every version uv needs in PYENV_VERSION"
            " (for example PYENV_VERSION=3.13.0:3.12.1)",
            f"    a python{first} on PATH from your system's packages",
            *(f"uv said for {version}: {reason}" for version, reason in missing.items()),
        ]
    )


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gateway_claims(subject: str, scope: str) -> dict[str, str]:
    """The claims of a Cognito access token as an HTTP API JWT authorizer hands them to the function after verifying
    it: every value a string, a list claim as "[a b]"."""
    return {
        "sub": subject,
        "iss": PACKAGE_ENV["JWT_ISSUER_URL"],
        "client_id": PACKAGE_ENV["JWT_AUDIENCE"].split(",")[0],
        "token_use": "access",
        "scope": scope,
        "cognito:groups": "[admins editors]",
        "auth_time": "1795867200",
        "iat": "1795867200",
        "exp": "1795870800",
        "jti": "5f0c6c1e-0000-4000-8000-000000000001",
    }


# What the example module's routes see from the gateway in the tests and benchmarks that call them: a caller allowed
# to write, as a deployed stage's authorizer passes it on.
WRITER_CLAIMS = gateway_claims("benchmark-user", "challenge/write")


def http_api_event(
    method: str,
    path: str,
    body: str | None = None,
    headers: Mapping[str, str] | None = None,
    claims: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event, as Lambda hands it to `main.handler`; with claims, as the JWT
    authorizer passes on a verified token (its `scopes` list is null: the routes name no scopes at the gateway)."""
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
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": dict(claims), "scopes": None}}
    return event


def uses_v4_cli(infra: Path) -> bool:
    """Whether the bake's infra/ installs Serverless v4 (the default flavour) rather than osls."""
    package_json = json.loads((infra / "package.json").read_text(encoding="utf-8"))
    return "serverless" in package_json["devDependencies"]


def drop_v4_org(infra: Path) -> None:
    """serverless.yml without `org` (v4's dashboard key, which osls rejects), so that osls packages a v4 bake."""
    config = infra / "serverless.yml"
    lines = config.read_text(encoding="utf-8").splitlines(keepends=True)
    config.write_text("".join(line for line in lines if not line.startswith("org:")), encoding="utf-8")


def install_osls_for_v4(infra: Path) -> None:
    """Put osls in place of the v4 CLI, which downloads its binary and needs an account: same serverless.yml, minus
    `org`."""
    drop_v4_org(infra)
    run_command([*NPM, "install", "--no-save", OSLS], infra)


def host_architecture() -> str:
    """The Lambda architecture this machine runs: only packages built for it can be invoked here."""
    return "arm64" if platform.machine().lower() in {"aarch64", "arm64"} else "x86_64"


def make_package(
    project: Path,
    python: str,
    sls: str | None = None,
    architecture: str | None = None,
    stage: str | None = None,
    env_overrides: Mapping[str, str] | None = None,
) -> Path:
    """`make package` in a project laid out like a bake, dependencies built by `python`, for the bake's architecture
    or the one given (LAMBDA_ARCHITECTURE, the deploy-time override), for the bake's default stage or `stage`, with
    PACKAGE_ENV plus env_overrides as the deploying shell; returns the zip."""
    command = ["make", "package"] + ([f"SLS={sls}"] if sls else []) + ([f"STAGE={stage}"] if stage else [])
    env = project_env(PYTHON_BIN=python, **PACKAGE_ENV)
    env.pop("LAMBDA_ARCHITECTURE", None)
    if architecture:
        env["LAMBDA_ARCHITECTURE"] = architecture
    env.update(env_overrides or {})
    run_command(command, project / "infra", env, timeout=900)
    zips = list((project / "infra" / ".serverless").glob("*.zip"))
    if len(zips) != 1:
        raise HarnessError(f"expected one zip in {project / 'infra' / '.serverless'}, found {zips}")
    return zips[0]


def package_offline(
    project: Path,
    python: str,
    architecture: str | None = None,
    stage: str | None = None,
    env_overrides: Mapping[str, str] | None = None,
) -> Path:
    """npm ci from the committed lock, osls for the v4 flavour, a test CA in place of AWS's RDS bundle unless one is
    there already (`make ca-bundle` needs the internet), then `make package` (see make_package); returns the zip."""
    infra = project / "infra"
    if not (infra / CA_BUNDLE).exists():
        (infra / CA_BUNDLE).parent.mkdir(parents=True, exist_ok=True)
        trustme.CA().cert_pem.write_to_path(str(infra / CA_BUNDLE))
    run_command([*NPM, "ci"], infra)
    sls = None
    if uses_v4_cli(infra):
        install_osls_for_v4(infra)
        sls = OSLS_SLS
    return make_package(project, python, sls, architecture, stage, env_overrides)


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


def copy_project(source: Path, destination: Path) -> Path:
    """Copy a baked project without its virtual environment, so packaging cannot touch the shared bake."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".venv", "node_modules"))
    return destination


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
    """PEM files of a test CA and of a server certificate it signed (for SERVER_NAMES unless reissued), and the CA
    itself, to sign others."""

    ca: Path
    certificate: Path
    key: Path
    authority: trustme.CA


SERVER_NAMES = ("127.0.0.1", "localhost")


def write_tls_files(directory: Path) -> TlsFiles:
    """A fresh test CA and server certificate, written into directory."""
    authority = trustme.CA()
    files = TlsFiles(directory / "ca.pem", directory / "server-cert.pem", directory / "server-key.pem", authority)
    authority.cert_pem.write_to_path(str(files.ca))
    reissue_server_certificate(files, *SERVER_NAMES)
    return files


def reissue_server_certificate(files: TlsFiles, *names: str) -> None:
    """Overwrite the server certificate and key with new ones from the same CA, valid for names only."""
    issued = files.authority.issue_cert(*names)
    issued.cert_chain_pems[0].write_to_path(str(files.certificate))
    issued.private_key_pem.write_to_path(str(files.key))


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


class MariaDB:
    """A throwaway MariaDB server from the installed binaries (apt: mariadb-server): its own data folder, socket and
    loopback port, TLS required on TCP. stop() ends it by its PID and start() brings it back on the same port and
    data, so a test can take the database away from a running client."""

    def __init__(self, directory: Path, tls: TlsFiles) -> None:
        self.directory = directory
        self.socket = directory / "mariadb.sock"
        self.ca = tls.ca
        self.port = free_port()
        self.log = directory / "mariadb.log"
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None

    def install(self) -> None:
        install = ["mariadb-install-db", "--no-defaults", f"--datadir={self.directory / 'data'}", "--user=root"]
        run_command([*install, "--auth-root-authentication-method=normal", "--skip-test-db"], self.directory)

    def start(self) -> None:
        command = ["mariadbd", "--no-defaults", "--user=root", f"--datadir={self.directory / 'data'}"]
        command += [
            f"--socket={self.socket}",
            f"--pid-file={self.directory / 'mariadb.pid'}",
            f"--port={self.port}",
            *MARIADB_OPTIONS,
            *mariadb_tls_options(self.tls),
        ]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        wait_for_mariadb(self.process, self.socket, self.log)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


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
def throwaway_mariadb(directory: Path, tls: TlsFiles | None = None) -> Iterator[MariaDB]:
    """A running MariaDB server (see MariaDB) with a certificate from tls, or from a fresh test CA; stopped on exit."""
    missing = [name for name in ("mariadbd", "mariadb-install-db") if shutil.which(name) is None]
    if missing:
        raise HarnessError(f"not installed: {', '.join(missing)} (apt-get install mariadb-server)")
    directory.mkdir(parents=True, exist_ok=True)
    server = MariaDB(directory, tls or write_tls_files(directory))
    server.install()
    try:
        server.start()
        yield server
    finally:
        server.stop()


# Credentials and region the package and the test share with the loopback moto server, which accepts any signature.
MOTO_AWS_ENV = {
    "AWS_REGION": "ap-northeast-2",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "moto-accepts-any-signature",  # nosec B105
    "AWS_SESSION_TOKEN": "session-token",  # nosec B105
}


def moto_server_command() -> list[str]:
    """moto's standalone server, from the environment running this code (the template's dev dependencies)."""
    executable = Path(sys.executable).with_name("moto_server")
    return [str(executable)] if executable.exists() else [sys.executable, "-m", "moto.server"]


@contextmanager
def moto_secrets_server(directory: Path) -> Iterator[str]:
    """moto serving Secrets Manager (and every other API it knows) on a loopback port; yields its endpoint URL."""
    port = free_port()
    log = directory / "moto.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [*moto_server_command(), "-H", "127.0.0.1", "-p", str(port)], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise HarnessError(f"moto_server exited {server.returncode}:\n{log.read_text(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise HarnessError(f"moto_server did not listen within 30 s:\n{log.read_text(errors='replace')}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def secrets_client(endpoint: str) -> Any:
    """A boto3 Secrets Manager client for a moto endpoint."""
    import boto3  # moto's own dependency; imported here so that benchmarks without moto never load it

    return boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name=MOTO_AWS_ENV["AWS_REGION"],
        aws_access_key_id=MOTO_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=MOTO_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def mariadb_admin(server: MariaDB, *statements: str) -> list[tuple[Any, ...]]:
    """Run statements as root over the server's socket; returns the last statement's rows."""
    admin = pymysql.connect(unix_socket=str(server.socket), user="root", autocommit=True)
    try:
        with admin.cursor() as cursor:
            rows: list[tuple[Any, ...]] = []
            for statement in statements:
                cursor.execute(statement)
                rows = list(cursor.fetchall())
            return rows
    finally:
        admin.close()


# Runs in the runtime's Python inside an unzipped package: one JSON request per stdin line
# ({"handler": "module.function", "event": {...}} or {"modules": true}), one JSON line back on the original stdout.
# A handler that raises answers {"errorMessage", "errorType"}, as Lambda reports a failed invocation. Anything the app
# writes (its log lines, through a root handler as Lambda's runtime installs one) goes to stderr.
LAMBDA_DRIVER = r"""
import importlib, json, logging, os, sys
replies = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


class Context:
    function_name = "function"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:function"

    def __init__(self, number):
        self.aws_request_id = f"request-{number}"

    def get_remaining_time_in_millis(self):
        return 29000


for number, line in enumerate(sys.stdin):
    request = json.loads(line)
    if request.get("modules"):
        result = sorted(sys.modules)
    else:
        module_name, _, function_name = request["handler"].rpartition(".")
        try:
            handler = getattr(importlib.import_module(module_name), function_name)
            result = handler(request["event"], Context(number))
        except Exception as error:
            result = {"errorMessage": str(error), "errorType": type(error).__name__}
    replies.write(json.dumps(result) + "\n")
    replies.flush()
"""


class LambdaProcess:
    """One warm Lambda container, emulated: the runtime's Python alone (-S: no site-packages) in an unpacked package,
    invoking handlers one request at a time in the same process, as Lambda does between a cold start and a freeze."""

    def __init__(self, python: str, task: Path, env: Mapping[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as errors:
            self.process = subprocess.Popen(
                [python, "-S", "-c", LAMBDA_DRIVER],
                cwd=task,
                env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", **env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        self.replies: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_replies, daemon=True).start()

    def _read_replies(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.replies.put(line)

    def _ask(self, request: Mapping[str, Any], timeout: float) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        try:
            return json.loads(self.replies.get(timeout=timeout))
        except queue.Empty:
            raise HarnessError(f"no answer within {timeout} s; its log:\n{self.logged()}") from None

    def invoke(self, handler: str, event: Mapping[str, Any], timeout: float = 60) -> Any:
        """The handler's return value, or {"errorMessage", "errorType"} when it raised."""
        return self._ask({"handler": handler, "event": event}, timeout)

    def modules(self) -> list[str]:
        """Every module the process has imported so far."""
        return list(self._ask({"modules": True}, 10))

    def logged(self) -> str:
        """What the process wrote to stderr so far (its log lines)."""
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def head_revisions(migrations: Path) -> str:
    """The revisions no other revision follows, in both folders (the team's and the template's), joined by commas as
    the migrate function reports them."""
    revisions, parents = set(), set()
    for path in migrations.glob("*/*.py"):
        text = path.read_text()
        revisions.update(re.findall(r'^revision(?:: str)? = "(\w+)"', text, re.M))
        for parent in re.findall(r"^down_revision(?:: [^=]+)? = (.+)$", text, re.M):
            parents.update(re.findall(r'"(\w+)"', parent))
    return ",".join(sorted(revisions - parents))
