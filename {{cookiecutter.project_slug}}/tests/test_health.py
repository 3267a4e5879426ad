"""Liveness never needs the database; readiness reports it, answers 503 quickly when it is down, and recovers."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient

from app.common.settings import get_settings
from tests.hanging_host import HangingHost

pytestmark = pytest.mark.anyio


@pytest.fixture
async def plain_client() -> AsyncIterator[AsyncClient]:
    """A client whose requests use the app's own pool (no test transaction holding the only connection)."""
    from main import app

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as http_client:
        yield http_client
    from app.database.config import get_engine

    await get_engine().dispose()


async def test_liveness_answers_ok(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_wrong_method_is_a_405_that_names_the_allowed_methods(client: AsyncClient) -> None:
    response = await client.put("/health")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["error"]["code"] == "http_error"


async def test_readiness_answers_ok_when_the_database_is_up(plain_client: AsyncClient) -> None:
    response = await plain_client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_readiness_without_a_wait_answers_503_within_the_connect_timeout(
    hanging_host: HangingHost, reconfigure: pytest.MonkeyPatch
) -> None:
    reconfigure.setenv("DATABASE_URL", f"mysql+aiomysql://app:pw@127.0.0.1:{hanging_host.port}/app")
    reconfigure.setenv("DB_CONNECT_TIMEOUT", "1")
    # One attempt only (tests/test_resume.py covers the wait for a database that resumes).
    reconfigure.setenv("DB_READY_WAIT", "0")
    from main import app

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client:
        started = time.monotonic()
        response = await client.get("/health/ready")
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "database_unavailable"
        assert elapsed < get_settings().db_connect_timeout + 1
        # The rest of the app keeps serving while the database is down.
        assert (await client.get("/health")).status_code == 200
    from app.database.config import get_engine

    await get_engine().dispose()
    assert await asyncio.to_thread(hanging_host.clients_hung_up, within=2)


async def test_readiness_recovers_when_the_database_returns(tmp_path: Path, reconfigure: pytest.MonkeyPatch) -> None:
    missing_folder = tmp_path / "not-yet"
    reconfigure.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{missing_folder}/app.db")
    from main import app

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client:
        assert (await client.get("/health/ready")).status_code == 503
        missing_folder.mkdir()
        assert (await client.get("/health/ready")).status_code == 200
    from app.database.config import get_engine

    await get_engine().dispose()
