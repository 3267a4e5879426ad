"""Liveness and readiness probes."""

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.common import messages
from app.common.errors import error_response
from app.common.settings import get_settings
from app.database.config import get_engine

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/health", tags=["health"])


@router.get("")
async def health() -> dict[str, str]:
    """Liveness: the process answers. Never touches the database, so it stays fast and cheap."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
async def ready() -> dict[str, str] | JSONResponse:
    """Readiness: the database answers a trivial query within the connect timeout, else 503."""
    settings = get_settings()
    try:
        async with asyncio.timeout(settings.db_connect_timeout + 0.5):
            async with get_engine().connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not ready"; the next probe tries again with a fresh connection
        logger.warning("Readiness check failed: %s", type(error).__name__)
        return error_response(503, "database_unavailable", messages.DATABASE_UNAVAILABLE)
    return {"status": "ok", "database": "ok"}
