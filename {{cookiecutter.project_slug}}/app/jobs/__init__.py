"""Work after the response and on schedules: a job is a named, typed payload with one async handler.

    class SendWelcome(Job):
        name: ClassVar[str] = "account.send-welcome"
        user_id: int

        async def run(self, session: AsyncSession) -> None:
            ...

    job_id = await enqueue(SendWelcome(user_id=user.id))

Deployed, enqueue() sends the job to the SQS queue JOB_QUEUE_URL names and the worker function (worker.py) runs it in
a transaction of its own, retried until the queue's dead-letter queue takes it. Locally and in tests (no queue URL),
the job runs in this process after the response. A module's jobs live in app/module/<name>/jobs.py
(app/registry.py finds them); a job with a `schedule` also runs on it, through EventBridge Scheduler.
"""

from typing import TYPE_CHECKING, Any

from app.jobs.enqueue import enqueue

if TYPE_CHECKING:
    from app.jobs.job import Job, JobDefinitionError, Schedule

__all__ = ["Job", "JobDefinitionError", "Schedule", "enqueue"]
_DEFINED_IN_JOB = frozenset({"Job", "JobDefinitionError", "Schedule"})


def __getattr__(name: str) -> Any:
    """Job, Schedule and JobDefinitionError, loaded on first use: a router imports enqueue at start-up, and building
    the job classes, the message envelope and the job_run table would cost every cold start of the API 4-5 ms (about
    1% of it), though most requests enqueue nothing."""
    if name not in _DEFINED_IN_JOB:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from app.jobs import job

    value = getattr(job, name)
    globals()[name] = value
    return value
