"""Column types shared by every module."""

from datetime import UTC, datetime

{% if cookiecutter.api_auth == "jwt" -%}
from sqlalchemy import DateTime, Dialect, String
from sqlalchemy.dialects import mysql
{%- else -%}
from sqlalchemy import DateTime, Dialect
{%- endif %}
from sqlalchemy.types import TypeDecorator
{%- if cookiecutter.api_auth == "jwt" %}

# The binary collation of utf8mb4 on MySQL and MariaDB alike: it compares code points, so "ALICE", "Alicé" and
# "alice" differ. It still ignores trailing spaces ("alice " = "alice"): utf8mb4_bin is PAD SPACE on both, measured on
# MariaDB 10.11. MySQL 8.0.17+ (and Aurora MySQL 3, which is MySQL 8.0 compatible) has a NO PAD one, utf8mb4_0900_bin,
# that MariaDB lacks, and defaults to utf8mb4_0900_ai_ci, which is NO PAD but ignores case and accents (MySQL 8.0
# Reference Manual: "The binary Collation Compared to _bin Collations" and "Trailing Space Handling in Comparisons";
# Amazon Aurora User Guide: "Aurora MySQL version 3 compatible with MySQL 8.0"). So the one collation that works on
# every server is used, and values where trailing spaces would matter are refused before they reach a query
# (app/auth/identity.py refuses a token subject with surrounding whitespace).
BINARY_COLLATION = "utf8mb4_bin"
{%- endif %}


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
{%- if cookiecutter.api_auth == "jwt" %}


def exact_string(length: int) -> String:
    """A VARCHAR compared byte for byte on every database, for values that identify someone (owner_subject).

    The default collation of MySQL and MariaDB ignores case and accents, so a query for "ALICE" or "Alicé" would
    find alice's rows; BINARY_COLLATION does not. SQLite compares bytes already and knows no such collation, so the
    collation is a MySQL variant only (autogenerate writes it into new migrations as such).
    """
    return String(length).with_variant(mysql.VARCHAR(length, collation=BINARY_COLLATION), "mysql", "mariadb")
{%- endif %}
