"""An app with routes that need the database and one that does not, the same whatever modules the project has."""

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from app.api.database_unavailable import register_database_error_handlers
from app.common.errors import register_exception_handlers
from app.common.responses import document_error_responses
from app.database.config import get_engine
from app.database.dependency import SessionDep


def app_with_database_routes() -> FastAPI:
    """An app assembled as main.py does, with one route reading and one writing through a session, and one route
    without the database (the same whatever modules the project has)."""
    application = FastAPI()
    register_exception_handlers(application)
    document_error_responses(application)

    @application.get("/reads")
    async def read(session: SessionDep) -> int:
        return int((await session.execute(text("SELECT 1"))).scalar_one())

    @application.post("/writes")
    async def write(session: SessionDep) -> int:
        return int((await session.execute(text("SELECT 2"))).scalar_one())

    @application.get("/no-database")
    async def no_database() -> str:
        return "ok"

    register_database_error_handlers(application)
    return application


async def readiness_and_read_statuses() -> list[int]:
    """Statuses of main's GET /health/ready and of a read through a session, as requests would meet the database the
    environment configures now; the engine is disposed of afterwards."""
    from main import app  # after the caller's settings: a first import reads them

    statuses = []
    try:
        for application, path in ((app, "/health/ready"), (app_with_database_routes(), "/reads")):
            transport = ASGITransport(app=application)
            async with AsyncClient(transport=transport, base_url="http://testserver") as http_client:
                statuses.append((await http_client.get(path)).status_code)
    finally:
        await get_engine().dispose()
    return statuses
