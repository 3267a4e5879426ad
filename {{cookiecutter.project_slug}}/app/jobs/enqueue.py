"""enqueue(): hand a job to the queue (deployed) or to this process (make run, tests)."""

import asyncio
import uuid
from typing import TYPE_CHECKING

from app.common.request_id import current_request_id
from app.common.settings import get_settings

if TYPE_CHECKING:
    from app.jobs.job import Job


async def enqueue(job: "Job") -> str:
    """Send the job to run once, and return its id (what its log lines carry as jobId).

    With JOB_QUEUE_URL, one SendMessage, done when this returns (an AwsRequestError when SQS refused it or did not
    answer within JOB_SEND_TIMEOUT). Without it, the job runs in this process: after the response during a request,
    at once as a task otherwise. A job that reads what the request writes must be enqueued after the request's
    `await session.commit()`: the worker's transaction only sees committed rows.
    """
    # Imported on first use, as app/jobs/__init__.py explains: routers import enqueue at start-up.
    from app.jobs import local
    from app.jobs.message import JOB_ATTRIBUTE, message_of

    job_id = uuid.uuid4().hex
    message = message_of(job, job_id, current_request_id.get())
    settings = get_settings()
    if not settings.job_queue_url:
        await local.run_in_process(message, type(job))
        return job_id
    # Imported on first use: the signer and http.client stay out of the cold start of requests that enqueue nothing.
    from app.aws.sqs import send_message

    # In a thread: the standard library's HTTP client blocks, and the event loop keeps serving meanwhile.
    await asyncio.to_thread(
        send_message,
        settings.job_queue_url,
        message.body(),
        attributes={JOB_ATTRIBUTE: job.name},
        timeout=settings.job_send_timeout,
        allow_plain_http=not settings.environment.is_deployed,
    )
    return job_id
