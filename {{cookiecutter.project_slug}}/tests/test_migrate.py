"""The migration function (migrate.py): upgrades to head and reports the revision before and after, a second call
changes nothing, a failing revision fails the invocation; the API function never loads Alembic, the migration code
or the secrets client, and leaves logging to the Lambda runtime."""

import json
import logging
import shutil
import subprocess  # nosec B404 - runs this project's own Python
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

import migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def empty_database(tmp_path: Path, reconfigure: pytest.MonkeyPatch) -> Path:
    """The app's settings pointing at a new, empty SQLite file."""
    database = tmp_path / "empty.db"
    reconfigure.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    return database


def head() -> str | None:
    """The latest revision in migrations/versions (None when there is none yet)."""
    return ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def test_upgrades_an_empty_database_to_head_then_changes_nothing(empty_database: Path) -> None:
    root_handlers = list(logging.getLogger().handlers)
    assert migrate.handler({}, None) == {"revision_before": None, "revision_after": head()}
    assert migrate.handler({}, None) == {"revision_before": head(), "revision_after": head()}
    # No alembic.ini logging section applied: the Lambda runtime's handler stays the only one.
    assert logging.getLogger().handlers == root_handlers


def test_a_failing_revision_fails_the_invocation(
    empty_database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(PROJECT_ROOT / "migrations", migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "9999_broken.py").write_text(
        f'revision = "9999"\ndown_revision = {head()!r}\nbranch_labels = None\ndepends_on = None\n\n\n'
        'def upgrade() -> None:\n    raise RuntimeError("broken revision")\n\n\n'
        "def downgrade() -> None:\n    pass\n"
    )
    monkeypatch.setattr(migrate, "MIGRATIONS", migrations)
    with pytest.raises(RuntimeError, match="broken revision"):
        migrate.handler({}, None)


def test_the_api_function_loads_no_migration_code_and_configures_no_logging() -> None:
    probe = (
        "import json, logging, sys; import main; "
        "print(json.dumps({'modules': sorted(sys.modules), 'handlers': len(logging.getLogger().handlers)}))"
    )
    environment = {"ENVIRONMENT": "test", "DATABASE_URL": "sqlite+aiosqlite:///unused.db", "PATH": ""}
    output = subprocess.run(  # nosec B603 - this interpreter, a fixed script
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(output)
    modules = set(loaded["modules"])
    assert not {name for name in modules if name.split(".")[0] in ("alembic", "mako", "migrate", "migrations")}
    assert "app.database.secrets" not in modules
    # Lambda's runtime installs its own handler (JSON lines with the request id); the app adds none.
    assert loaded["handlers"] == 0
