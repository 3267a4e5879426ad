"""Jobs without a queue (no JOB_QUEUE_URL: make run, tests): run in this process, after the response during a
request, so that the client never waits for them; deployed stages refuse to start without a queue
(app/common/settings.py), since Lambda freezes the function once it has answered.

JobsAfterResponseMiddleware is a pure ASGI middleware (main.py adds it only when there is no queue): the jobs a request
enqueued run when the app has sent the whole response, one after the other, through the worker's own processing.
"""

import asyncio
from contextvars import ContextVar
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from app.jobs.job import Job
from app.jobs.message import JobMessage

if TYPE_CHECKING:
    from app.jobs.processing import Outcome

# The jobs the current request enqueued, to run after its response; None outside a request.
_after_response: ContextVar[list[tuple[JobMessage, type[Job]]] | None] = ContextVar("jobs_after_response", default=None)
# Tasks of jobs enqueued outside a request: referenced until done, or the event loop could collect them midway.
_running: set["asyncio.Task[Outcome]"] = set()


async def run_now(message: JobMessage, job_type: type[Job]) -> "Outcome":
    """Run one job as the worker would run its message: once, in a transaction of its own, its lines logged with its
    ids; a failure is logged, not raised (there is no queue to retry it)."""
    # Imported when a job runs: the processing path stays out of the API's cold start.
    from app.jobs.processing import process_message

    return await process_message(message.body(), {job_type.name: job_type}, message_id=message.id)


async def run_in_process(message: JobMessage, job_type: type[Job]) -> None:
    """After the current request's response, or at once as a task outside a request."""
    pending = _after_response.get()
    if pending is not None:
        pending.append((message, job_type))
        return
    task = asyncio.create_task(run_now(message, job_type))
    _running.add(task)
    task.add_done_callback(_running.discard)


class JobsAfterResponseMiddleware:
    """Collect the jobs each HTTP request enqueues and run them once the app has answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pending: list[tuple[JobMessage, type[Job]]] = []
        token = _after_response.set(pending)
        try:
            await self.app(scope, receive, send)
        finally:
            _after_response.reset(token)
            # Also when the app raised: a queue would have the messages already.
            for message, job_type in pending:
                await run_now(message, job_type)
