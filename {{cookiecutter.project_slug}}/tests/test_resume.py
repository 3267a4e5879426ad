"""A database that does not answer for a while, as an Aurora Serverless v2 cluster resuming from a pause may look: API
requests answer 503 with Retry-After instead of waiting, a pooled connection whose server stops answering is replaced
within DB_CONNECT_TIMEOUT, the readiness probe and the migration function wait for it within their bounds, and give
up with a clear error when it does not come back (app/database/availability.py).

Hosts on loopback stand in for the cluster (tests/hanging_host.py): one that accepts connections and never answers,
and one that leaves its first connections unanswered and then relays to the test's MySQL server. The outer
asyncio.timeout and thread timeouts are far above every bound under test: they only turn a wait that never ends into
a failure instead of a stuck run.
"""

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import URL, make_url

import migrate
from app.common.settings import get_settings
from app.database.availability import DatabaseStillUnavailableError
from app.database.config import get_engine
from tests.database_routes import app_with_database_routes
from tests.hanging_host import HangingHost, ResumingHost

# Far above every wait these tests configure (a few seconds): reached only when a wait is not bounded.
NEVER = 60
# Attempts the resuming host leaves unanswered before it serves.
HELD_ATTEMPTS = 2


@dataclass(frozen=True)
class LambdaContext:
    """The one method of Lambda's context object that migrate.py reads."""

    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def mysql_url(mysql_checks_required: bool) -> URL:
    """The test MySQL server's URL; otherwise a skip, or a failure where MySQL is required (CI)."""
    url = make_url(os.environ["DATABASE_URL"])
    if url.get_backend_name() != "mysql":
        message = "needs a MySQL server (TEST_DATABASE_URL)"
        if mysql_checks_required:
            pytest.fail(f"{message}, but TEST_DATABASE_URL is not a MySQL URL", pytrace=False)
        pytest.skip(message)
    return url


@pytest.fixture
def resuming_host(mysql_url: URL) -> Iterator[ResumingHost]:
    """A host that leaves HELD_ATTEMPTS connections unanswered, then relays to the test's MySQL server."""
    host = ResumingHost((mysql_url.host or "127.0.0.1", mysql_url.port or 3306), hold=HELD_ATTEMPTS)
    yield host
    host.close()


def through(host: HangingHost, url: URL | None = None) -> str:
    """A database URL whose connections go to the stand-in host (with url's login and database, if given)."""
    base = url if url is not None else make_url("mysql+aiomysql://app:pw@127.0.0.1/app")
    return base.set(host="127.0.0.1", port=host.port).render_as_string(hide_password=False)


@asynccontextmanager
async def clients() -> AsyncIterator[tuple[AsyncClient, AsyncClient]]:
    """Clients of main's app (GET /health/ready) and of routes that need the database (GET /reads), with the settings
    the test set; the engine they share is disposed of afterwards."""
    from main import app  # after the test's settings: a first import reads them

    transports = ASGITransport(app=app), ASGITransport(app=app_with_database_routes())
    try:
        async with (
            AsyncClient(transport=transports[0], base_url="http://testserver") as probe,
            AsyncClient(transport=transports[1], base_url="http://testserver") as api,
        ):
            yield probe, api
    finally:
        await get_engine().dispose()


@pytest.mark.anyio
async def test_a_request_answers_503_with_retry_after_while_the_server_holds_the_connection(
    hanging_host: HangingHost, reconfigure: pytest.MonkeyPatch
) -> None:
    reconfigure.setenv("DATABASE_URL", through(hanging_host))
    reconfigure.setenv("DB_CONNECT_TIMEOUT", "1")
    async with asyncio.timeout(NEVER), clients() as (_, api):
        response = await api.get("/reads")
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(get_settings().db_retry_after) == "10"
    assert response.json()["error"]["code"] == "database_unavailable"


@pytest.mark.anyio
async def test_a_pooled_connection_whose_server_stops_answering_gives_a_503_not_a_hang(
    resuming_host: ResumingHost, mysql_url: URL, reconfigure: pytest.MonkeyPatch
) -> None:
    reconfigure.setenv("DATABASE_URL", through(resuming_host, mysql_url))
    reconfigure.setenv("DB_CONNECT_TIMEOUT", "1")
    # A pooled connection is pinged on every checkout, as one left idle for DB_PING_AFTER_IDLE is.
    reconfigure.setenv("DB_PING_AFTER_IDLE", "0")
    async with asyncio.timeout(NEVER), clients() as (probe, api):
        # The probe waits through the unanswered attempts; the read then gets the pooled connection.
        assert (await probe.get("/health/ready")).status_code == 200
        assert (await api.get("/reads")).status_code == 200
        resuming_host.stall()
        response = await api.get("/reads")
    assert response.status_code == 503
    assert "retry-after" in response.headers


@pytest.mark.anyio
async def test_readiness_waits_for_a_database_that_answers_after_a_while(
    resuming_host: ResumingHost,
    mysql_url: URL,
    reconfigure: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reconfigure.setenv("DATABASE_URL", through(resuming_host, mysql_url))
    reconfigure.setenv("DB_CONNECT_TIMEOUT", "1")
    with caplog.at_level(logging.WARNING, logger="app.database.availability"):
        async with asyncio.timeout(NEVER), clients() as (probe, _):
            response = await probe.get("/health/ready")
    assert response.status_code == 200
    assert resuming_host.held == HELD_ATTEMPTS
    assert caplog.text.count("Database not answering") == HELD_ATTEMPTS


@pytest.mark.anyio
async def test_readiness_gives_up_after_its_wait_with_retry_after(
    hanging_host: HangingHost, reconfigure: pytest.MonkeyPatch
) -> None:
    reconfigure.setenv("DATABASE_URL", through(hanging_host))
    reconfigure.setenv("DB_CONNECT_TIMEOUT", "1")
    reconfigure.setenv("DB_READY_WAIT", "2.5")
    async with asyncio.timeout(NEVER), clients() as (probe, _):
        response = await probe.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "10"
    # It tried more than once before giving up, and left no connection open.
    assert hanging_host.held >= 2
    assert await asyncio.to_thread(hanging_host.clients_hung_up, within=2)


def invoke_migration(event: dict[str, object], context: object) -> dict[str, str | None]:
    """migrate.handler in a thread of its own (it runs its own event loop), given up on after NEVER seconds."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(migrate.handler, event, context).result(timeout=NEVER)


def test_the_migration_waits_for_a_database_that_answers_after_a_while(
    resuming_host: ResumingHost, mysql_url: URL, reconfigure: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reconfigure.setenv("DATABASE_URL", through(resuming_host, mysql_url))
    reconfigure.setenv("DB_CONNECT_TIMEOUT", "1")
    # read_only: the same wait as an upgrade, without changing the test database's schema.
    with caplog.at_level(logging.INFO):
        result = invoke_migration({"read_only": True}, LambdaContext(remaining_ms=300_000))
    assert result["revision_before"] == result["revision_after"]
    assert resuming_host.held == HELD_ATTEMPTS
    assert caplog.text.count("Database not answering") == HELD_ATTEMPTS
    assert f"Database answered after {HELD_ATTEMPTS + 1} attempts" in caplog.text


@pytest.mark.parametrize(
    ("setting", "context", "wait"),
    [
        ("2.5", None, "2.5"),
        # A setting far beyond the test's patience: the invocation's remaining time is what ends the wait.
        ("600", LambdaContext(remaining_ms=(migrate.MIGRATION_RESERVE + 3) * 1000), "3"),
    ],
)
def test_the_migration_gives_up_with_a_clear_error_when_its_wait_ends(
    hanging_host: HangingHost,
    reconfigure: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    setting: str,
    context: LambdaContext | None,
    wait: str,
) -> None:
    reconfigure.setenv("DATABASE_URL", through(hanging_host))
    reconfigure.setenv("DB_CONNECT_TIMEOUT", "1")
    reconfigure.setenv("DB_MIGRATION_WAIT", setting)
    with caplog.at_level(logging.WARNING), pytest.raises(DatabaseStillUnavailableError) as raised:
        invoke_migration({}, context)
    message = str(raised.value)
    assert f"did not answer within {wait} s" in message and "migration" in message
    assert "Database not answering" in caplog.text
    # Nothing was migrated: the upgrade never started.
    assert "upgrading" not in caplog.text
