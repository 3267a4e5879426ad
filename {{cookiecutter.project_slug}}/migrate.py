"""The migration function: `alembic upgrade head` inside the deployed package, with the API's settings and secret.

It runs where the API runs (the same network, subnets and security groups), so the database never has to be
reachable from CI. Deploys invoke it after the code is in place (`make -C infra migrate-<stage>`). It answers
{"revision_before": ..., "revision_after": ...} (None for an empty database); a failure raises, so the invocation
fails with the error in its result. The API function never imports this module or Alembic.
"""

import asyncio
import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from app.common.settings import get_settings
from app.database.config import create_single_use_engine

logger = logging.getLogger(__name__)
# Beside this file in the project and in the package alike.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """Alembic's configuration built in code: no alembic.ini, whose logging section would replace the handlers the
    Lambda runtime installs (they add the request id to each line)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def current_revision() -> str | None:
    """The database's revision now (several heads joined by commas; None before the first migration)."""

    def read(connection: Connection) -> str | None:
        heads = MigrationContext.configure(connection).get_current_heads()
        return ",".join(sorted(heads)) or None

    async def connect() -> str | None:
        engine = create_single_use_engine(get_settings())
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()

    return asyncio.run(connect())


def handler(event: Any, context: Any) -> dict[str, str | None]:
    """Lambda entry point: upgrade the database to the latest revision; the event is not read."""
    before = current_revision()
    logger.info("Database at revision %s: upgrading to head", before)
    command.upgrade(alembic_config(), "head")
    after = current_revision()
    logger.info("Database at revision %s", after)
    return {"revision_before": before, "revision_after": after}
