"""Migrations go down to empty and back up, and match the models exactly (no autogenerate drift); the template's
revisions and the team's live in folders of their own, and a new revision joins both lines."""

import asyncio
import shutil
from pathlib import Path

import alembic.config
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData, inspect

from app.common.settings import get_settings
from app.database.config import create_engine

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
    command.upgrade(alembic_config, "heads")
    assert model_tables <= table_names()


def test_models_and_migrations_do_not_drift(migrated_database: None, alembic_config: Config) -> None:
    command.check(alembic_config)


def empty_revision(revision: str, down_revision: str | None) -> str:
    """The text of a revision file that changes nothing."""
    return (
        f"revision = {revision!r}\ndown_revision = {down_revision!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n"
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """alembic.ini and migrations/ copied, so revisions can be added without touching the project."""
    shutil.copy2(PROJECT_ROOT / "alembic.ini", tmp_path / "alembic.ini")
    shutil.copytree(PROJECT_ROOT / "migrations", tmp_path / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_after_an_update_brings_a_template_revision_the_next_one_joins_both_heads_in_the_team_folder(
    project_copy: Path,
) -> None:
    """The template's revision and the team's both follow the same parent after such an update; `alembic revision`
    as typed (no --head) must not stop on "Multiple heads", and must not write into the template's folder."""
    config = Config(str(project_copy / "alembic.ini"))
    parent = ScriptDirectory.from_config(config).get_current_head()
    (project_copy / "migrations" / "template_versions" / "t1_from_template.py").write_text(empty_revision("t1", parent))
    (project_copy / "migrations" / "versions" / "t2_of_the_team.py").write_text(empty_revision("t2", parent))
    assert set(ScriptDirectory.from_config(config).get_heads()) == {"t1", "t2"}

    alembic.config.main(argv=["-c", str(project_copy / "alembic.ini"), "revision", "-m", "joins both"])

    written = list((project_copy / "migrations").glob("*/*joins_both.py"))
    assert [path.parent.name for path in written] == ["versions"]
    new_head = ScriptDirectory.from_config(config).get_revisions("head")[0]
    assert new_head is not None and new_head.down_revision in {("t1", "t2"), ("t2", "t1")}


def test_a_template_revision_also_in_the_team_folder_stops_with_what_to_remove(project_copy: Path) -> None:
    """Projects baked while the template wrote its revisions to migrations/versions keep those copies and receive
    them again in template_versions."""
    name = "t1_from_template.py"
    (project_copy / "migrations" / "template_versions" / name).write_text(empty_revision("t1", None))
    shutil.copy2(project_copy / "migrations" / "template_versions" / name, project_copy / "migrations" / "versions")
    with pytest.raises(CommandError, match=f"git rm migrations/versions/{name}"):
        command.upgrade(Config(str(project_copy / "alembic.ini")), "heads")
