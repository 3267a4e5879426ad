"""Running one job message: what the worker does for each SQS record, and the in-process runner for each job.

A message is refused (never retried: the worker moves it to the dead-letter queue) when it is not a job message, names
no known job, or carries a payload the job's model rejects; its log line gives the validation errors' types and
locations, never the content. A job id already in job_run is skipped. Otherwise the job runs in one transaction that
also records it in job_run, so its writes and the record commit together; an exception rolls both back and the
message is retried.
"""

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from app.common.request_id import current_job_id, current_request_id
from app.database.config import get_sessionmaker
from app.jobs.job import Job
from app.jobs.message import JobMessage
from app.jobs.models import JobRun

logger = logging.getLogger(__name__)


class Status(StrEnum):
    """What became of a message."""

    COMPLETED = "completed"
    # Completed before: a redelivery, or a concurrent delivery that finished first.
    SKIPPED = "skipped"
    # Never runnable as it is: dead-lettered without retries.
    REFUSED = "refused"
    # The job raised or its transaction failed: retried.
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """The status, and for a refusal a short reason (the dead-lettered message's `refusal` attribute)."""

    status: Status
    refusal: str | None = None


def validation_summary(error: ValidationError) -> str:
    """The errors' types and locations only: their inputs and messages can quote the payload."""
    items = error.errors(include_input=False, include_context=False, include_url=False)
    return "; ".join(f"{item['type']} at {'.'.join(str(part) for part in item['loc']) or '(root)'}" for item in items)


@contextmanager
def job_context(message: JobMessage) -> Iterator[None]:
    """Every log line written meanwhile carries the job's id and the id of the request that enqueued it."""
    job_token = current_job_id.set(message.id)
    request_token = current_request_id.set(message.request_id)
    try:
        yield
    finally:
        current_request_id.reset(request_token)
        current_job_id.reset(job_token)


def refused(message_id: str, job: str | None, reason: str, error: ValidationError | None = None) -> Outcome:
    """Log a refusal (without the message's content) and say so."""
    details = f": {validation_summary(error)}" if error is not None else ""
    logger.error("Message %s refused (%s), job %s%s", message_id, reason, job or "unknown", details)
    return Outcome(Status.REFUSED, reason)


async def process_message(body: str, jobs: Mapping[str, type[Job]], *, message_id: str) -> Outcome:
    """Run the job the message body names, at most once per job id (see the module's docstring)."""
    try:
        message = JobMessage.model_validate_json(body)
    except ValidationError as error:
        return refused(message_id, None, "not a job message", error)
    job_type = jobs.get(message.job)
    if job_type is None:
        return refused(message_id, message.job, "unknown job")
    with job_context(message):
        try:
            job = job_type.model_validate(message.payload)
        except ValidationError as error:
            return refused(message_id, message.job, "invalid payload", error)
        return await run_once(job, message.id)


async def run_once(job: Job, job_id: str) -> Outcome:
    """The job and its job_run record in one transaction, unless the record exists already."""
    async with get_sessionmaker()() as session:
        try:
            if await session.get(JobRun, job_id) is not None:
                logger.info("Job %s already completed: skipped", job.name)
                return Outcome(Status.SKIPPED)
            await job.run(session)
            # The job's own writes first, so that an IntegrityError below can only be the job_run record's.
            await session.flush()
        except Exception:
            await session.rollback()
            logger.exception("Job %s failed", job.name)
            return Outcome(Status.FAILED)
        session.add(JobRun(id=job_id, job=job.name))
        try:
            await session.commit()
        except IntegrityError:
            # Another delivery of the same message ran it meanwhile and committed first.
            await session.rollback()
            logger.info("Job %s completed by a concurrent delivery: skipped", job.name)
            return Outcome(Status.SKIPPED)
        except Exception:
            await session.rollback()
            logger.exception("Job %s failed to commit", job.name)
            return Outcome(Status.FAILED)
    logger.info("Job %s completed", job.name)
    return Outcome(Status.COMPLETED)
