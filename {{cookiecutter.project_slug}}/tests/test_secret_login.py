"""The database login from a Secrets Manager secret (app/database/secret_login.py): read as an RDS secret, kept for the
process, fetched again when MySQL refuses it, plain http only where the stage allows it, one deadline per fetch, and
errors (a 503, like any outage) that name the secret and the cause but never its value."""

import asyncio
import os
import socket
import threading
import uuid
from typing import Any

import aiomysql  # type: ignore[import-untyped]
import pytest
from pydantic import SecretStr
from pymysql.constants import ER  # type: ignore[import-untyped]
from sqlalchemy import URL, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.aws.errors import AwsRequestError
from app.aws.secrets_manager import get_secret_string
from app.common.settings import get_settings, load_settings
from app.database import mysql_connection, secret_login
from app.database.config import connect_options, create_single_use_engine, database_url
from app.database.outage import DatabaseUnavailableError
from app.database.secret_login import DatabaseLogin, SecretLogin, SecretUnavailableError, fetch_login
{%- if cookiecutter.background_jobs == "yes" %}
from tests.conftest import JOB_QUEUE_URL
{%- endif %}
from tests.moto_secrets import MotoSecretsManager

pytestmark = pytest.mark.anyio

# A value that must never show in an error message or a log line.
SENTINEL = "sentinel-9f3a-never-shown"  # nosec B105 - a test value


def test_the_login_never_shows_in_reprs() -> None:
    assert SENTINEL not in repr(DatabaseLogin("app", SENTINEL))


def plain_http_settings(environment: str, secret_arn: str) -> Any:
    """Settings of the given stage whose secret lies behind a plain-http endpoint on another host."""
    return load_settings(
        environment=environment,
        database_url=None,
        db_host="db.internal",
        db_secret_arn=secret_arn,
        db_ssl_trust_any_server=True,
        db_connect_timeout=2,
{%- if cookiecutter.background_jobs == "yes" %}
        job_queue_url=JOB_QUEUE_URL,
{%- endif %}
    )


@pytest.mark.parametrize("environment", ["dev", "prod"])
async def test_deployed_stages_refuse_a_plain_http_endpoint_off_loopback(
    secrets: MotoSecretsManager, reconfigure: pytest.MonkeyPatch, environment: str
) -> None:
    reconfigure.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://secrets.internal.invalid:8080")
    settings = plain_http_settings(environment, "db")
    connect = connect_options(database_url(settings), settings)["async_creator_fn"]
    with pytest.raises(SecretUnavailableError, match="plain http on a host that is not loopback"):
        await connect(host="db.internal", user="app")


async def test_local_runs_may_use_a_plain_http_endpoint_and_loopback_always_may(
    secrets: MotoSecretsManager, reconfigure: pytest.MonkeyPatch
) -> None:
    arn = secrets.create({"password": SENTINEL})
    # Loopback (moto) in a deployed stage: the fetch goes through.
    assert (await SecretLogin(arn, timeout=5).current()).password == SENTINEL
    # Another host in a local run: allowed, so the request is sent. That host name resolves to moto here: the password
    # proves the request arrived, and the resolver's record proves it went to that host.
    port = int(secrets.endpoint.rpartition(":")[2])
    resolve = socket.getaddrinfo
    resolved: list[Any] = []

    def to_moto(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "secrets.internal.invalid":
            return resolve(host, *args, **kwargs)
        resolved.append(host)
        return resolve("127.0.0.1", port, *args[1:], **kwargs)

    reconfigure.setattr(socket, "getaddrinfo", to_moto)
    reconfigure.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://secrets.internal.invalid:{port}")
    assert (await SecretLogin(arn, timeout=5, allow_plain_http=True).current()).password == SENTINEL
    assert resolved == ["secrets.internal.invalid"]


async def test_one_deadline_bounds_the_whole_fetch_name_resolution_included(
    secrets: MotoSecretsManager, reconfigure: pytest.MonkeyPatch
) -> None:
    """A resolver that never answers (it cannot be made to hang here for real, so getaddrinfo stands in)."""
    released = threading.Event()
    resolve = socket.getaddrinfo

    def hanging_resolver(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "secrets.hanging.invalid":
            released.wait(30)
        return resolve(host, *args, **kwargs)

    reconfigure.setattr(socket, "getaddrinfo", hanging_resolver)
    reconfigure.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "https://secrets.hanging.invalid")
    try:
        # The caller's limit only keeps a regression from hanging the suite: the fetch's own deadline must come first.
        async with asyncio.timeout(15):
            with pytest.raises(SecretUnavailableError, match="within 1 s"):
                await SecretLogin("db", timeout=1).current()
    finally:
        released.set()


def test_an_rds_secret_is_read_from_secrets_manager(secrets: MotoSecretsManager) -> None:
    arn = secrets.create({"username": "app_user", "password": SENTINEL, "engine": "mysql", "port": 3306})
    login = fetch_login(arn, timeout=5)
    assert (login.username, login.password) == ("app_user", SENTINEL)


def test_a_secret_without_a_username_keeps_db_user(secrets: MotoSecretsManager) -> None:
    arn = secrets.create({"password": SENTINEL})
    assert fetch_login(arn, timeout=5).username is None


def test_a_secret_that_cannot_be_read_makes_the_database_unavailable(secrets: MotoSecretsManager) -> None:
    """The client's error, with its message, becomes the database's outage (a 503 whose log names the cause)."""
    missing = f"test/missing-{uuid.uuid4()}"
    with pytest.raises(AwsRequestError) as client_error:
        get_secret_string(missing, timeout=5)
    with pytest.raises(SecretUnavailableError) as raised:
        fetch_login(missing, timeout=5)
    assert isinstance(raised.value, DatabaseUnavailableError) and "ResourceNotFoundException" in str(raised.value)
    assert str(raised.value) == str(client_error.value)


@pytest.mark.parametrize(
    "value",
    [SENTINEL, {"username": "app"}, {"password": ""}, {"password": SENTINEL, "username": 7}],
    ids=["not-json", "no-password", "empty-password", "username-not-a-string"],
)
def test_a_secret_of_the_wrong_shape_is_refused_without_showing_its_value(
    secrets: MotoSecretsManager, value: Any
) -> None:
    arn = secrets.create(value)
    with pytest.raises(SecretUnavailableError) as raised:
        fetch_login(arn, timeout=5)
    assert arn in str(raised.value) and SENTINEL not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def count_fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each fetch of a secret from now on (the secret ids)."""
    fetches: list[str] = []
    fetch = secret_login.fetch_login

    def counted(secret_id: str, timeout: float, allow_plain_http: bool = False) -> DatabaseLogin:
        fetches.append(secret_id)
        return fetch(secret_id, timeout, allow_plain_http)

    monkeypatch.setattr(secret_login, "fetch_login", counted)
    return fetches


async def test_the_login_is_fetched_once_and_again_only_after_a_refusal(
    secrets: MotoSecretsManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = secrets.create({"username": "app", "password": "first"})
    fetches = count_fetches(monkeypatch)
    login = SecretLogin(arn, timeout=5)
    first = await login.current()
    assert await login.current() is first and len(fetches) == 1
    secrets.update(arn, {"username": "app", "password": "second"})
    second = await login.refresh(first)
    assert second is not None and second.password == "second" and len(fetches) == 2
    # A second connection refused with the old login meanwhile takes the new one without fetching again.
    assert await login.refresh(first) is second and len(fetches) == 2


async def test_a_login_refused_again_right_after_a_fetch_waits_before_fetching_again(
    secrets: MotoSecretsManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = SecretLogin(secrets.create({"password": "revoked"}), timeout=5)
    fetches = count_fetches(monkeypatch)
    first = await login.current()
    fetched = await login.refresh(first)
    assert fetched is not None and len(fetches) == 2
    # Refused again at once: nothing newer to try, and no fetch per request meanwhile.
    assert await login.refresh(fetched) is None and await login.refresh(fetched) is None and len(fetches) == 2
    monkeypatch.setattr(secret_login, "REFETCH_INTERVAL", 0.0)
    assert await login.refresh(fetched) is not None and len(fetches) == 3


def access_denied() -> aiomysql.OperationalError:
    return aiomysql.OperationalError(ER.ACCESS_DENIED_ERROR, "Access denied for user 'app'@'localhost'")


async def test_an_access_denied_connect_fetches_the_secret_again_and_retries_once(
    secrets: MotoSecretsManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = secrets.create({"username": "app", "password": "old"})
    login = SecretLogin(arn, timeout=5)
    await login.current()
    secrets.update(arn, {"username": "app", "password": "new"})
    attempts: list[dict[str, Any]] = []

    async def open_connection(arguments: dict[str, Any]) -> Any:
        attempts.append(arguments)
        if arguments["password"] != "new":
            raise access_denied()
        return "connection"

    monkeypatch.setattr(mysql_connection, "open_connection", open_connection)
    assert await mysql_connection.connect_mysql(secret_login=login, host="db", user="ignored") == "connection"
    assert [(attempt["user"], attempt["password"]) for attempt in attempts] == [("app", "old"), ("app", "new")]


@pytest.mark.parametrize("refusals", [2, 0], ids=["refused-again", "other-error"])
async def test_a_connect_is_retried_only_once_and_only_after_access_denied(
    secrets: MotoSecretsManager, monkeypatch: pytest.MonkeyPatch, refusals: int
) -> None:
    login = SecretLogin(secrets.create({"password": "pw"}), timeout=5)
    attempts: list[dict[str, Any]] = []
    error = access_denied() if refusals else aiomysql.OperationalError(2003, "Can't connect")

    async def open_connection(arguments: dict[str, Any]) -> Any:
        attempts.append(arguments)
        raise error

    monkeypatch.setattr(mysql_connection, "open_connection", open_connection)
    with pytest.raises(aiomysql.OperationalError) as raised:
        await mysql_connection.connect_mysql(secret_login=login, host="db", user="app")
    assert raised.value is error
    assert len(attempts) == (2 if refusals else 1)
    # Without a user name in the secret, DB_USER (the URL's) logs in.
    assert attempts[0]["user"] == "app"


async def set_own_password(connection: AsyncConnection, password: str) -> None:
    """Change the connected user's password (MariaDB and MySQL spell it differently)."""
    version = (await connection.execute(text("SELECT VERSION()"))).scalar_one()
    statement = "SET PASSWORD = PASSWORD(:password)" if "MariaDB" in version else "SET PASSWORD = :password"
    await connection.execute(text(statement), {"password": password})


async def restore_password(url: URL, passwords: tuple[str, ...], wanted: str) -> None:
    """Set the user's password back to wanted, logging in with whichever of passwords the server has now."""
    for password in passwords:
        address = SecretStr(url.set(password=password).render_as_string(hide_password=False))
        settings = get_settings().model_copy(update={"database_url": address, "db_secret_arn": None})
        engine = create_single_use_engine(settings)
        try:
            async with engine.connect() as connection:
                await set_own_password(connection, wanted)
            return
        except OperationalError:
            continue
        finally:
            await engine.dispose()
    raise AssertionError(f"could not restore the password of {url.username!r}: later tests will fail to log in")


async def test_a_rotated_password_is_used_without_a_restart(
    mysql_session: AsyncSession, secrets: MotoSecretsManager, reconfigure: pytest.MonkeyPatch
) -> None:
    """Rotation as Secrets Manager does it: the password changes in MySQL and in the secret; the next connection is
    refused with the cached login (1045), fetches the secret again and logs in, in the same process."""
    url = make_url(os.environ["DATABASE_URL"])
    original, rotated = url.password, f"rotated-{uuid.uuid4().hex[:12]}"
    assert url.username and original
    arn = secrets.create({"username": url.username, "password": original})
    reconfigure.setenv("DB_SECRET_ARN", arn)
    # No pool: each connect logs in.
    engine = create_single_use_engine(get_settings())
    fetches = count_fetches(reconfigure)
    try:
        async with engine.connect() as connection:
            await set_own_password(connection, rotated)
        secrets.update(arn, {"username": url.username, "password": rotated})
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
        assert fetches == [arn, arn]
    finally:
        await engine.dispose()
        await restore_password(url, (rotated, original), original)
