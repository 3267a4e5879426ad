"""aiomysql connections that open under one deadline and finish closing before they count as closed.

aiomysql's own connect_timeout covers only the TCP connect: a host that accepts the connection and then never
answers (an overloaded server, a stuck proxy) would hold the request until Lambda's timeout kills it. And its
ensure_closed() returns while a TLS connection is still shutting down, so a short-lived event loop (asyncio.run in
Alembic or a script) can end first and leave the socket open.
"""

import asyncio
from typing import Any

import aiomysql  # type: ignore[import-untyped]
from pymysql.constants import CR  # type: ignore[import-untyped]


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


async def connect_mysql(**arguments: Any) -> MySQLConnection:
    """An open connection, or aiomysql.OperationalError once connect_timeout seconds have passed.

    SQLAlchemy's aiomysql dialect calls this with the URL's arguments plus connect_args (see connect_options). On any
    failure, cancellation included, the socket is closed before the error leaves.
    """
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
