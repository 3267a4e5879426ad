"""One JSON shape for every error: {"error": {"code": ..., "message": ..., "details": [...]}}.

app/common/responses.py publishes that shape (ErrorResponse) in the OpenAPI document for every status a route can
answer with; unknown paths answer 404 and unsupported methods 405 (with Allow) in the same shape.
"""

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.common import messages
from app.common.request_id import REQUEST_ID_HEADER, current_request_id

logger = logging.getLogger(__name__)

# The detail of the HTTPException(400) FastAPI raises when it cannot decode a request body (e.g. invalid UTF-8).
FASTAPI_UNREADABLE_BODY = "There was an error parsing the body"
# Methods a 405's Allow header can list: every method the router is asked about for the path.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class AppError(Exception):
    """A domain error a service raises; the handler below turns it into a response."""

    status_code = 400
    code = "bad_request"
    # Headers the answer must carry, e.g. a 401's WWW-Authenticate.
    headers: Mapping[str, str] | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(AppError):
    """The requested resource does not exist."""

    status_code = 404
    code = "not_found"


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    """The body every error response carries (details: items shaped like ErrorDetail in app/common/responses.py)."""
    return {"error": {"code": code, "message": message, "details": details or []}}


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSONResponse in the common error shape."""
    return JSONResponse(status_code=status_code, content=error_body(code, message, details), headers=headers)


async def handle_error(request: Request, exc: Exception) -> JSONResponse:
    """Turn any exception into the common error shape."""
    if isinstance(exc, AppError):
        return error_response(exc.status_code, exc.code, exc.message, headers=exc.headers)
    if isinstance(exc, RequestValidationError):
        details = [
            {"location": list(error.get("loc", ())), "message": error.get("msg", ""), "type": error.get("type", "")}
            for error in exc.errors()
        ]
        return error_response(422, "validation_error", messages.VALIDATION_FAILED, jsonable_encoder(details))
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return error_response(404, "not_found", messages.NOT_FOUND)
        if exc.status_code == 405:
            headers = dict(exc.headers or {})
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
            return error_response(405, "http_error", messages.METHOD_NOT_ALLOWED, headers=headers)
        if exc.status_code == 400 and exc.detail == FASTAPI_UNREADABLE_BODY:
            return error_response(400, "malformed_body", messages.MALFORMED_BODY)
        # Keep the exception's headers: a 401 must say how to authenticate, a 429 when to retry.
        return error_response(exc.status_code, "http_error", str(exc.detail), headers=exc.headers)
    # Log the traceback for operators; the client gets no internals (no SQL, no settings, no secrets).
    logger.exception("Unhandled error", exc_info=exc)
    # Starlette sends this 500 from outside RequestIdMiddleware, which cannot add the header to it.
    request_id = current_request_id.get()
    id_header = {REQUEST_ID_HEADER: request_id} if request_id is not None else None
    return error_response(500, "internal_error", messages.INTERNAL_ERROR, headers=id_header)


def allowed_methods(request: Request) -> str:
    """Every method some route serves at the request's path, for a 405's Allow header.

    Starlette names only the methods of the first route whose path matches, so with GET and POST on two routes of
    one path a POST-only route would answer `Allow: POST`. Each method is put to the router as a request would be.
    """
    probe = {"type": "http", "path": request.scope["path"], "root_path": request.scope.get("root_path", "")}
    routes = request.app.router.routes
    allowed = [
        method
        for method in HTTP_METHODS
        if any(route.matches({**probe, "method": method})[0] is Match.FULL for route in routes)
    ]
    return ", ".join(allowed)


def register_exception_handlers(app: FastAPI) -> None:
    """Install the handler that gives every error the common JSON shape."""
    for exception_class in (AppError, StarletteHTTPException, RequestValidationError, Exception):
        app.add_exception_handler(exception_class, handle_error)
