"""The FastAPI application and its AWS Lambda handler.

Importing this module builds the app and reads the settings (so a bad configuration fails at start-up), but opens
no database connection: the engine connects on the first request that needs it.
"""

from fastapi import FastAPI
from mangum import Mangum

from app.api.health import register_health_routes
from app.common.enums import Environment
from app.common.errors import register_exception_handlers
from app.common.settings import get_settings
{%- if cookiecutter.include_example_module == "yes" %}
from app.module.challenge.router import router as challenge_router
{%- endif %}


def create_app() -> FastAPI:
    """Assemble routers and error handlers."""
    settings = get_settings()
    show_docs = settings.environment is not Environment.PROD
    application = FastAPI(
        title=settings.app_name,
        version="0.1.0",
        docs_url="/docs" if show_docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if show_docs else None,
    )
    register_exception_handlers(application)
    register_health_routes(application)
{%- if cookiecutter.include_example_module == "yes" %}
    application.include_router(challenge_router)
{%- endif %}
    return application


app = create_app()
# lifespan="off": Lambda would otherwise run start-up and shut-down around every invocation.
handler = Mangum(app, lifespan="off")
