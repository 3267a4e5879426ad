"""The local services the template's tests and benchmarks run a packaged app against: a throwaway MariaDB server
that requires TLS (certificates from a test CA) and moto serving Secrets Manager, both on loopback ports. Free of
pytest: the benchmarks import it too."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import trustme

from tests.packaging_tools import HarnessError, run_command

# MariaDB server options for a throwaway server on loopback (TLS options come from mariadb_tls_options).
MARIADB_OPTIONS = ["--skip-log-bin", "--bind-address=127.0.0.1", "--skip-name-resolve"]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


def create_admin(unix_socket: str, user: str, password: str) -> None:
    """A user with every right, GRANT OPTION and CREATE USER included, for tests that create users of their own."""
    admin = pymysql.connect(unix_socket=unix_socket, user="root", autocommit=True)
    try:
        with admin.cursor() as cursor:
            for host in ("localhost", "127.0.0.1"):
                cursor.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'")
                cursor.execute(f"GRANT ALL ON *.* TO '{user}'@'{host}' WITH GRANT OPTION")
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


def moto_client(service: str, endpoint: str) -> Any:
    """A boto3 client of service for a moto endpoint, with MOTO_AWS_ENV's region and keys."""
    import boto3  # moto's own dependency; imported here so that benchmarks without moto never load it

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=MOTO_AWS_ENV["AWS_REGION"],
        aws_access_key_id=MOTO_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=MOTO_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def secrets_client(endpoint: str) -> Any:
    """A boto3 Secrets Manager client for a moto endpoint."""
    return moto_client("secretsmanager", endpoint)


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
