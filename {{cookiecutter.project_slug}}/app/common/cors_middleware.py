"""Starlette's CORSMiddleware, answering the preflights it refuses in the app's one error model.

Imported only when CORS_ALLOWED_ORIGINS is set (app/common/cors.py), which the Lambda never is.
"""

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from app.common import messages
from app.common.errors import error_response


class ErrorModelCORSMiddleware(CORSMiddleware):
    """A preflight from an origin, or asking for a method or header, that is not allowed gets the JSON error body
    every other error has (Starlette sends "Disallowed CORS origin" as plain text), with the same status."""

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code < 400:
            return answer
        # Starlette's refusal still lists the allowed methods and headers (and the origin when only a header failed):
        # nothing in a refusal should read as a permission. Vary stays, so caches keep each origin's answer apart.
        vary = {"Vary": answer.headers["vary"]} if "vary" in answer.headers else None
        return error_response(answer.status_code, "cors_not_allowed", messages.CORS_NOT_ALLOWED, headers=vary)
