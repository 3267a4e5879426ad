"""Alembic environment: the same settings as the app, the async driver, and no connection pool."""

import asyncio
from collections.abc import Iterable
from logging.config import fileConfig
from pathlib import Path
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from app.common import messages
from app.common.settings import get_settings
from app.database.base import Base
from app.database.config import create_single_use_engine, database_url
from app.registry import import_models

config = context.config
# The team's revisions; the template's are in template_versions (alembic.ini says why there are two folders).
TEAM_VERSIONS = Path(__file__).resolve().parent / "versions"
TEMPLATE_VERSIONS = TEAM_VERSIONS.with_name("template_versions")
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


def refuse_template_revisions_kept_twice(team: Path = TEAM_VERSIONS, template: Path = TEMPLATE_VERSIONS) -> None:
    """Stop with what to do when a template revision is in both folders: projects baked while the template's revisions
    were written to migrations/versions keep those copies (updates never touch that folder) and receive the same
    revisions again in template_versions, which Alembic would read twice."""
    if not team.is_dir() or not template.is_dir():
        return
    copies = sorted(path.name for path in template.glob("*.py") if (team / path.name).is_file())
    if copies:
        paths = " ".join(f"migrations/versions/{name}" for name in copies)
        raise CommandError(messages.TEMPLATE_REVISIONS_KEPT_TWICE.format(names=", ".join(copies), paths=paths))


def place_new_revisions(_context: MigrationContext, _revision: Any, directives: Iterable[MigrationScript]) -> None:
    """`alembic revision` writes to the team's folder, on top of every head: a template update that brought a
    migration of its own leaves two heads (the template's and the team's), and the team's next revision joins them.
    An explicit --head or --version-path is kept."""
    for script in directives:
        if script.head in (None, "head"):
            script.head = "heads"
        if script.version_path is None:
            script.version_path = str(TEAM_VERSIONS)


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
        process_revision_directives=place_new_revisions,
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
        process_revision_directives=place_new_revisions,
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


refuse_template_revisions_kept_twice()
if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
