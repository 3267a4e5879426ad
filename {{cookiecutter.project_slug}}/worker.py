"""The worker function: runs the jobs SQS delivers from the job queue (and EventBridge Scheduler's runs through it).

Lambda hands it a batch of records and gets back the ones to retry ({"batchItemFailures": [...]}, the event source
reports partial batch failures): a job that raised, or whose transaction failed, is retried until the queue's redrive
policy moves it to the dead-letter queue. A message that can never run (not a job message, an unknown job, a payload
its model rejects) is sent to the dead-letter queue at once (JOB_DEAD_LETTER_QUEUE_URL, with a `refusal` attribute)
and not retried; when that send fails too, it is retried like a failed job. app/jobs/processing.py runs each record.

Same package, settings and database access as the API (main.py); it is never imported by it.
"""

import asyncio
import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from app.aws.errors import AwsRequestError
from app.aws.sqs import send_message
from app.common.request_id import log_records_carry_the_request_id
from app.common.settings import get_settings
from app.jobs import Job
from app.jobs.processing import Status, process_message
from app.registry import module_jobs

logger = logging.getLogger(__name__)
# The attribute of a dead-lettered message that says why it was refused.
REFUSAL_ATTRIBUTE = "refusal"
_loop: asyncio.AbstractEventLoop | None = None


@lru_cache(maxsize=1)
def registered_jobs() -> dict[str, type[Job]]:
    """Every job of the modules listed in app/registry.py, by name."""
    return module_jobs()


def event_loop() -> asyncio.AbstractEventLoop:
    """The container's one event loop: pooled database connections belong to the loop that opened them, and a
    container serves its invocations one after the other."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop


async def dead_letter(body: str, refusal: str, message_id: str) -> bool:
    """Send a refused message's body to the dead-letter queue; False when it could not be (it is then retried, and
    the queue's redrive policy dead-letters it in the end)."""
    settings = get_settings()
    if not settings.job_dead_letter_queue_url:
        logger.error("Message %s refused, and JOB_DEAD_LETTER_QUEUE_URL is not set: left to be retried", message_id)
        return False
    try:
        await asyncio.to_thread(
            send_message,
            settings.job_dead_letter_queue_url,
            body,
            attributes={REFUSAL_ATTRIBUTE: refusal},
            timeout=settings.job_send_timeout,
            allow_plain_http=not settings.environment.is_deployed,
        )
    except AwsRequestError:
        logger.exception("Message %s refused, and sending it to the dead-letter queue failed: retried", message_id)
        return False
    return True


async def process_records(records: list[Mapping[str, Any]], jobs: Mapping[str, type[Job]]) -> list[dict[str, str]]:
    """Each record in turn; the batch item failures of those to retry."""
    failures: list[dict[str, str]] = []
    for record in records:
        message_id = str(record.get("messageId", ""))
        body = record.get("body")
        try:
            outcome = await process_message(body if isinstance(body, str) else "", jobs, message_id=message_id)
            retry = outcome.status is Status.FAILED or (
                outcome.status is Status.REFUSED
                and not await dead_letter(str(body), outcome.refusal or "refused", message_id)
            )
        except Exception:
            logger.exception("Message %s could not be processed", message_id)
            retry = True
        if retry:
            failures.append({"itemIdentifier": message_id})
    return failures


def handler(event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
    """Lambda entry point for the SQS event source (functionResponseType ReportBatchItemFailures)."""
    records = event.get("Records", []) if isinstance(event, dict) else []
    failures = event_loop().run_until_complete(process_records(records, registered_jobs()))
    return {"batchItemFailures": failures}


# At start-up, as main.py does: a bad configuration or job definition fails the first invocation with its reason.
get_settings()
registered_jobs()
log_records_carry_the_request_id()
