"""The declarative base every model inherits, with explicit constraint names so migrations stay stable."""

from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class for ORM models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every table stores full Unicode (emoji included) on MySQL whatever the server's default character set; the
    # collation is the character set's default (utf8mb4_0900_ai_ci on MySQL 8). A model that sets its own
    # __table_args__ should keep this entry.
    __table_args__: Any = {"mysql_charset": "utf8mb4"}
