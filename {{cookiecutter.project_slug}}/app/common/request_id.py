"""One id per request: in the X-Request-Id header of every answer and on every log line written while serving it.

On Lambda behind the HTTP API the id is API Gateway's request id, the one its access log records (requestId), so a
client's quoted id finds the access-log line and the function's lines alike; Lambda's own request id when the event
has none; a generated one under uvicorn and in tests. An id a client sends is not used: anyone could then make their
requests' lines look like someone else's.

A pure ASGI middleware rather than Starlette's BaseHTTPMiddleware, which runs the app in a second task and copies
every response body through a stream: the cold start of GET /health is unchanged (the template's benchmarks).
"""

import logging
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-Id"
# As ASGI sends header names: lower case bytes, built once rather than per response.
_HEADER_NAME = REQUEST_ID_HEADER.lower().encode("latin-1")
# The key of the id in the app's log lines: Lambda's JSON log format writes a record's extra attributes as keys, next
# to its own requestId (Lambda's id, which differs from API Gateway's).
LOG_FIELD = "xRequestId"

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
{%- if cookiecutter.background_jobs == "yes" %}
# The id of the job being run (app/jobs): its log lines carry it beside the id of the request that enqueued it, so
# one search finds the request and every run of its job, retries included.
JOB_LOG_FIELD = "jobId"
current_job_id: ContextVar[str | None] = ContextVar("current_job_id", default=None)
{%- endif %}


def request_id_of(scope: Scope) -> str:
    """API Gateway's request id from the event Mangum passes in the scope, else Lambda's, else a new one."""
    event = scope.get("aws.event")
    if isinstance(event, dict):
        context = event.get("requestContext")
        request_id = context.get("requestId") if isinstance(context, dict) else None
        if isinstance(request_id, str) and request_id:
            return request_id
    lambda_request_id = getattr(scope.get("aws.context"), "aws_request_id", None)
    if isinstance(lambda_request_id, str) and lambda_request_id:
        return lambda_request_id
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Give the request its id (current_request_id, hence its log lines) and add it to the response's headers.

    The 500 of an unhandled error is sent by Starlette's outermost middleware, around this one: handle_error
    (app/common/errors.py) adds the header to it from current_request_id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        # Not reset afterwards: Mangum and uvicorn serve each request in a task of its own, whose context ends with
        # it, and the 500 handler outside this middleware still reads it.
        current_request_id.set(request_id)
        header = (_HEADER_NAME, request_id.encode("latin-1"))

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_request_id)


class RequestIdRecordFactory:
{%- if cookiecutter.background_jobs == "yes" %}
    """Creates log records as the factory before it did, adding the current request's id (LOG_FIELD) and job's id
    (JOB_LOG_FIELD) if any."""
{%- else %}
    """Creates log records as the factory before it did, adding the current request's id (LOG_FIELD) if any."""
{%- endif %}

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self.previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        request_id = current_request_id.get()
        if request_id is not None:
            setattr(record, LOG_FIELD, request_id)
{%- if cookiecutter.background_jobs == "yes" %}
        job_id = current_job_id.get()
        if job_id is not None:
            setattr(record, JOB_LOG_FIELD, job_id)
{%- endif %}
        return record


def log_records_carry_the_request_id() -> None:
    """Make every log record created while a request is served carry its id (LOG_FIELD), whichever logger writes it.

    A record factory rather than a logging.Filter: a filter on a logger misses its children's records, and the
    handlers belong to Lambda's runtime (or uvicorn). Installed once, however often the app is built.
    """
    previous = logging.getLogRecordFactory()
    if not isinstance(previous, RequestIdRecordFactory):
        logging.setLogRecordFactory(RequestIdRecordFactory(previous))
