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


def heads() -> tuple[str, ...]:
    """The latest revisions: one, or two after a template update that brought a migration of its own."""
    return tuple(sorted(ScriptDirectory.from_config(migrate.alembic_config()).get_heads()))


def head() -> str | None:
    """The revision migrate.py answers for a database at every head (None when there is no revision yet)."""
    return ",".join(heads()) or None


def test_upgrades_an_empty_database_to_head_then_changes_nothing(empty_database: Path) -> None:
    root_handlers = list(logging.getLogger().handlers)
    assert migrate.handler({}, None) == {"revision_before": None, "revision_after": head()}
    assert migrate.handler({}, None) == {"revision_before": head(), "revision_after": head()}
    # No alembic.ini logging section applied: the Lambda runtime's handler stays the only one.
    assert logging.getLogger().handlers == root_handlers


def test_a_read_only_invocation_reports_the_revision_and_migrates_nothing(empty_database: Path) -> None:
    """What scripts/release.sh asks before a rollback: the database's revision, left as it is."""
    assert migrate.handler({"read_only": True}, None) == {"revision_before": None, "revision_after": None}
    assert migrate.current_revision() is None
    migrate.handler({}, None)
    assert migrate.handler({"read_only": True}, None) == {"revision_before": head(), "revision_after": head()}


def add_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upgrade: str) -> None:
    """A copy of migrations/ with one more revision whose upgrade() body is the given code, used by migrate.py."""
    migrations = tmp_path / "migrations"
    shutil.copytree(PROJECT_ROOT / "migrations", migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "9999_broken.py").write_text(
        f'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "9999"\ndown_revision = {heads() or None!r}\n'
        f"branch_labels = None\ndepends_on = None\n\n\ndef upgrade() -> None:\n    {upgrade}\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )
    monkeypatch.setattr(migrate, "MIGRATIONS", migrations)


def test_a_failing_revision_fails_the_invocation(
    empty_database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_revision(tmp_path, monkeypatch, 'raise RuntimeError("broken revision")')
    with pytest.raises(migrate.MigrationFailed, match=r"from revision None failed: RuntimeError"):
        migrate.handler({}, None)


def test_the_invocation_result_names_no_row_value_but_the_function_log_has_the_error(
    empty_database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The result is what `make migrate-<stage>` prints into CI logs; a database's message can quote row values."""
    row_value = "row-value-8e0c"
    statement = f'op.get_bind().execute(sa.text("SELECT :value FROM missing_table"), dict(value="{row_value}"))'
    add_revision(tmp_path, monkeypatch, statement)
    with caplog.at_level(logging.ERROR, logger="migrate"), pytest.raises(migrate.MigrationFailed) as failure:
        migrate.handler({}, None)
    assert row_value not in str(failure.value) and "OperationalError" in str(failure.value)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert "missing_table" in caplog.text


# MySQL as deployed, behind a secret or with the IAM login (importing main connects to nothing and fetches nothing).
DEPLOYED_LOGINS = {
    "secret": {"DB_SECRET_ARN": "test/never-fetched"},
    "IAM token": {"DB_IAM_AUTH": "true", "AWS_REGION": "ap-northeast-2", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"},
}


@pytest.mark.parametrize("login", DEPLOYED_LOGINS.values(), ids=DEPLOYED_LOGINS.keys())
def test_the_api_function_loads_no_migration_code_nor_aws_client_and_configures_no_logging(
    login: dict[str, str],
) -> None:
    probe = (
        "import json, logging, sys; import main; "
        "print(json.dumps({'modules': sorted(sys.modules), 'handlers': len(logging.getLogger().handlers)}))"
    )
    environment = {"ENVIRONMENT": "test", "DB_HOST": "db.invalid", "PATH": "", **login}
    output = subprocess.run(  # nosec B603 - this interpreter, a fixed script
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(output)
    modules = set(loaded["modules"])
    assert not {name for name in modules if name.split(".")[0] in ("alembic", "mako", "migrate", "migrations")}
    # Nor the secret's login or the IAM login, nor the AWS code behind them: the first connection loads them.
    logins = ("app.aws", "app.database.secret_login", "app.database.iam_login")
    assert [name for name in modules if name.startswith(logins)] == []
    # Lambda's runtime installs its own handler (JSON lines with the request id); the app adds none.
    assert loaded["handlers"] == 0
