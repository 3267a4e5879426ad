"""Liveness and readiness probes.

They are registered on the app itself rather than through an APIRouter: load balancers, uptime checks and Lambda
warmers call them constantly, and every included router adds a dispatch layer to each request (about 10% of the
cost of GET /health, measured by the template's benchmarks).
"""

import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from app.api.database_unavailable import UNAVAILABLE_RESPONSE
from app.common import messages
from app.common.errors import error_response
from app.common.settings import get_settings
from app.database.config import get_engine
from app.database.outage import describe_cause

logger = logging.getLogger(__name__)


async def health() -> dict[str, str]:
    """Liveness: the process answers. Never touches the database, so it stays fast and cheap."""
    return {"status": "ok"}


async def ready() -> dict[str, str] | JSONResponse:
    """Readiness: the database answers a trivial query, else 503 with Retry-After. A database that does not answer
    (e.g. resuming from a pause) is tried again for up to DB_READY_WAIT seconds, which ends before API Gateway's 30 s.
    """
    # Imported on the first probe, not at start-up: GET /health and the cold start do not load it.
    from app.database.availability import wait_for_database

    settings = get_settings()
    try:
        await wait_for_database(
            get_engine(), settings.db_ready_wait, settings.db_connect_timeout, purpose="readiness probe"
        )
    except Exception as error:  # any failure means "not ready"; the next probe tries again with a fresh connection
        logger.warning("Readiness check failed: %s", describe_cause(error))
        headers = {"Retry-After": str(settings.db_retry_after)}
        return error_response(503, "database_unavailable", messages.DATABASE_UNAVAILABLE, headers=headers)
    return {"status": "ok", "database": "ok"}


def register_health_routes(app: FastAPI) -> None:
    """Add GET /health and GET /health/ready to the app."""
    app.add_api_route("/health", health, methods=["GET"], tags=["health"])
    app.add_api_route(
        "/health/ready",
        ready,
        methods=["GET"],
        tags=["health"],
        response_model=dict[str, str],
        responses={503: UNAVAILABLE_RESPONSE},
    )
