"""The default bake's own tools, run for real: its test suite on SQLite and on MariaDB, Alembic on MariaDB, and the
linters it configures."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import LINT_COMMANDS, project_env, run

pytestmark = pytest.mark.slow


def passed_count(output: str) -> int:
    """The number of passed tests in a pytest summary line."""
    match = re.search(r"(\d+) passed", output)
    assert match, output
    return int(match.group(1))


PYTEST = ["uv", "run", "--frozen", "pytest", "-p", "no:cacheprovider"]


def test_generated_suite_passes_on_sqlite(default_project: Path, summary: list[str]) -> None:
    output = run(PYTEST, default_project, project_env())
    summary.append(f"generated suite on SQLite: {output.strip().splitlines()[-1].strip('= ')}")
    assert "database: sqlite+aiosqlite" in output
    assert "failed" not in output and "skipped" not in output
    assert passed_count(output) >= 25


@pytest.mark.mariadb
@pytest.mark.xdist_group("mariadb")
def test_generated_suite_passes_on_mariadb(default_project: Path, mariadb_url: str, summary: list[str]) -> None:
    env = project_env(TEST_DATABASE_URL=mariadb_url, TEST_REQUIRE_DATABASE_URL="1")
    output = run(PYTEST, default_project, env)
    summary.append(f"generated suite on MariaDB: {output.strip().splitlines()[-1].strip('= ')}")
    assert "database: mysql+aiomysql://app:***@127.0.0.1" in output
    assert "failed" not in output and "skipped" not in output
    assert passed_count(output) >= 25


def test_generated_suite_refuses_to_fall_back_when_a_database_is_required(default_project: Path) -> None:
    env = project_env(TEST_REQUIRE_DATABASE_URL="1")
    env.pop("TEST_DATABASE_URL", None)
    result = subprocess.run(PYTEST, cwd=default_project, env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "TEST_DATABASE_URL is empty" in result.stdout + result.stderr


@pytest.mark.mariadb
@pytest.mark.xdist_group("mariadb")
def test_alembic_upgrade_check_downgrade_on_mariadb(
    default_project: Path, mariadb_url: str, summary: list[str]
) -> None:
    env = project_env(DATABASE_URL=mariadb_url, ENVIRONMENT="dev")
    alembic = ["uv", "run", "--frozen", "alembic"]
    run([*alembic, "upgrade", "head"], default_project, env)
    assert "0001 (head)" in run([*alembic, "current"], default_project, env)
    run([*alembic, "check"], default_project, env)
    run([*alembic, "downgrade", "base"], default_project, env)
    assert "(head)" not in run([*alembic, "current"], default_project, env)
    summary.append("alembic upgrade head / check / downgrade base on MariaDB: ok")


BANDIT = ["bandit", "-q", "-c", "pyproject.toml", "-r", ".", "--severity-level", "medium"]


@pytest.mark.parametrize(
    "command",
    [*LINT_COMMANDS["black_isort_flake8"], BANDIT],
    ids=["black", "isort", "flake8", "mypy-strict", "bandit"],
)
def test_generated_code_passes_its_linters(default_project: Path, command: list[str]) -> None:
    run(["uv", "run", "--frozen", *command], default_project, project_env())


def test_readme_quick_start_commands_work(default_project: Path, tmp_path: Path) -> None:
    """`alembic upgrade head` on the embedded SQLite database, then the app serves /health, as the README says."""
    env = project_env(ENVIRONMENT="local", SQLITE_PATH=str(tmp_path / "local.db"))
    run(["uv", "run", "--frozen", "alembic", "upgrade", "head"], default_project, env)
    probe = (
        "from fastapi.testclient import TestClient; from main import app; "
        "client = TestClient(app); "
        "assert client.get('/health').json() == {'status': 'ok'}; "
        "assert client.post('/challenges', json={'title': 'readme'}).status_code == 201"
    )
    run(["uv", "run", "--frozen", "python", "-c", probe], default_project, env)
