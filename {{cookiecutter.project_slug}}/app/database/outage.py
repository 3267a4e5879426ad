"""What counts as the database being unavailable, as opposed to a statement failing: the errors that mean no usable
connection (down, restarting, refusing the login, out of connections, its secret not readable, no IAM token to be
made), and the description of their causes that the log gets. The database layer raises these and the API answers
them (a 503, app/api/database_unavailable.py); this module imports nothing of the app.
"""

from sqlalchemy import exc

# MySQL error codes that mean "no usable connection", as opposed to a problem with the statement. Client side (the
# driver): cannot connect (2002, 2003), unknown host (2005), server gone or lost mid-query (2006, 2013), TLS failed or
# not offered (2026), login method refused (2059: the clear-text password without TLS). Server side: too many
# connections (1040, 1203), access denied (1045: a rotated password, a revoked user), host blocked after connect
# errors (1129), shutting down (1053), connection closed for inactivity (4031).
CONNECTION_ERROR_CODES = frozenset({2002, 2003, 2005, 2006, 2013, 2026, 2059, 1040, 1045, 1053, 1129, 1203, 4031})
# How deep describe_cause follows an error's causes (e.g. SQLAlchemy's error, the driver's, then the TLS error).
CAUSE_DEPTH = 4


class DatabaseUnavailableError(Exception):
    """The database cannot be used right now for a reason outside the request (e.g. its secret cannot be read)."""


def is_connection_failure(error: BaseException) -> bool:
    """True when the error means the database could not be reached or used, not that the statement failed."""
    if isinstance(error, (DatabaseUnavailableError, exc.TimeoutError, exc.DisconnectionError)):
        return True
    if isinstance(error, (exc.OperationalError, exc.InterfaceError)):
        if error.connection_invalidated:
            return True
        code = error.orig.args[0] if error.orig is not None and error.orig.args else None
        return code in CONNECTION_ERROR_CODES
    return False


def describe_cause(error: BaseException) -> str:
    """The error and what caused it, e.g. the TLS failure under "Can't connect", for the log.

    SQLAlchemy's own message is skipped for the driver's: it can quote the statement and its parameters. Secret
    values never reach these messages (app/aws/ and app/database/secret_login.py keep them out of their errors).
    """
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None and len(parts) < CAUSE_DEPTH:
        if isinstance(current, exc.StatementError) and current.orig is not None:
            current = current.orig
        parts.append(f"{type(current).__name__}: {current}")
        # `raise ... from None` hides the context on purpose; so does this.
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return " <- ".join(parts)
