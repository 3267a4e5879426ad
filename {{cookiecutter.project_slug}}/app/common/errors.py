"""One JSON shape for every error: {"error": {"code": ..., "message": ..., "details": [...]}}."""

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.common import messages

logger = logging.getLogger(__name__)


class AppError(Exception):
    """A domain error a service raises; the handler below turns it into a response."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(AppError):
    """The requested resource does not exist."""

    status_code = 404
    code = "not_found"


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    """The body every error response carries."""
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


async def handle_error(_: Request, exc: Exception) -> JSONResponse:
    """Turn any exception into the common error shape."""
    if isinstance(exc, AppError):
        return error_response(exc.status_code, exc.code, exc.message)
    if isinstance(exc, RequestValidationError):
        details = [
            {"location": list(error.get("loc", ())), "message": error.get("msg", ""), "type": error.get("type", "")}
            for error in exc.errors()
        ]
        return error_response(422, "validation_error", messages.VALIDATION_FAILED, jsonable_encoder(details))
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return error_response(404, "not_found", messages.NOT_FOUND)
        # Keep the exception's headers: a 405 must say which methods are allowed (Allow), a 401 how to authenticate.
        return error_response(exc.status_code, "http_error", str(exc.detail), headers=exc.headers)
    # Log the traceback for operators; the client gets no internals (no SQL, no settings, no secrets).
    logger.exception("Unhandled error", exc_info=exc)
    return error_response(500, "internal_error", messages.INTERNAL_ERROR)


def register_exception_handlers(app: FastAPI) -> None:
    """Install the handler that gives every error the common JSON shape."""
    for exception_class in (AppError, StarletteHTTPException, RequestValidationError, Exception):
        app.add_exception_handler(exception_class, handle_error)
