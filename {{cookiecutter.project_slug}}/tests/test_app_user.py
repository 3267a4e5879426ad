"""The API's database user for IAM login (app/database/app_user.py), as the migration function makes sure of it:
AWS's documented statements, names refused unless they follow the project's rule, and on a real server
(TEST_DATABASE_ADMIN_URL, a login that may create users) idempotent statements that leave exactly the data rights on
one schema and REQUIRE SSL.

A MySQL or MariaDB test server has no AWS plugin, so the server tests swap the plugin clause for one the server has;
test_the_server_statements_differ_from_aws_only_in_the_plugin_clause proves that this clause is the only difference.
"""

import os
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

import migrate
from app.common.settings import get_settings, load_settings
from app.database.app_user import (
    IAM_PLUGIN,
    IAM_PLUGIN_ARGUMENT,
    AppUserError,
    converge_statements,
    create_statement,
    ensure_app_user,
    grant_statement,
    identified_clause,
)
from app.database.config import create_single_use_engine

pytestmark = pytest.mark.anyio

# The form in AWS's Aurora User Guide ("Creating a database account using IAM authentication") with REQUIRE SSL, and
# the data rights on the bake's database.
AWS_CREATE = "CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL"
AWS_GRANT = "GRANT SELECT, INSERT, UPDATE, DELETE ON `challenge`.* TO 'app'@'%'"


def test_the_statements_are_aws_documented_form_for_the_default_user_and_database() -> None:
    assert create_statement("app") == AWS_CREATE
    assert grant_statement("app", "challenge") == AWS_GRANT
    assert converge_statements("app") == [
        "ALTER USER 'app'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'app'@'%'",
    ]


@pytest.mark.parametrize("user", ["", "123", "a" * 33, "app'@'%", "app`", "app user", "app-user", "app$", "ünï"])
def test_a_user_name_outside_the_rule_is_refused(user: str) -> None:
    with pytest.raises(AppUserError, match="DB_APP_USER"):
        create_statement(user)
    with pytest.raises(AppUserError, match="DB_APP_USER"):
        grant_statement(user, "challenge")


@pytest.mark.parametrize("database", ["", "42", "a" * 65, "db`.*", "db name", "db-name", "db;"])
def test_a_database_name_outside_the_rule_is_refused(database: str) -> None:
    with pytest.raises(AppUserError, match="database name"):
        grant_statement("app", database)


def test_the_migration_provisions_nothing_without_db_app_user_and_refuses_sqlite_with_it(
    tmp_path: Path, reconfigure: pytest.MonkeyPatch
) -> None:
    """DB_APP_USER is checked before Alembic runs: on a database that cannot hold the user, nothing is migrated."""
    reconfigure.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    reconfigure.setenv("DB_APP_USER", "app")
    with pytest.raises(AppUserError, match="needs a MySQL database, not sqlite"):
        migrate.handler({}, None)
    assert migrate.current_revision() is None
    reconfigure.delenv("DB_APP_USER")
    get_settings.cache_clear()
    result = migrate.handler({}, None)
    assert result["revision_after"] == migrate.current_revision()
{%- if cookiecutter.include_example_module == "yes" %}
    assert result["revision_after"] is not None
{%- endif %}


@pytest.fixture
async def admin(mysql_session: AsyncSession, mysql_checks_required: bool) -> AsyncIterator[AsyncConnection]:
    """A connection to the test database as a login that may create users (TEST_DATABASE_ADMIN_URL), on MySQL runs."""
    url = os.environ.get("TEST_DATABASE_ADMIN_URL", "").strip()
    if not url.startswith("mysql"):
        message = "needs TEST_DATABASE_ADMIN_URL, a MySQL login that may create users, on the test database"
        if mysql_checks_required:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    engine: AsyncEngine = create_single_use_engine(load_settings(database_url=url))
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def server_plugin(connection: AsyncConnection) -> str:
    """A login plugin the server has in place of AWS's: MySQL 8.4 disables mysql_native_password by default."""
    version = (await connection.execute(text("SELECT VERSION()"))).scalar_one()
    return "mysql_native_password" if "mariadb" in str(version).lower() else "caching_sha2_password"


def test_the_server_statements_differ_from_aws_only_in_the_plugin_clause() -> None:
    aws_clause = identified_clause(IAM_PLUGIN, IAM_PLUGIN_ARGUMENT)
    for plugin in ("mysql_native_password", "caching_sha2_password"):
        swapped = identified_clause(plugin, None)
        assert create_statement("app", plugin, None) == AWS_CREATE.replace(aws_clause, swapped)
        assert converge_statements("app", plugin, None) == [
            statement.replace(aws_clause, swapped) for statement in converge_statements("app")
        ]


def granted_rights(rows: list[str]) -> dict[str, str]:
    """SHOW GRANTS as {object: rights}, e.g. {"*.*": "USAGE", "`app_test`.*": "SELECT, INSERT, UPDATE, DELETE"}."""
    rights = {}
    for row in rows:
        match = re.match(r"GRANT (.+?) ON (\S+) TO ", row)
        assert match, row
        rights[match.group(2)] = match.group(1)
    return rights


async def assert_data_rights_only(admin: AsyncConnection, user: str, plugin: str) -> None:
    database = admin.engine.url.database
    grants = [row[0] for row in (await admin.execute(text(f"SHOW GRANTS FOR '{user}'@'%'"))).all()]
    # Nothing on *.* (no CREATE, ALTER or DROP anywhere, no other schema), the four data rights on this one.
    assert granted_rights(grants) == {"*.*": "USAGE", f"`{database}`.*": "SELECT, INSERT, UPDATE, DELETE"}
    assert "WITH GRANT OPTION" not in " ".join(grants)
    assert "REQUIRE SSL" in (await admin.execute(text(f"SHOW CREATE USER '{user}'@'%'"))).scalar_one()
    # SHOW CREATE USER leaves out a plugin whose login is empty (MariaDB); the account table names it.
    login = text("SELECT plugin, ssl_type FROM mysql.user WHERE User = :user AND Host = '%'")
    assert tuple((await admin.execute(login, {"user": user})).one()) == (plugin, "ANY")


@pytest.fixture
async def user_name(admin: AsyncConnection) -> AsyncIterator[str]:
    """A user name of this test run's own, dropped afterwards."""
    user = f"app_{secrets.token_hex(6)}"
    yield user
    await admin.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))


async def test_the_user_is_created_once_with_data_rights_only_and_tls_required(
    admin: AsyncConnection, user_name: str
) -> None:
    plugin = await server_plugin(admin)
    assert await ensure_app_user(admin, user_name, plugin, None) == "created"
    await assert_data_rights_only(admin, user_name, plugin)
    assert await ensure_app_user(admin, user_name, plugin, None) == "already present"
    await assert_data_rights_only(admin, user_name, plugin)


async def test_a_user_made_by_hand_with_a_password_and_more_rights_is_converged(
    admin: AsyncConnection, user_name: str
) -> None:
    plugin = await server_plugin(admin)
    database = admin.engine.url.database
    await admin.execute(text(f"CREATE USER '{user_name}'@'%' IDENTIFIED BY 'by-hand-password'"))
    await admin.execute(text(f"GRANT ALL ON `{database}`.* TO '{user_name}'@'%'"))
    assert await ensure_app_user(admin, user_name, plugin, None) == "converged"
    await assert_data_rights_only(admin, user_name, plugin)
    assert await ensure_app_user(admin, user_name, plugin, None) == "already present"
