"""Alembic environment: the same settings as the app, the async driver, and no connection pool."""

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from app.common.settings import get_settings
from app.database.base import Base
from app.database.config import create_single_use_engine, database_url
from app.registry import import_models

config = context.config
# The alembic command line configures logging from alembic.ini; migrate.py (the migration function) builds its Config
# without a file and leaves logging to the Lambda runtime.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Every module listed in app/registry.py, so autogenerate and `alembic check` see all tables.
import_models()
target_metadata = Base.metadata


def render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write the app's own column types (TypeDecorators such as UTCDateTime) into new migrations as the SQL type they
    store, e.g. sa.DateTime(): a migration must not import app code, which keeps changing after it is written.
    False leaves everything else to Alembic."""
    if kind == "type" and isinstance(item, TypeDecorator) and type(item.impl).__module__.startswith("sqlalchemy.sql"):
        return f"sa.{item.impl!r}"
    return False


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (alembic upgrade --sql)."""
    context.configure(
        url=database_url(get_settings()),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        compare_type=True,
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """Run the migrations on one synchronous connection facade."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # Batch mode lets ALTER-style migrations work on SQLite (the embedded local database) as well as MySQL.
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    """Connect with the async driver, as the app does (TLS, timeouts, DB_SECRET_ARN), and run the migrations in a
    sync facade."""
    engine = create_single_use_engine(get_settings())
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
