"""aiomysql connections that open under one deadline and finish closing before they count as closed.

aiomysql's own connect_timeout covers only the TCP connect: a host that accepts the connection and then never
answers (an overloaded server, a stuck proxy) would hold the request until Lambda's timeout kills it. And its
ensure_closed() returns while a TLS connection is still shutting down, so a short-lived event loop (asyncio.run in
Alembic or a script) can end first and leave the socket open.

With DB_SECRET_ARN, connections log in with the secret's user name and password (app/database/secrets.py), fetched
again once when MySQL refuses them, so a rotated password takes effect without a restart.
"""

import asyncio
from typing import TYPE_CHECKING, Any

import aiomysql  # type: ignore[import-untyped]
from pymysql.constants import CR, ER  # type: ignore[import-untyped]

if TYPE_CHECKING:  # app/database/secrets.py loads only when a secret is configured
    from app.database.secrets import SecretLogin


class MySQLConnection(aiomysql.Connection):  # type: ignore[misc]
    """An aiomysql connection whose ensure_closed() also waits for the socket to close."""

    async def ensure_closed(self) -> None:
        writer = self._writer
        await super().ensure_closed()
        if writer is None:
            return
        try:
            async with asyncio.timeout(self.connect_timeout):
                await writer.wait_closed()
        except OSError:  # the peer reset the connection, or never finished the TLS shutdown in time
            writer.transport.abort()


async def connect_mysql(*, secret_login: "SecretLogin | None" = None, **arguments: Any) -> MySQLConnection:
    """An open connection, or aiomysql.OperationalError once connect_timeout seconds have passed.

    SQLAlchemy's aiomysql dialect calls this with the URL's arguments plus connect_args (see connect_options). On any
    failure, cancellation included, the socket is closed before the error leaves.

    With secret_login (DB_SECRET_ARN), the user name and password come from the secret. When MySQL refuses them
    (error 1045, e.g. the password was rotated since they were fetched), the secret is fetched again and the
    connection tried once more; a second refusal is the caller's error.
    """
    if secret_login is None:
        return await open_connection(arguments)
    login = await secret_login.current()
    try:
        return await open_connection({**arguments, **login_arguments(login.username, login.password)})
    except aiomysql.OperationalError as error:
        if not error.args or error.args[0] != ER.ACCESS_DENIED_ERROR:
            raise
    login = await secret_login.refresh(login)
    return await open_connection({**arguments, **login_arguments(login.username, login.password)})


def login_arguments(username: str | None, password: str) -> dict[str, str]:
    """aiomysql's arguments for a login (no user name: the one from the settings)."""
    return {"password": password} if username is None else {"user": username, "password": password}


async def open_connection(arguments: dict[str, Any]) -> MySQLConnection:
    """One connection attempt under the connect_timeout deadline."""
    connection = MySQLConnection(**arguments)
    try:
        async with asyncio.timeout(connection.connect_timeout):
            # aiomysql.connect() awaits exactly this; it has no public form that hands the connection back first.
            await connection._connect()
    except BaseException as error:
        connection.close()
        if isinstance(error, TimeoutError):
            deadline = connection.connect_timeout
            message = f"Can't connect to MySQL server on {connection.host!r}: no answer within {deadline} s"
            raise aiomysql.OperationalError(CR.CR_CONN_HOST_ERROR, message) from error
        raise
    return connection
