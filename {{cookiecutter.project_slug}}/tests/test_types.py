"""UTCDateTime stores a time in UTC, to the second, and gives it back timezone-aware, on SQLite and MySQL alike."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from app.database.types import UTCDateTime, utc_now

pytestmark = pytest.mark.anyio

# Temporary: it lives in the test's connection only, and on MySQL creating it commits nothing.
probe = Table(
    "utc_probe", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime), prefixes=["TEMPORARY"]
)
SEOUL = timezone(timedelta(hours=9))


@pytest.fixture
async def probe_session(db_session: AsyncSession) -> AsyncSession:
    """The test session, with the probe table created in its connection."""
    await db_session.run_sync(lambda session: probe.create(session.connection()))
    return db_session


async def test_a_time_comes_back_in_utc_with_its_offset(probe_session: AsyncSession) -> None:
    await probe_session.execute(probe.insert().values(id=1, at=datetime(2026, 11, 29, 6, 30, 15, 999999, SEOUL)))
    stored = (await probe_session.execute(select(probe.c.at))).scalar_one()
    assert stored == datetime(2026, 11, 28, 21, 30, 15, tzinfo=UTC)
    assert stored.tzinfo is UTC


async def test_a_time_without_an_offset_is_refused(probe_session: AsyncSession) -> None:
    with pytest.raises(StatementError, match="timezone-aware"):
        await probe_session.execute(probe.insert().values(id=1, at=datetime(2026, 11, 28, 21, 30, 15)))


def test_utc_now_is_aware_and_whole_seconds() -> None:
    now = utc_now()
    assert now.tzinfo is UTC and now.microsecond == 0
    assert abs(datetime.now(UTC) - now) < timedelta(seconds=2)
