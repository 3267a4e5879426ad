"""The API's own database user for IAM database authentication (DB_APP_USER), made sure of by the migration function
before Alembic runs, as the master user its secret names.

The user logs in with IAM authentication tokens only (AWS's plugin: no password exists for it), over TLS only, and
may read and write the rows of the one schema the migration connects to, nothing more: the API can never change the
schema or see another one. Each run is idempotent: a missing user is created, a present one is left as it is, and one
that exists with another login plugin or without REQUIRE SSL (made by hand with a password, say) is converged rather
than refused: the API role may connect as exactly this user with a token, so no other way of logging in as it can be
right, and its rights are reset to the data rights alone.
"""

import re
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# The project's rule for MySQL names (the bake's check of db_user and db_name): letters, digits and underscores, not
# digits only, so a name needs no escaping inside the quotes below; MySQL allows 32 characters for a user name and
# 64 for a schema name.
USER_NAME = re.compile(r"(?![0-9]+$)[A-Za-z0-9_]{1,32}")
SCHEMA_NAME = re.compile(r"(?![0-9]+$)[A-Za-z0-9_]{1,64}")
# AWS's documented form for a user that logs in with IAM tokens (Aurora User Guide, "Creating a database account using
# IAM authentication"): the clause is `IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'`.
IAM_PLUGIN = "AWSAuthenticationPlugin"
IAM_PLUGIN_ARGUMENT: str | None = "RDS"
DATA_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"
# mysql.user's ssl_type for REQUIRE SSL.
REQUIRE_SSL_TYPE = "ANY"

Outcome = Literal["created", "already present", "converged"]


class AppUserError(ValueError):
    """The app user cannot be provisioned as asked (a name outside the rule, or a database that is not MySQL)."""


def identified_clause(plugin: str, argument: str | None) -> str:
    """`IDENTIFIED WITH <plugin> [AS '<argument>']` for a plugin and argument of the project's own (never input)."""
    return f"IDENTIFIED WITH {plugin}" + ("" if argument is None else f" AS '{argument}'")


def account(user: str) -> str:
    """The quoted account of a user allowed from any address ('%'): the functions' addresses are not fixed."""
    if not USER_NAME.fullmatch(user):
        raise AppUserError(f"DB_APP_USER {user!r} is not 1-32 letters, digits and underscores (not digits only)")
    return f"'{user}'@'%'"


def schema(name: str) -> str:
    """The quoted schema name."""
    if not SCHEMA_NAME.fullmatch(name):
        raise AppUserError(f"database name {name!r} is not 1-64 letters, digits and underscores (not digits only)")
    return f"`{name}`"


def create_statement(user: str, plugin: str = IAM_PLUGIN, argument: str | None = IAM_PLUGIN_ARGUMENT) -> str:
    """Creates the user when missing; a user already present is left to converge_statements."""
    return f"CREATE USER IF NOT EXISTS {account(user)} {identified_clause(plugin, argument)} REQUIRE SSL"


def grant_statement(user: str, database: str) -> str:
    """The data rights on the one schema (granting what is already granted changes nothing)."""
    return f"GRANT {DATA_RIGHTS} ON {schema(database)}.* TO {account(user)}"


def converge_statements(user: str, plugin: str = IAM_PLUGIN, argument: str | None = IAM_PLUGIN_ARGUMENT) -> list[str]:
    """For a user found with another plugin or without REQUIRE SSL: its login replaced and every right taken away
    (the grant then gives back the data rights alone)."""
    return [
        f"ALTER USER {account(user)} {identified_clause(plugin, argument)} REQUIRE SSL",
        f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account(user)}",
    ]


async def ensure_app_user(
    connection: AsyncConnection, user: str, plugin: str = IAM_PLUGIN, argument: str | None = IAM_PLUGIN_ARGUMENT
) -> Outcome:
    """Makes sure the user exists as described above, with data rights on the connection's schema, and says what it
    found. The connection's login needs CREATE USER and the data rights WITH GRANT OPTION (the master user has both).
    The plugin is a parameter for the tests alone: a MySQL or MariaDB test server has no AWS plugin."""
    if connection.dialect.name != "mysql":
        raise AppUserError(f"DB_APP_USER needs a MySQL database, not {connection.dialect.name}")
    database = connection.engine.url.database or ""
    statements = [grant_statement(user, database)]
    found = await connection.execute(
        text("SELECT plugin, ssl_type FROM mysql.user WHERE User = :user AND Host = '%'"), {"user": user}
    )
    row = found.first()
    outcome: Outcome = "already present"
    if row is None:
        outcome = "created"
        statements.insert(0, create_statement(user, plugin, argument))
    elif str(row.plugin).lower() != plugin.lower() or str(row.ssl_type).upper() != REQUIRE_SSL_TYPE:
        outcome = "converged"
        statements[:0] = converge_statements(user, plugin, argument)
    for statement in statements:
        # text() doubles the '%' of the account for the driver's format paramstyle.
        await connection.execute(text(statement))
    return outcome
