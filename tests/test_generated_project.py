"""The default bake's own tools, run for real: its test suite on SQLite and on MariaDB, Alembic on MariaDB, and the
linters it configures."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import trustme

from tests.conftest import (
    GENERATED_PYTEST,
    LINT_COMMANDS,
    WITHOUT_SCAFFOLD,
    assert_generated_suite_passed,
    project_env,
    run,
)
from tests.generated_suite import assert_api_fuzzed, documented_operations

pytestmark = pytest.mark.slow


# The default bake, and the same with background jobs (BACKGROUND_JOBS): the answer adds code, tests and migrations.
SUITE_BAKES = ["default_project", "jobs_project"]


@pytest.mark.parametrize("bake", SUITE_BAKES)
def test_generated_suite_passes_on_sqlite(bake: str, request: pytest.FixtureRequest, summary: list[str]) -> None:
    default_project: Path = request.getfixturevalue(bake)
    output = run([*GENERATED_PYTEST, "--durations=0", "-rsp"], default_project, project_env())
    summary.append(f"generated suite ({bake}) on SQLite: {output.strip().splitlines()[-1].strip('= ')}")
    if bake == "jobs_project":
        assert re.search(r"^PASSED tests/test_jobs\.py::", output, re.MULTILINE)
    assert re.search(r"^[\d.]+s call .*test_make_module_adds_a_domain_that_passes_every_check$", output, re.MULTILINE)
    summary.append("generated suite: make module name=orders, then migration, linters, mypy and its tests: passed")
    assert_api_fuzzed(output, documented_operations("yes"))
    summary.append(f"generated suite on SQLite: schemathesis fuzzed {documented_operations('yes')} operations: passed")
    assert "database: sqlite+aiosqlite" in output
    assert assert_generated_suite_passed(output, on_mysql=False) >= 25


@pytest.mark.mariadb
@pytest.mark.xdist_group("mariadb")
@pytest.mark.parametrize("bake", SUITE_BAKES)
def test_generated_suite_passes_on_mariadb(
    bake: str, request: pytest.FixtureRequest, mariadb_url: str, mariadb_admin_url: str, summary: list[str]
) -> None:
    default_project: Path = request.getfixturevalue(bake)
    env = project_env(
        TEST_DATABASE_URL=mariadb_url, TEST_DATABASE_ADMIN_URL=mariadb_admin_url, TEST_REQUIRE_DATABASE_URL="1"
    )
    # The scaffold check migrates and tests its own SQLite copy: the SQLite run above covers it.
    output = run([*GENERATED_PYTEST, "-rsp", *WITHOUT_SCAFFOLD], default_project, env)
    summary.append(f"generated suite ({bake}) on MariaDB: {output.strip().splitlines()[-1].strip('= ')}")
    if bake == "jobs_project":
        assert re.search(r"^PASSED tests/test_jobs\.py::", output, re.MULTILINE)
    assert "database: mysql+aiomysql://app:***@127.0.0.1" in output
    assert_api_fuzzed(output, documented_operations("yes"))
    summary.append(f"generated suite on MariaDB: schemathesis fuzzed {documented_operations('yes')} operations: passed")
    # No skips: the server refuses unencrypted TCP, so this also proves the app's connections use TLS.
    assert assert_generated_suite_passed(output, on_mysql=True) >= 25


def test_generated_suite_refuses_to_fall_back_when_a_database_is_required(default_project: Path) -> None:
    env = project_env(TEST_REQUIRE_DATABASE_URL="1")
    env.pop("TEST_DATABASE_URL", None)
    result = subprocess.run(GENERATED_PYTEST, cwd=default_project, env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "TEST_DATABASE_URL is empty" in result.stdout + result.stderr


@pytest.mark.mariadb
@pytest.mark.xdist_group("mariadb")
def test_alembic_upgrade_check_downgrade_on_mariadb(
    default_project: Path, mariadb_url: str, mariadb_ca: Path, summary: list[str]
) -> None:
    # A deployed stage's settings: the server's certificate is verified, as dev and prod require.
    env = project_env(DATABASE_URL=mariadb_url, ENVIRONMENT="dev", DB_SSL_CA=str(mariadb_ca))
    alembic = ["uv", "run", "--frozen", "alembic"]
    run([*alembic, "upgrade", "heads"], default_project, env)
    # The default bake's head: the example module's table, its owners (api_auth=jwt), their binary collation.
    assert "0003 (head)" in run([*alembic, "current"], default_project, env)
    run([*alembic, "check"], default_project, env)
    run([*alembic, "downgrade", "base"], default_project, env)
    assert "000" not in run([*alembic, "current"], default_project, env)
    summary.append("alembic upgrade heads / check / downgrade base on MariaDB: ok")


# Connects the way a deployed stage does (DB_* settings, no DATABASE_URL) and prints the session's TLS cipher.
TLS_PROBE = """
import asyncio
from sqlalchemy import text
from app.database.config import get_engine

async def cipher():
    async with get_engine().connect() as connection:
        name = (await connection.execute(text("SHOW SESSION STATUS LIKE 'Ssl_cipher'"))).one()[1]
    await get_engine().dispose()
    return name

print("cipher:", asyncio.run(cipher()))
"""


@pytest.mark.mariadb
@pytest.mark.xdist_group("mariadb")
def test_db_ssl_ca_verifies_the_server_certificate(
    default_project: Path, mariadb_url: str, mariadb_ca: Path, tmp_path: Path, summary: list[str]
) -> None:
    port = mariadb_url.rsplit(":", 1)[1].split("/", 1)[0]
    settings = {"ENVIRONMENT": "dev", "DB_HOST": "127.0.0.1", "DB_PORT": port, "DB_NAME": "app_test"}
    settings |= {"DB_USER": "app", "DB_PASSWORD": "app-password"}
    probe = ["uv", "run", "--frozen", "python", "-c", TLS_PROBE]

    trusted = run(probe, default_project, project_env(**settings, DB_SSL_CA=str(mariadb_ca)))
    cipher = re.search(r"cipher: (\S+)", trusted)
    assert cipher, trusted

    other_authority = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_authority))
    refused = subprocess.run(
        probe,
        cwd=default_project,
        env=project_env(**settings, DB_SSL_CA=str(other_authority)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    summary.append(f"MariaDB over TLS with DB_SSL_CA: cipher {cipher.group(1)}; a certificate from another CA refused")


BANDIT = ["bandit", "-q", "-c", "pyproject.toml", "-r", ".", "--severity-level", "medium"]


@pytest.mark.parametrize(
    "command",
    [*LINT_COMMANDS["black_isort_flake8"], BANDIT],
    ids=["black", "isort", "flake8", "mypy-strict", "bandit"],
)
def test_generated_code_passes_its_linters(default_project: Path, command: list[str]) -> None:
    run(["uv", "run", "--frozen", *command], default_project, project_env())


def test_readme_quick_start_commands_work(default_project: Path, tmp_path: Path) -> None:
    """`alembic upgrade heads` on the embedded SQLite database, then the app serves /health, and the example module to
    the token `make token` prints, as the README says. The key is given in the environment: `make token` would write
    it to the shared bake's .env otherwise."""
    env = project_env(ENVIRONMENT="local", SQLITE_PATH=str(tmp_path / "local.db"), LOCAL_TOKEN_KEY="k" * 32)
    run(["uv", "run", "--frozen", "alembic", "upgrade", "heads"], default_project, env)
    token = run(["make", "-s", "token", "sub=readme"], default_project, env).strip()
    probe = (
        "from fastapi.testclient import TestClient; from main import app; "
        "client = TestClient(app); "
        "assert client.get('/health').json() == {'status': 'ok'}; "
        "assert client.post('/challenges', json={'title': 'readme'}).status_code == 401; "
        f"client.headers['Authorization'] = 'Bearer {token}'; "
        "assert client.post('/challenges', json={'title': 'readme'}).status_code == 201"
    )
    run(["uv", "run", "--frozen", "python", "-c", probe], default_project, env)


def test_a_team_module_then_the_whole_generated_suite_passes(default_project: Path, tmp_path: Path) -> None:
    """The README's `make module name=orders` and its migration, as a team's first domain: the whole generated suite
    still passes (its own scaffold check picks a free name), and the models read naturally: `Order` for orders,
    `Category` for categories, and `class_name=` for an irregular plural."""
    project = tmp_path / default_project.name
    shutil.copytree(default_project, project, ignore=shutil.ignore_patterns(".venv", "*.db"), symlinks=True)
    env = project_env(ENVIRONMENT="local", SQLITE_PATH=str(tmp_path / "local.db"))
    run(["make", "install"], project, env)
    run(["make", "migrate"], project, env)
    assert "Model Order, table orders, routes /orders" in run(["make", "module", "name=orders"], project, env)
    run(["make", "module", "name=categories"], project, env)
    run(["make", "module", "name=people", "class_name=Person"], project, env)
    run(["uv", "run", "--frozen", "alembic", "revision", "--autogenerate", "-m", "add team tables"], project, env)
    run(["make", "migrate"], project, env)
    modules = project / "app" / "module"
    for module, model in (("orders", "Order"), ("categories", "Category"), ("people", "Person")):
        assert f'class {model}(Base):\n    """One ' in (modules / module / "models.py").read_text()
        assert f'__tablename__ = "{module}"' in (modules / module / "models.py").read_text()
        assert f'prefix="/{module}"' in (modules / module / "router.py").read_text()
    output = run([*GENERATED_PYTEST, "-rsp"], project, project_env())
    assert re.search(r"^PASSED tests/test_new_module\.py::test_make_module_adds_a_domain", output, re.MULTILINE)
    assert re.search(r"^PASSED tests/test_orders\.py::", output, re.MULTILINE)
    assert_generated_suite_passed(output, on_mysql=False)
