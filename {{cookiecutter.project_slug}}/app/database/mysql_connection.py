"""aiomysql connections that open under one deadline and finish closing before they count as closed.

aiomysql's own connect_timeout covers only the TCP connect: a host that accepts the connection and then never
answers (an overloaded server, a stuck proxy) would hold the request until Lambda's timeout kills it. And its
ensure_closed() returns while a TLS connection is still shutting down, so a short-lived event loop (asyncio.run in
Alembic or a script) can end first and leave the socket open.

aiomysql also starts TLS only when the server's greeting offers it, and answers a request for the clear-text password
method on any connection. So a server, or anyone on the path, that leaves TLS out of its greeting would receive the
password in clear and the session would carry on unencrypted. Connections that require TLS (DB_SSL_CA set, or a
deployed stage: app/database/config.py) refuse such a server before sending anything, and no connection ever answers
the clear-text method without TLS.

With DB_SECRET_ARN, connections log in with the secret's user name and password (app/database/secret_login.py),
fetched again once when MySQL refuses them, so a rotated password takes effect without a restart. With DB_IAM_AUTH,
each connection's password is a fresh IAM authentication token (app/database/iam_login.py), and the connection
always requires TLS: the server (Aurora's AWSAuthenticationPlugin, or RDS Proxy) asks for it with the clear-text
method once the login packet has arrived, and the rules above keep it inside TLS.
"""

import asyncio
from typing import TYPE_CHECKING, Any

import aiomysql  # type: ignore[import-untyped]
from pymysql.constants import CLIENT, CR, ER  # type: ignore[import-untyped]

if TYPE_CHECKING:  # these load only when a secret or the IAM login is configured
    from app.database.iam_login import IamLogin
    from app.database.secret_login import SecretLogin


CLEAR_TEXT_METHOD = "mysql_clear_password"
# What aiomysql connects to when the URL names no port.
DEFAULT_PORT = 3306


class MySQLConnection(aiomysql.Connection):  # type: ignore[misc]
    """An aiomysql connection that never sends the password in clear (and, with require_tls, sends nothing before TLS
    is up), and whose ensure_closed() also waits for the socket to close."""

    def __init__(self, *args: Any, require_tls: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.require_tls = require_tls

    async def _request_authentication(self) -> None:
        # Runs once the greeting is read and before anything is written: the point to refuse a downgrade. _secure is
        # already true here for a Unix socket, which never leaves the host.
        offers_tls = bool(self.server_capabilities & CLIENT.SSL)
        if not self._secure and not offers_tls:
            if self.require_tls:
                message = (
                    f"MySQL server on {self.host!r} does not offer TLS, which this connection requires (DB_SSL_CA is "
                    "set or the stage is deployed); nothing was sent to it"
                )
                raise aiomysql.OperationalError(CR.CR_SSL_CONNECTION_ERROR, message)
            if self._server_auth_plugin == CLEAR_TEXT_METHOD:
                raise clear_text_refused(self.host)
        await super()._request_authentication()

    async def _process_auth(self, plugin_name: bytes, auth_packet: Any) -> Any:
        # An auth-switch request: the server may ask for another method after seeing the login packet.
        if plugin_name == CLEAR_TEXT_METHOD.encode() and not self._secure:
            raise clear_text_refused(self.host)
        return await super()._process_auth(plugin_name, auth_packet)

    async def ping_within(self, timeout: float) -> None:
        """Ping the server; when it does not answer within timeout seconds, drop the connection (abort) and raise."""
        # aiomysql forgets its writer when a read is cancelled: keep it to abort.
        writer = self._writer
        try:
            async with asyncio.timeout(timeout):
                await self.ping(False)
        except BaseException:
            self.abort(writer)
            raise

    def abort(self, writer: asyncio.StreamWriter | None = None) -> None:
        """Drop the connection at once. close() alone leaves a TLS socket open while it waits for the server's TLS
        goodbye, which a server that stopped answering never sends."""
        writer = writer or self._writer
        self.close()
        if writer is not None:
            writer.transport.abort()

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


async def connect_mysql(
    *, secret_login: "SecretLogin | None" = None, iam_login: "IamLogin | None" = None, **arguments: Any
) -> MySQLConnection:
    """An open connection, or aiomysql.OperationalError once connect_timeout seconds have passed.

    SQLAlchemy's aiomysql dialect calls this with the URL's arguments plus connect_args (see connect_options). On any
    failure, cancellation included, the socket is closed before the error leaves.

    With secret_login (DB_SECRET_ARN), the user name and password come from the secret. When MySQL refuses them
    (error 1045, e.g. the password was rotated since they were fetched), the secret is fetched again and the
    connection tried once more; a second refusal is the caller's error, and so is a refusal that comes moments after
    such a fetch (SecretLogin.refresh backs off).

    With iam_login (DB_IAM_AUTH), the password is a token made now for the user, host and port this connection logs
    in with; a refusal is the caller's error (a fresh token would be refused alike).
    """
    if iam_login is not None:
        token = iam_login.token(arguments["host"], arguments.get("port", DEFAULT_PORT), arguments["user"])
        return await open_connection({**arguments, "password": token})
    if secret_login is None:
        return await open_connection(arguments)
    login = await secret_login.current()
    try:
        return await open_connection({**arguments, **login_arguments(login.username, login.password)})
    except aiomysql.OperationalError as error:
        if not error.args or error.args[0] != ER.ACCESS_DENIED_ERROR:
            raise
        fresh = await secret_login.refresh(login)
        if fresh is None:  # the secret was fetched again only moments ago: the refusal stands
            raise
    return await open_connection({**arguments, **login_arguments(fresh.username, fresh.password)})


def clear_text_refused(host: str) -> Exception:
    """The error for a server that asks for the password in clear over a connection without TLS."""
    message = f"MySQL server on {host!r} asked for the password in clear text over a connection without TLS; refused"
    error: Exception = aiomysql.OperationalError(CR.CR_AUTH_PLUGIN_CANNOT_LOAD, message)
    return error


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
        connection.abort()
        if isinstance(error, TimeoutError):
            deadline = connection.connect_timeout
            message = f"Can't connect to MySQL server on {connection.host!r}: no answer within {deadline} s"
            raise aiomysql.OperationalError(CR.CR_CONN_HOST_ERROR, message) from error
        raise
    return connection
