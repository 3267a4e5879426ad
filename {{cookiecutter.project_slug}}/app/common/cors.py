"""CORS for runs without API Gateway (uvicorn): the same rules infra/deploy-settings.js gives the HTTP API.

Deployed stages answer CORS at the gateway, which ignores the function's CORS headers, so the Lambda never adds this
middleware (it never receives CORS_ALLOWED_ORIGINS).
"""

from fastapi import FastAPI

ALLOWED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ALLOWED_HEADERS = ["Authorization", "Content-Type"]
# Readable by the front end: the id to quote in a support request, and when to retry a 503.
EXPOSED_HEADERS = ["X-Request-Id", "Retry-After"]
# Seconds a browser may reuse a preflight's answer.
PREFLIGHT_MAX_AGE = 600


def allow_cross_origin_calls(app: FastAPI, origins: list[str]) -> None:
    """Let browser front ends on these origins call the app; no credentials mode, since callers authenticate with the
    Authorization header rather than cookies."""
    from app.common.cors_middleware import ErrorModelCORSMiddleware

    app.add_middleware(
        ErrorModelCORSMiddleware,
        allow_origins=origins,
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=PREFLIGHT_MAX_AGE,
    )
