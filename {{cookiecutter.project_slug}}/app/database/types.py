"""Column types shared by every module."""

from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, stored in UTC to the second and read back timezone-aware (tzinfo=UTC).

    DateTime(timezone=True) is no answer here: MySQL's DATETIME and SQLite keep no offset, so the drivers would hand
    back naive values that clients cannot place in time. Values are cut to whole seconds because MySQL's DATETIME
    keeps no more (it would round instead), so both databases give back the same time.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"UTCDateTime needs a timezone-aware datetime (e.g. datetime.now(UTC)), got {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None, microsecond=0)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utc_now() -> datetime:
    """The current time in UTC, to the second (what UTCDateTime stores); the default of created_at columns.

    Set by the app rather than the database's NOW(), which MySQL evaluates in the session's time zone.
    """
    return datetime.now(UTC).replace(microsecond=0)
