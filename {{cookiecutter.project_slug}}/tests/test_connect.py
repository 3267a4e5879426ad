"""A database host that accepts the connection and then never answers: the connect gives up within
DB_CONNECT_TIMEOUT with a clear error, and no socket is left open, whether it times out or its caller gives up."""

import asyncio

import pytest
from sqlalchemy.exc import OperationalError

from app.database.config import get_engine
from tests.hanging_host import HangingHost

pytestmark = pytest.mark.anyio


async def connect_to(
    host: HangingHost, reconfigure: pytest.MonkeyPatch, connect_timeout: int, give_up_after: float
) -> None:
    """Open one connection to the host through the app's engine, the caller giving up after give_up_after seconds."""
    reconfigure.setenv("DATABASE_URL", f"mysql+aiomysql://app:pw@127.0.0.1:{host.port}/app")
    reconfigure.setenv("DB_CONNECT_TIMEOUT", str(connect_timeout))
    engine = get_engine()
    try:
        async with asyncio.timeout(give_up_after):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()


async def test_connect_fails_within_the_connect_timeout_and_closes_its_socket(
    hanging_host: HangingHost, reconfigure: pytest.MonkeyPatch
) -> None:
    # The caller's limit only keeps a regression from hanging the suite: the connect's own deadline must come first.
    with pytest.raises(OperationalError, match=r"127\.0\.0\.1.*no answer within 1"):
        await connect_to(hanging_host, reconfigure, connect_timeout=1, give_up_after=10)
    assert await asyncio.to_thread(hanging_host.clients_hung_up, within=2)


async def test_a_connect_its_caller_gives_up_on_closes_its_socket(
    hanging_host: HangingHost, reconfigure: pytest.MonkeyPatch
) -> None:
    with pytest.raises(TimeoutError):
        await connect_to(hanging_host, reconfigure, connect_timeout=30, give_up_after=0.5)
    assert await asyncio.to_thread(hanging_host.clients_hung_up, within=2)
