"""Every model module, imported so Base.metadata is complete (Alembic autogenerate and `alembic check`)."""

from app.database.base import Base
from app.module.challenge.models import Challenge

__all__ = ["Base", "Challenge"]
