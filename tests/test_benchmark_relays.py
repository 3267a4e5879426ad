"""The benchmarks' stand-in for Aurora's IAM login (benchmarks/database_modes.py) against a throwaway MariaDB: it
relays a session only after a TLS login whose clear-text password is an IAM token for its user, host and port, so the
IAM benchmark measures a real token login and nothing less."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from benchmarks.database_modes import IamLoginRelay, Login, PassthroughRelay, Relay
from tests.local_services import MOTO_AWS_ENV, MariaDB, create_database, throwaway_mariadb

pytestmark = pytest.mark.mariadb
LOGIN = Login("bench", "bench-password", "bench")


@pytest.fixture(scope="module")
def server(mariadb_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    with throwaway_mariadb(tmp_path_factory.mktemp("relay-mariadb")) as running_server:
        create_database(str(running_server.socket), LOGIN.database, LOGIN.user, LOGIN.password)
        yield running_server


@pytest.fixture
def iam_relay(server: MariaDB) -> Iterator[IamLoginRelay]:
    relay = IamLoginRelay(server, LOGIN)
    relay.start()
    yield relay
    relay.close()


def iam_token(port: int, user: str) -> str:
    """A token from botocore, as an independent maker of the form the relay accepts."""
    import boto3  # moto's dependency: the oracle, never the generated app's

    client = boto3.client(
        "rds",
        region_name=MOTO_AWS_ENV["AWS_REGION"],
        aws_access_key_id=MOTO_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=MOTO_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=MOTO_AWS_ENV["AWS_SESSION_TOKEN"],
    )
    return str(client.generate_db_auth_token("127.0.0.1", port, user))


def connect(port: int, password: str, ca: Path | None) -> Any:
    return pymysql.connect(
        host="127.0.0.1",
        port=port,
        user=LOGIN.user,
        password=password,
        database=LOGIN.database,
        # Without ssl_disabled, pymysql starts TLS whenever the server offers it, CA or not.
        ssl={"ca": str(ca)} if ca else None,
        ssl_disabled=ca is None,
        connect_timeout=10,
    )


def session_identity(connection: Any) -> tuple[str, str]:
    """The database and user name of the session, as MariaDB sees it."""
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT DATABASE(), SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")
        database, user = cursor.fetchone()
        return str(database), str(user)


def relay_errors(relay: Relay) -> str:
    """What the relay recorded of the connection it failed to serve (its thread may still be finishing)."""
    deadline = time.monotonic() + 10
    while not relay.errors and time.monotonic() < deadline:
        time.sleep(0.05)
    return " ".join(relay.errors)


def test_a_token_logs_in_and_the_session_is_relayed(server: MariaDB, iam_relay: IamLoginRelay) -> None:
    identity = session_identity(connect(iam_relay.port, iam_token(iam_relay.port, LOGIN.user), server.ca))
    assert identity == (LOGIN.database, LOGIN.user)
    assert iam_relay.errors == []


@pytest.mark.parametrize(
    ("password", "refusal"),
    [
        pytest.param(LOGIN.password, "not an IAM authentication token", id="the-real-password"),
        pytest.param("token-for-another-port", "not an IAM authentication token", id="another-server"),
    ],
)
def test_a_password_that_is_not_a_token_for_this_server_is_refused(
    server: MariaDB, iam_relay: IamLoginRelay, password: str, refusal: str
) -> None:
    if password == "token-for-another-port":
        password = iam_token(server.port, LOGIN.user)
    with pytest.raises(pymysql.err.OperationalError):
        connect(iam_relay.port, password, server.ca)
    assert refusal in relay_errors(iam_relay)


def test_a_login_without_tls_gets_nothing(iam_relay: IamLoginRelay) -> None:
    with pytest.raises(pymysql.err.OperationalError):
        connect(iam_relay.port, iam_token(iam_relay.port, LOGIN.user), None)
    assert "never starts in clear" in relay_errors(iam_relay)


def test_the_passthrough_relay_carries_mariadb_s_own_tls_login(server: MariaDB) -> None:
    relay = PassthroughRelay(server)
    relay.start()
    try:
        identity = session_identity(connect(relay.port, LOGIN.password, server.ca))
    finally:
        relay.close()
    # MariaDB refuses unencrypted TCP (require_secure_transport), so this login was TLS from pymysql to MariaDB.
    assert identity == (LOGIN.database, LOGIN.user)
