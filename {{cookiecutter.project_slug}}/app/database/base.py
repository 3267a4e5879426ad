"""The declarative base every model inherits."""

from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app.database.constant import MYSQL_CHARSET, NAMING_CONVENTION


class Base(DeclarativeBase):
    """Base class for ORM models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every table stores full Unicode on MySQL; a model that sets its own __table_args__ should keep this entry.
    __table_args__: Any = {"mysql_charset": MYSQL_CHARSET}
