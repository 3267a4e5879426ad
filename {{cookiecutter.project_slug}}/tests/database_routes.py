"""An app with routes that need the database and one that does not, the same whatever modules the project has."""

from fastapi import FastAPI
from sqlalchemy import text

from app.api.database_unavailable import register_database_error_handlers
from app.common.errors import register_exception_handlers
from app.common.responses import document_error_responses
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
