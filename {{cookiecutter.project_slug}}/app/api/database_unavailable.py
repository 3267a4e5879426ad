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
from app.database.outage import DatabaseUnavailableError, describe_cause, is_connection_failure

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "database_unavailable"
# The 503 as the OpenAPI document publishes it on each route that needs the database (the body is added by
# app/common/responses.py, as for every error status).
UNAVAILABLE_RESPONSE = {
    "description": messages.DATABASE_UNAVAILABLE,
    "headers": {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}},
}


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
