"""Jobs (app/jobs and worker.py): after the response without a queue, once per job id in the worker, refused
messages dead-lettered without their content in the logs, every log line of a job carrying its ids, and definitions
checked when they are written."""

import json
import logging
import subprocess  # nosec B404 - runs this interpreter on a fixed script
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import registry
from app.common.request_id import JOB_LOG_FIELD, LOG_FIELD, current_job_id, current_request_id
from app.common.settings import SettingsError, get_settings, load_settings
from app.database.config import create_single_use_engine, get_engine, get_sessionmaker
from app.jobs import Job, JobDefinitionError, Schedule, enqueue
from app.jobs.local import JobsAfterResponseMiddleware
from app.jobs.models import JobRun
from app.jobs.processing import Status
{%- if cookiecutter.include_example_module == "yes" %}
from app.module.challenge.jobs import CountChallengeWords
{%- endif %}
from tests.conftest import JOB_QUEUE_URL, JobRunRecord

# A payload value that must never show in a log line.
SENTINEL = "sentinel-5b1e-never-logged"
DEAD_LETTER_QUEUE_URL = "https://sqs.{{ cookiecutter.aws_region }}.amazonaws.com/123456789012/test-jobs-dead-letter"
# What the test jobs saw when they ran: (text, job id, request id).
ran: list[tuple[str, str | None, str | None]] = []
logger = logging.getLogger(__name__)


class Note(Job):
    """Writes nothing but its job_run record; remembers that it ran."""

    name: ClassVar[str] = "test.note"
    text: str

    async def run(self, session: AsyncSession) -> None:
        logger.info("noting")
        ran.append((self.text, current_job_id.get(), current_request_id.get()))


class Explode(Job):
    """Always fails."""

    name: ClassVar[str] = "test.explode"

    async def run(self, session: AsyncSession) -> None:
        raise RuntimeError("the job failed")


class Raced(Job):
    """Another delivery of the same message completes while this one runs."""

    name: ClassVar[str] = "test.raced"

    async def run(self, session: AsyncSession) -> None:
        # An engine of its own: the app's pool holds one connection, which this delivery's session has.
        engine = create_single_use_engine(get_settings())
        try:
            async with AsyncSession(engine) as other:
                other.add(JobRun(id=current_job_id.get() or "", job=self.name))
                await other.commit()
        finally:
            await engine.dispose()


@pytest.fixture(autouse=True)
def nothing_ran_yet() -> None:
    ran.clear()


def envelope(job: str, payload: dict[str, Any], job_id: str, request_id: str | None = "request-1") -> str:
    """A message body as enqueue() writes it."""
    body = {"id": job_id, "job": job, "payload": payload, "requestId": request_id, "enqueuedAt": "2026-12-08T00:00:00Z"}
    return json.dumps(body)


def sqs_event(*records: tuple[str, str]) -> dict[str, Any]:
    """An SQS event of (message id, body) records, as Lambda's event source delivers it."""
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"handle-{message_id}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for message_id, body in records
        ]
    }


@pytest.mark.anyio
async def test_a_job_enqueued_during_a_request_runs_after_the_response(db_session: AsyncSession) -> None:
    application = FastAPI()

    @application.post("/notes")
    async def note() -> dict[str, str]:
        return {"jobId": await enqueue(Note(text="after"))}

    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    current_request_id.set("request-7")
    scope = {"type": "http", "method": "POST", "path": "/notes", "headers": [], "query_string": b""}
    await JobsAfterResponseMiddleware(application)(scope, receive, send)  # type: ignore[arg-type]
    assert sent == ["http.response.start", "http.response.body"]
    assert len(ran) == 1 and ran[0][0] == "after" and ran[0][2] == "request-7"
    assert await db_session.get(JobRun, ran[0][1] or "") is not None


@pytest.mark.anyio
async def test_the_jobs_fixture_runs_each_job_at_once_and_records_it(
    jobs: list[JobRunRecord], db_session: AsyncSession
) -> None:
    job_id = await enqueue(Note(text="now"))
    assert ran == [("now", job_id, None)]
    assert [(record.job, record.message.id, record.outcome.status) for record in jobs] == [
        (Note(text="now"), job_id, Status.COMPLETED)
    ]
    assert await db_session.get(JobRun, job_id) is not None
{%- if cookiecutter.include_example_module == "yes" %}


@pytest.mark.anyio
async def test_creating_a_challenge_counts_its_words_in_a_job(
    client: Any, jobs: list[JobRunRecord], db_session: AsyncSession
) -> None:
    created = (await client.post("/challenges", json={"title": "Run far", "description": "every day"})).json()
    assert [(record.job, record.outcome.status) for record in jobs] == [
        (CountChallengeWords(challenge_id=created["id"]), Status.COMPLETED)
    ]
    assert jobs[0].message.request_id is not None
    assert (await client.get(f"/challenges/{created['id']}")).json()["word_count"] == 4
{%- endif %}


@pytest.mark.anyio
async def test_with_a_queue_enqueue_sends_the_message_the_worker_reads(reconfigure: pytest.MonkeyPatch) -> None:
    from app.aws import sqs

    sends: list[tuple[str, str, dict[str, str]]] = []

    def send_message(queue_url: str, body: str, *, attributes: dict[str, str], **options: Any) -> str:
        sends.append((queue_url, body, attributes))
        return "message-1"

    reconfigure.setenv("JOB_QUEUE_URL", JOB_QUEUE_URL)
    reconfigure.setattr(sqs, "send_message", send_message)
    job_id = await enqueue(Note(text="queued"))
    [(queue_url, body, attributes)] = sends
    assert (queue_url, attributes) == (JOB_QUEUE_URL, {"job": "test.note"})
    message = json.loads(body)
    assert message.pop("enqueuedAt").endswith("Z")
    assert message == {"id": job_id, "job": "test.note", "payload": {"text": "queued"}, "requestId": None}
    assert ran == []


@pytest.fixture
def worker(migrated_database: None, reconfigure: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """worker.py with the test jobs, a dead-letter queue that records what it is sent, and real commits on the test
    database (emptied of job runs afterwards)."""
    reconfigure.setenv("JOB_DEAD_LETTER_QUEUE_URL", DEAD_LETTER_QUEUE_URL)
    import worker

    dead_letters: list[tuple[str, str, dict[str, str]]] = []

    def send_message(queue_url: str, body: str, *, attributes: dict[str, str], **options: Any) -> str:
        dead_letters.append((queue_url, body, attributes))
        return "dead-letter-1"

    reconfigure.setattr(worker, "registered_jobs", lambda: {job.name: job for job in (Note, Explode, Raced)})
    reconfigure.setattr(worker, "send_message", send_message)
    reconfigure.setattr(worker, "dead_letters", dead_letters, raising=False)
    yield worker

    async def clean_up() -> None:
        async with get_sessionmaker()() as session:
            await session.execute(delete(JobRun))
            await session.commit()
        await get_engine().dispose()

    loop = worker.event_loop()
    loop.run_until_complete(clean_up())
    loop.close()


def completed_job_ids(worker: ModuleType) -> set[str]:
    async def read() -> set[str]:
        async with get_sessionmaker()() as session:
            return set(await session.scalars(select(JobRun.id)))

    result: set[str] = worker.event_loop().run_until_complete(read())
    return result


def test_the_worker_retries_only_the_failed_record_runs_each_job_once_and_dead_letters_the_invalid_one(
    worker: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    valid = ("m-valid", envelope("test.note", {"text": "hello"}, "job-valid"))
    raising = ("m-raises", envelope("test.explode", {}, "job-raises"))
    invalid_body = envelope("test.note", {"text": {"nested": SENTINEL}}, "job-invalid")
    invalid = ("m-invalid", invalid_body)
    with caplog.at_level(logging.INFO):
        assert worker.handler(sqs_event(valid, raising, invalid), None) == {
            "batchItemFailures": [{"itemIdentifier": "m-raises"}]
        }
        assert ran == [("hello", "job-valid", "request-1")]
        assert completed_job_ids(worker) == {"job-valid"}
        assert worker.dead_letters == [(DEAD_LETTER_QUEUE_URL, invalid_body, {"refusal": "invalid payload"})]

        # SQS delivers at least once: the same message again is not run again.
        assert worker.handler(sqs_event(valid), None) == {"batchItemFailures": []}
        assert len(ran) == 1

    assert SENTINEL not in caplog.text
    noted = [record for record in caplog.records if record.getMessage() == "noting"]
    assert [(getattr(r, JOB_LOG_FIELD), getattr(r, LOG_FIELD)) for r in noted] == [("job-valid", "request-1")]
    failed = [record for record in caplog.records if record.exc_info]
    assert failed and all(getattr(record, JOB_LOG_FIELD) == "job-raises" for record in failed)


def test_a_delivery_that_another_one_completed_meanwhile_is_not_retried(worker: ModuleType) -> None:
    """The job_run record of the delivery that committed first makes the other's commit fail: that one is done."""
    event = sqs_event(("m-raced", envelope("test.raced", {}, "job-raced")))
    assert worker.handler(event, None) == {"batchItemFailures": []}
    assert completed_job_ids(worker) == {"job-raced"}


@pytest.mark.parametrize(
    ("body", "refusal"),
    [
        ("not json", "not a job message"),
        (json.dumps({"job": "test.note", "payload": {}}), "not a job message"),
        (envelope("test.unknown", {}, "job-unknown"), "unknown job"),
        (envelope("test.note", {"text": "x", "extra": 1}, "job-extra"), "invalid payload"),
    ],
    ids=["not-json", "no-id", "unknown-job", "extra-field"],
)
def test_a_message_that_can_never_run_is_dead_lettered_without_retries(
    worker: ModuleType, body: str, refusal: str
) -> None:
    assert worker.handler(sqs_event(("m-1", body)), None) == {"batchItemFailures": []}
    assert worker.dead_letters == [(DEAD_LETTER_QUEUE_URL, body, {"refusal": refusal})]
    assert ran == []


def test_a_refused_message_whose_dead_letter_fails_is_retried(
    worker: ModuleType, reconfigure: pytest.MonkeyPatch
) -> None:
    from app.aws.errors import AwsRequestError

    def unreachable(*args: Any, **options: Any) -> str:
        raise AwsRequestError("SQS did not answer")

    reconfigure.setattr(worker, "send_message", unreachable)
    event = sqs_event(("m-1", "not json"))
    assert worker.handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_a_deployed_stage_without_a_job_queue_refuses_to_start(environment: str) -> None:
    deployed = {
        "environment": environment,
        "database_url": None,
        "db_host": "db.internal",
        "db_password": "pw",
        "db_ssl_trust_any_server": True,
    }
    with pytest.raises(SettingsError, match="JOB_QUEUE_URL"):
        load_settings(**deployed)
    assert load_settings(**deployed, job_queue_url=JOB_QUEUE_URL).job_queue_url == JOB_QUEUE_URL


def test_with_a_queue_the_api_starts_without_the_job_runtime() -> None:
    """Routers import enqueue at start-up; the job classes, the message envelope and the job_run table load when a job
    is first enqueued, so a cold start that enqueues nothing does not pay for them (the template's benchmarks)."""
    probe = "import sys; import main; print(' '.join(sorted(sys.modules)))"
    environment = {"ENVIRONMENT": "test", "DB_HOST": "db.invalid", "PATH": "", "JOB_QUEUE_URL": JOB_QUEUE_URL}
    output = subprocess.run(  # nosec B603 - this interpreter, a fixed script
        [sys.executable, "-c", probe],
        cwd=Path(__file__).resolve().parent.parent,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [name for name in output.split() if name.startswith("app.jobs")] == ["app.jobs", "app.jobs.enqueue"]


def jobs_module(name: str, *jobs: type[Job]) -> ModuleType:
    """A module app.module.<name>.jobs defining these jobs."""
    module = ModuleType(f"app.module.{name}.jobs")
    for job in jobs:
        job.__module__ = module.__name__
        setattr(module, job.__name__, job)
    return module


def test_two_jobs_with_one_name_are_refused_naming_both(monkeypatch: pytest.MonkeyPatch) -> None:
    class First(Job):
        name: ClassVar[str] = "shared.name"

    class Second(Job):
        name: ClassVar[str] = "shared.name"

    monkeypatch.setitem(sys.modules, "app.module.alpha.jobs", jobs_module("alpha", First))
    monkeypatch.setitem(sys.modules, "app.module.beta.jobs", jobs_module("beta", Second))
    monkeypatch.setattr(registry, "MODULES", ["alpha", "beta"])
    with pytest.raises(JobDefinitionError) as raised:
        registry.module_jobs()
    message = str(raised.value)
    assert "'shared.name'" in message
    assert "app.module.alpha.jobs" in message and "app.module.beta.jobs" in message
    monkeypatch.setattr(registry, "MODULES", ["alpha"])
    assert registry.module_jobs() == {"shared.name": First}


def declare(schedule: Schedule, **fields: Any) -> type[Job]:
    """A scheduled job class, checked as it is created."""
    namespace: dict[str, Any] = {"name": "test.scheduled", "schedule": schedule, "__annotations__": {}}
    for field, default in fields.items():
        namespace["__annotations__"][field] = int
        if default is not None:
            namespace[field] = default
    namespace["__annotations__"].update({"name": ClassVar[str], "schedule": ClassVar[Schedule | None]})
    return type("Scheduled", (Job,), namespace)


@pytest.mark.parametrize(
    "expression",
    ["cron(0 0 * * *)", "cron(0 0 * * * *)", "cron(0 0 ? * ? *)", "rate(1 hours)", "rate(0 minutes)", "daily", ""],
)
def test_a_schedule_scheduler_would_refuse_is_refused_naming_the_job_and_what_is_allowed(expression: str) -> None:
    with pytest.raises(JobDefinitionError) as raised:
        declare(Schedule(expression))
    message = str(raised.value)
    assert "Scheduled" in message and repr(expression) in message and "rate(N" in message


@pytest.mark.parametrize(
    "expression", ["cron(0 0 * * ? *)", "cron(0/15 8-18 ? * MON-FRI *)", "cron(0 12 L * ? 2027)", "rate(1 day)"]
)
def test_schedulers_expressions_are_accepted(expression: str) -> None:
    assert declare(Schedule(expression, "Asia/Seoul")).schedule == Schedule(expression, "Asia/Seoul")


def test_an_unknown_time_zone_or_a_required_field_on_a_schedule_is_refused() -> None:
    with pytest.raises(JobDefinitionError, match="'Mars/Olympus'"):
        declare(Schedule("rate(1 day)", "Mars/Olympus"))
    with pytest.raises(JobDefinitionError, match="count"):
        declare(Schedule("rate(1 day)"), count=None)
    assert declare(Schedule("rate(1 day)"), count=3)().model_dump() == {"count": 3}


@pytest.mark.parametrize("name", ["", "Upper.case", "has space", "x" * 101])
def test_a_job_name_the_job_run_table_cannot_hold_is_refused(name: str) -> None:
    with pytest.raises(JobDefinitionError, match="name"):
        type("Named", (Job,), {"name": name, "__annotations__": {"name": ClassVar[str]}})
