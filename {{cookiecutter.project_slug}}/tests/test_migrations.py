"""Migrations go down to empty and back up, and match the models exactly (no autogenerate drift)."""

import asyncio

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, inspect

from app.common.settings import get_settings
from app.database.config import create_engine


def table_names() -> set[str]:
    """Tables in the test database, read with a short-lived engine."""

    async def read() -> set[str]:
        engine = create_engine(get_settings())
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        await engine.dispose()
        return names

    return asyncio.run(read())


def test_downgrade_to_base_and_upgrade_to_head(
    migrated_database: None, alembic_config: Config, model_metadata: MetaData
) -> None:
    model_tables = set(model_metadata.tables)
    command.downgrade(alembic_config, "base")
    assert table_names().isdisjoint(model_tables)
    command.upgrade(alembic_config, "head")
    assert model_tables <= table_names()


def test_models_and_migrations_do_not_drift(migrated_database: None, alembic_config: Config) -> None:
    command.check(alembic_config)
