"""The FastAPI application and its AWS Lambda handler.

Importing this module builds the app and reads the settings (so a bad configuration fails at start-up), but opens
no database connection: the engine connects on the first request that needs it.
"""

import gc

# Building the app creates about 140,000 objects that live as long as the process, and the garbage collector would
# run some 190 times meanwhile, rescanning them for nothing: about a tenth of a cold start (the template's
# benchmarks). It stays off until the app is built, and those objects are then frozen out of later collections.
gc.disable()

from fastapi import FastAPI  # noqa: E402
from mangum import Mangum  # noqa: E402

from app.api.database_unavailable import register_database_error_handlers  # noqa: E402
from app.api.health import register_health_routes  # noqa: E402
from app.common.cors import allow_cross_origin_calls  # noqa: E402
from app.common.enums import Environment  # noqa: E402
from app.common.errors import register_exception_handlers  # noqa: E402
from app.common.request_id import RequestIdMiddleware, log_records_carry_the_request_id  # noqa: E402
from app.common.responses import document_error_responses  # noqa: E402
from app.common.settings import get_settings  # noqa: E402
from app.registry import module_routers  # noqa: E402


def create_app() -> FastAPI:
    """Assemble the error handlers and their documentation, the health probes, every router in app/registry.py, the
    503 for an unreachable database, the request id on every answer and log line, and CORS when configured."""
    settings = get_settings()
    show_docs = settings.environment is not Environment.PROD
    # Local and test runs serve /docs themselves (below); the dev stage keeps FastAPI's page.
    fastapi_docs = show_docs and settings.environment.is_deployed
    application = FastAPI(
        title=settings.app_name,
        version="0.1.0",
        docs_url="/docs" if fastapi_docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if show_docs else None,
    )
    register_exception_handlers(application)
    document_error_responses(application)
    register_health_routes(application)
    if show_docs and not fastapi_docs:
        # Imported here: the Lambda package lacks Swagger UI's files, and its cold start should not look for them.
        from app.api.docs import serve_swagger_ui

        serve_swagger_ui(application)
    for router in module_routers():
        application.include_router(router)
    # After the routers: it publishes a 503 on each route that needs the database.
    register_database_error_handlers(application)
    application.add_middleware(RequestIdMiddleware)
{%- if cookiecutter.background_jobs == "yes" %}
    if not settings.job_queue_url:
        # Only without a queue (make run, tests): jobs then run in this process once the response is sent. Imported
        # here, so that a deployed function's cold start does not load the job runtime.
        from app.jobs.local import JobsAfterResponseMiddleware

        application.add_middleware(JobsAfterResponseMiddleware)
{%- endif %}
    # Outermost, so a browser's preflight is answered before any route, identity check or error handler.
    if settings.cors_origins:
        allow_cross_origin_calls(application, settings.cors_origins)
    log_records_carry_the_request_id()
    return application


try:
    app = create_app()
    # lifespan="off": Lambda would otherwise run start-up and shut-down around every invocation.
    handler = Mangum(app, lifespan="off")
finally:
    # Also when building fails (a process that imports main and carries on, such as a test run, keeps collecting).
    gc.freeze()
    gc.enable()
