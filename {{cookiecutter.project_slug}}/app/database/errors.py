"""An unreachable database is a 503 with Retry-After on every route that needs it, not a 500.

While the database cannot be reached (down, restarting, refusing the login, out of connections, its secret not
readable), the request is fine and the same request will work later: clients and API gateways retry a 503 with
Retry-After, and alarms can tell it from a bug. Anything else a database error can mean (a bad query, a deadlock, a
constraint) stays a 500 from app/common/errors.py. GET /health/ready answers its own 503 (app/api/health.py).
"""

import logging
from collections.abc import Iterator, Sequence

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import exc
from starlette.routing import BaseRoute

from app.common import messages
from app.common.errors import error_response, handle_error
from app.common.settings import get_settings
from app.database.dependency import get_session

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "database_unavailable"
# MySQL error codes that mean "no usable connection", as opposed to a problem with the statement. Client side (the
# driver): cannot connect (2002, 2003), unknown host (2005), server gone or lost mid-query (2006, 2013), TLS failed or
# not offered (2026), login method refused (2059: the clear-text password without TLS). Server side: too many
# connections (1040, 1203), access denied (1045: a rotated password, a revoked user), host blocked after connect
# errors (1129), shutting down (1053), connection closed for inactivity (4031).
CONNECTION_ERROR_CODES = frozenset({2002, 2003, 2005, 2006, 2013, 2026, 2059, 1040, 1045, 1053, 1129, 1203, 4031})
# How deep describe_cause follows an error's causes (e.g. SQLAlchemy's error, the driver's, then the TLS error).
CAUSE_DEPTH = 4
# The 503 as the OpenAPI document publishes it on each route that needs the database (the body is added by
# app/common/responses.py, as for every error status).
UNAVAILABLE_RESPONSE = {
    "description": messages.DATABASE_UNAVAILABLE,
    "headers": {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}},
}


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
    values never reach these messages (app/database/secrets.py keeps them out of its errors).
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


async def handle_database_error(request: Request, error: Exception) -> JSONResponse:
    """503 with Retry-After for a connection-level failure; anything else goes to the common handler (a 500)."""
    if not is_connection_failure(error):
        return await handle_error(request, error)
    # infra/serverless.yml counts these lines by their start (a metric filter, alarmed) and groups them by cause.
    logger.warning("Database unavailable, answering 503: %s", describe_cause(error))
    headers = {"Retry-After": str(get_settings().db_retry_after)}
    return error_response(503, DATABASE_UNAVAILABLE, messages.DATABASE_UNAVAILABLE, headers=headers)


def needs_database(route: APIRoute) -> bool:
    """True when the route, or any dependency it has, takes a database session (SessionDep)."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if dependant.call is get_session:
            return True
        pending.extend(dependant.dependencies)
    return False


def register_database_error_handlers(app: FastAPI) -> None:
    """Answer connection-level database failures with 503 and publish that 503 on every route that needs the
    database. Call it after the routers are included."""
    for error_class in (
        exc.OperationalError,
        exc.InterfaceError,
        exc.TimeoutError,
        exc.DisconnectionError,
        DatabaseUnavailableError,
    ):
        app.add_exception_handler(error_class, handle_database_error)
    for route in api_routes(app.routes):
        if needs_database(route):
            route.responses = {**route.responses, 503: UNAVAILABLE_RESPONSE}


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route, those of included routers too."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # Recent FastAPI versions keep an included router as one entry that refers to the router's own routes (and
        # reads their responses when it first serves or documents them); older ones copy each route in.
        included = getattr(getattr(route, "original_router", None), "routes", None)
        if included is not None:
            yield from api_routes(included)
