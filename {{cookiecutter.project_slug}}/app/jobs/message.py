"""The message a job travels in, as SQS carries it and the worker reads it (EventBridge Scheduler's runs too)."""

from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.jobs.job import NAME_MAX_LENGTH, Job
from app.jobs.models import JOB_ID_MAX_LENGTH

# The one message attribute: the job's name, for people reading the queue in the console. The worker never reads it,
# since EventBridge Scheduler cannot set attributes.
JOB_ATTRIBUTE = "job"


class JobMessage(BaseModel):
    """{"id", "job", "payload", "requestId", "enqueuedAt"}: a scheduled run's id is "schedule:<job>:<time>", the same
    for Scheduler's retries of one run. Fields it does not know are ignored, so an older worker still reads what a
    newer API sends."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1, max_length=JOB_ID_MAX_LENGTH)
    job: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    payload: dict[str, Any]
    request_id: str | None = Field(default=None, alias="requestId")
    enqueued_at: AwareDatetime = Field(alias="enqueuedAt")

    def body(self) -> str:
        """The JSON text SQS carries."""
        return self.model_dump_json(by_alias=True)


def message_of(job: Job, job_id: str, request_id: str | None) -> JobMessage:
    """The message that runs this job once, enqueued now."""
    return JobMessage(
        id=job_id,
        job=job.name,
        payload=job.model_dump(mode="json"),
        request_id=request_id,
        enqueued_at=datetime.now(UTC),
    )
