"""The migration function: `alembic upgrade heads` inside the deployed package, with the API's settings and secret.

It runs where the API runs (the same network, subnets and security groups), so the database never has to be
reachable from CI. Deploys invoke it after the code is in place (`make -C infra migrate-<stage>`). It answers
{"revision_before": ..., "revision_after": ...} (None for an empty database); a failure raises, so the invocation
fails with the error in its result: the error's kind and the database's error code only, since its message can
quote row values and the result ends up in CI logs (the function's own log has the whole error). The event
{"read_only": true} only reports the revision (before and after alike): scripts/release.sh asks it before rolling
code back, to refuse putting old code on a schema migrated past it. With DB_APP_USER set, it first makes sure the API's
database user exists with data rights only (app/database/app_user.py). The API function never imports this module or
Alembic.

Before anything else it waits for the database to answer (a cluster resuming from a pause, a restart): for up to
DB_MIGRATION_WAIT seconds, and on Lambda never past the invocation's remaining time less MIGRATION_RESERVE, logging
each failed attempt (app/database/availability.py). Only failures to connect are tried again; once connected, a
failed migration fails the invocation at once and is never run twice.
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
from app.database.app_user import ensure_app_user
from app.database.availability import wait_for_database
from app.database.config import create_single_use_engine

logger = logging.getLogger(__name__)
# Beside this file in the project and in the package alike.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_FOLDERS = ("versions", "template_versions")
# Seconds of the invocation kept for the migration itself after waiting for the database (infra/serverless.yml gives
# the function 300 s).
MIGRATION_RESERVE = 60


class MigrationFailed(Exception):
    """An upgrade that failed, described without the error's message (the function's log has it)."""


def error_kind(error: BaseException) -> str:
    """The error's class and, for a database error, the driver's error code: e.g. "IntegrityError (1062)"."""
    original = getattr(error, "orig", None) or error
    code = original.args[0] if original.args and isinstance(original.args[0], int) else None
    return type(original).__name__ if code is None else f"{type(original).__name__} ({code})"


def alembic_config() -> Config:
    """Alembic's configuration built in code: no alembic.ini, whose logging section would replace the handlers the
    Lambda runtime installs (they add the request id to each line)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # The two folders of alembic.ini: the team's revisions and the template's.
    config.set_main_option("path_separator", "newline")
    config.set_main_option("version_locations", "\n".join(str(MIGRATIONS / name) for name in VERSION_FOLDERS))
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


def provision_app_user() -> None:
    """With DB_APP_USER set (stages whose API logs in with IAM tokens): make sure the API's user exists with data
    rights only, before Alembic runs, and log what was found (no secret is involved in what is logged)."""
    settings = get_settings()
    user = settings.db_app_user
    if user is None:
        return

    async def provision() -> str:
        engine = create_single_use_engine(settings)
        try:
            async with engine.connect() as connection:
                outcome = await ensure_app_user(connection, user)
                await connection.commit()
                return outcome
        finally:
            await engine.dispose()

    logger.info("Database user %s for the API (IAM login, data rights only): %s", user, asyncio.run(provision()))


def database_wait(context: Any) -> float:
    """Seconds to wait for the database: DB_MIGRATION_WAIT, and on Lambda no longer than the invocation's remaining
    time leaves for the migration (none left: a single attempt)."""
    wait = get_settings().db_migration_wait
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return wait
    remaining: float = remaining_ms() / 1000
    return max(min(wait, remaining - MIGRATION_RESERVE), 0)


def wait_for_the_database(context: Any) -> None:
    """Wait for the database to answer (DatabaseStillUnavailableError, saying how long, when it does not)."""
    settings = get_settings()

    async def wait() -> int:
        engine = create_single_use_engine(settings)
        try:
            return await wait_for_database(
                engine, database_wait(context), settings.db_connect_timeout, purpose="migration"
            )
        finally:
            await engine.dispose()

    attempts = asyncio.run(wait())
    if attempts > 1:
        logger.info("Database answered after %d attempts", attempts)


def handler(event: Any, context: Any) -> dict[str, str | None]:
    """Lambda entry point: upgrade the database to the latest revision, or with {"read_only": true} only report it."""
    wait_for_the_database(context)
    before = current_revision()
    if isinstance(event, dict) and event.get("read_only") is True:
        logger.info("Database at revision %s (read only: not upgrading)", before)
        return {"revision_before": before, "revision_after": before}
    provision_app_user()
    logger.info("Database at revision %s: upgrading to every head", before)
    try:
        command.upgrade(alembic_config(), "heads")
    except Exception as error:
        logger.exception("Upgrade from revision %s failed", before)
        message = f"Upgrade from revision {before} failed: {error_kind(error)}; the function's log has the details"
        raise MigrationFailed(message) from None
    after = current_revision()
    logger.info("Database at revision %s", after)
    return {"revision_before": before, "revision_after": after}
