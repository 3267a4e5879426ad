"""The jobs package (tests/test_background_jobs.py's jobs_package: the default bake with background_jobs=yes, packaged
for prod) run as Lambda runs it: each function in the runtime's Python alone, unpacked read-only, with the environment
the packaged CloudFormation gives it, against a MariaDB server that requires TLS, verified by the package's own CA
bundle (the test CA stands where CI puts AWS's), and moto on loopback serving SQS and Secrets Manager.

The database login: the package's API and worker log in with IAM tokens (DB_IAM_AUTH), which only Aurora or RDS
accept; MariaDB cannot check a token signed per connection. So they run with DB_IAM_AUTH off and log in as an app user
with data rights only, whose password they read from a Secrets Manager secret in moto: the login the package's own
migration function uses on a deployed stage, so no password is in any function's environment and every other line of
the database path (engine, pool, TLS verified with the packaged bundle) is the deployed one. The token login itself is
proven against a stand-in for Aurora in tests/test_provisioned_database.py. The migration logs in with a secret as
deployed, as a user with schema rights, without DB_APP_USER (MariaDB has no AWSAuthenticationPlugin to create the
API's user with); the packaged values that are imports of the database stack (host, user, secrets) are swapped for
this server's, as tests/test_production_package.py does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness import LambdaProcess, head_revisions
from tests.lambda_events import WRITER_CLAIMS, http_api_event
from tests.local_services import MariaDB, mariadb_admin, moto_client
from tests.packages import JOBS_GROUP, JOBS_SLUG, Package
from tests.packaging_tools import unpacked_read_only
from tests.test_production_package import Deployment, ProductionPackage, deploy, invoke_once, start_function

pytestmark = [pytest.mark.slow, pytest.mark.mariadb, pytest.mark.xdist_group(JOBS_GROUP)]

FUNCTIONS = {"api": "ApiLambdaFunction", "migrate": "MigrateLambdaFunction", "worker": "WorkerLambdaFunction"}
QUEUE_NAMES = itertools.count(1)
# In a payload the worker refuses: it may reach the dead-letter queue, never a log line.
PRIVATE_CONTENT = "private-content-7c1e"
# The API Gateway request id of the event that creates a challenge (the requestId of its requestContext).
GATEWAY_REQUEST_ID = "Kx9QbhXoIE0EJdw="


@pytest.fixture(scope="module")
def jobs_task(jobs_package: Package, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionPackage]:
    """The jobs package unpacked read-only, with each function's packaged environment (its literal values)."""
    template = json.loads(
        (jobs_package.infra / ".serverless" / "cloudformation-template-update-stack.json").read_text()
    )
    environments = {}
    for name, logical_id in FUNCTIONS.items():
        properties = template["Resources"][logical_id]["Properties"]
        variables = properties["Environment"]["Variables"]
        environments[name] = {key: value for key, value in variables.items() if isinstance(value, str)}
        if properties.get("LoggingConfig", {}).get("LogFormat") == "JSON":
            environments[name]["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
    # What the swap described in the module's docstring turns off.
    assert environments["api"]["DB_IAM_AUTH"] == environments["worker"]["DB_IAM_AUTH"] == "true"
    head = head_revisions(jobs_package.infra.parent / "migrations")
    with unpacked_read_only(jobs_package.zip_path, tmp_path_factory.mktemp("jobs-package") / "task") as task:
        yield ProductionPackage(task, jobs_package.python, environments, head)


def sqs_client(endpoint: str) -> Any:
    """botocore's SQS client for moto: what reads the queues here is not the code under test."""
    return moto_client("sqs", endpoint)


@dataclass(frozen=True)
class Stage:
    """A fresh database with its users and secrets, and a fresh job queue and dead-letter queue, in moto."""

    deployment: Deployment
    sqs: Any
    queue_url: str
    dead_letter_url: str

    def receive(self, queue_url: str) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        )
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return mariadb_admin(self.deployment.server, query.replace("{db}", self.deployment.database))


@pytest.fixture
def stage(server: MariaDB, moto_endpoint: str) -> Stage:
    sqs = sqs_client(moto_endpoint)
    number = next(QUEUE_NAMES)
    queue_url = sqs.create_queue(QueueName=f"{JOBS_SLUG}-test{number}-jobs")["QueueUrl"]
    dead_letter_url = sqs.create_queue(QueueName=f"{JOBS_SLUG}-test{number}-jobs-dead-letter")["QueueUrl"]
    return Stage(deploy(server, moto_endpoint), sqs, queue_url, dead_letter_url)


def function_env(stage: Stage, name: str) -> dict[str, str]:
    """The swaps of a function's packaged environment: the queues moto serves, and the secret login (see the module's
    docstring) for the API and the worker."""
    overrides = {"JOB_QUEUE_URL": stage.queue_url, "AWS_ENDPOINT_URL_SQS": stage.deployment.endpoint}
    if name != "migrate":
        overrides["DB_IAM_AUTH"] = "false"
    if name == "worker":
        overrides["JOB_DEAD_LETTER_QUEUE_URL"] = stage.dead_letter_url
    return overrides


def start(package: ProductionPackage, stage: Stage, name: str, log: Path) -> LambdaProcess:
    return start_function(package, stage.deployment, name, log, **function_env(stage, name))


def migrate(package: ProductionPackage, stage: Stage, log: Path) -> Any:
    return invoke_once(package, stage.deployment, "migrate", log, **function_env(stage, "migrate"))


def migrated(package: ProductionPackage, stage: Stage, tmp_path: Path) -> None:
    log = tmp_path / "migrate.log"
    assert migrate(package, stage, log) == {"revision_before": None, "revision_after": package.head}, log.read_text()


def job_body(job_id: str, job: str, payload: Mapping[str, Any], request_id: str | None) -> str:
    return json.dumps(
        {"id": job_id, "job": job, "payload": payload, "requestId": request_id, "enqueuedAt": "2026-12-08T00:00:00Z"}
    )


def sqs_record(message_id: str, body: str, attributes: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A record of an SQS event as Lambda's event source mapping hands it to the worker."""
    return {
        "messageId": message_id,
        "receiptHandle": f"receipt-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1796688000000"},
        "messageAttributes": {
            name: {"stringValue": value, "dataType": "String"} for name, value in (attributes or {}).items()
        },
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:ap-northeast-2:123456789012:{JOBS_SLUG}-prod-jobs",
        "awsRegion": "ap-northeast-2",
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def log_lines(function: LambdaProcess) -> list[dict[str, Any]]:
    """The function's log lines (Lambda's JSON log format, as packaged)."""
    return [json.loads(line) for line in function.logged().splitlines() if line.startswith("{")]


def insert_challenge(stage: Stage, title: str, description: str) -> int:
    stage.rows(
        "INSERT INTO {db}.challenge (title, description, created_at, owner_subject)"
        f" VALUES ('{title}', '{description}', UTC_TIMESTAMP(), 'alice')"
    )
    ((challenge_id,),) = stage.rows("SELECT MAX(id) FROM {db}.challenge")
    return int(challenge_id)


def test_the_migration_function_upgrades_an_empty_database_to_job_run_and_word_count(
    jobs_task: ProductionPackage, stage: Stage, tmp_path: Path, summary: list[str]
) -> None:
    migrated(jobs_task, stage, tmp_path)
    assert jobs_task.head == "0005"
    assert stage.rows("SELECT version_num FROM {db}.alembic_version") == [("0005",)]
    columns = stage.rows(
        "SELECT table_name, column_name, is_nullable FROM information_schema.columns WHERE table_schema = '{db}'"
        " AND (table_name = 'job_run' OR column_name = 'word_count') ORDER BY table_name, ordinal_position"
    )
    assert columns == [
        ("challenge", "word_count", "YES"),
        ("job_run", "id", "NO"),
        ("job_run", "job", "NO"),
        ("job_run", "completed_at", "NO"),
    ]
    again = migrate(jobs_task, stage, tmp_path / "again.log")
    assert again == {"revision_before": "0005", "revision_after": "0005"}
    summary.append("jobs package: migrate.handler upgraded an empty database to 0005 (job_run 0004, word_count 0005)")


def test_the_worker_retries_only_the_failed_record_runs_each_job_once_and_dead_letters_an_invalid_payload(
    jobs_task: ProductionPackage, stage: Stage, tmp_path: Path, summary: list[str]
) -> None:
    """One batch of three: a count of a challenge that exists, a job whose handler raises, a payload the job's model
    refuses. Only the raising one is reported failed; the count is committed once with its job_run row; the refused
    one is in the dead-letter queue with its body and refusal, its content in no log line; the count delivered again
    (after word_count was reset by hand) is skipped."""
    migrated(jobs_task, stage, tmp_path)
    challenge_id = insert_challenge(stage, "Climb every stair", "one flight a day")
    valid_id, failing_id = "a1" * 16, "b2" * 16
    valid = sqs_record(
        "message-valid", job_body(valid_id, "challenge.count-words", {"challenge_id": challenge_id}, "r-1")
    )
    failing = sqs_record("message-failing", job_body(failing_id, "maintenance.always-fails", {}, "r-2"))
    invalid_body = job_body("c3" * 16, "challenge.count-words", {"challenge_id": PRIVATE_CONTENT}, "r-3")
    invalid = sqs_record("message-invalid", invalid_body)
    worker = start(jobs_task, stage, "worker", tmp_path / "worker.log")
    try:
        result = worker.invoke("worker.handler", sqs_event(valid, failing, invalid))
        word_count = stage.rows("SELECT word_count FROM {db}.challenge")
        runs = stage.rows("SELECT id, job, completed_at FROM {db}.job_run")
        stage.rows("UPDATE {db}.challenge SET word_count = NULL")
        again = worker.invoke("worker.handler", sqs_event({**valid, "messageId": "message-valid-again"}))
        after_redelivery = stage.rows("SELECT word_count FROM {db}.challenge")
        runs_after = stage.rows("SELECT id, job, completed_at FROM {db}.job_run")
    finally:
        worker.close()
    assert result == {"batchItemFailures": [{"itemIdentifier": "message-failing"}]}, worker.logged()
    assert word_count == [(7,)]
    assert [(run_id, job) for run_id, job, _ in runs] == [(valid_id, "challenge.count-words")]
    assert again == {"batchItemFailures": []}, worker.logged()
    assert after_redelivery == [(None,)] and runs_after == runs
    (dead_letter,) = stage.receive(stage.dead_letter_url)
    assert dead_letter["Body"] == invalid_body
    assert dead_letter["MessageAttributes"]["refusal"]["StringValue"] == "invalid payload"
    assert stage.receive(stage.queue_url) == []
    logged = worker.logged()
    assert PRIVATE_CONTENT not in logged
    lines = log_lines(worker)
    refusal = [line["message"] for line in lines if "message-invalid" in line["message"]]
    assert refusal == [
        "Message message-invalid refused (invalid payload), job challenge.count-words: int_parsing at" " challenge_id"
    ], refusal
    # Every line written while a job ran names it and the request that enqueued it.
    by_job = {valid_id: "r-1", failing_id: "r-2"}
    for job_id, request_id in by_job.items():
        ran = [line for line in lines if line.get("jobId") == job_id]
        assert ran and all(line.get("xRequestId") == request_id for line in ran), ran
    messages = [line["message"] for line in lines if line.get("jobId") == valid_id]
    assert messages == ["Job challenge.count-words completed", "Job challenge.count-words already completed: skipped"]
    assert [line["message"] for line in lines if line.get("jobId") == failing_id] == [
        "Job maintenance.always-fails failed"
    ]
    summary.append(
        "jobs package: worker.handler on MariaDB returned only the raising record; the count committed once and not "
        "run again on redelivery; the invalid payload dead-lettered without its content in the log"
    )


def test_a_challenge_created_through_the_api_is_counted_by_the_worker_from_the_queue(
    jobs_task: ProductionPackage, stage: Stage, tmp_path: Path, summary: list[str]
) -> None:
    """main.handler answers POST /challenges with 201 after sending the count job to the queue (the project's own
    SigV4 client, SQS's JSON protocol); botocore receives it in the shape the worker reads, with the gateway's request
    id; the worker given that message sets the challenge's word_count."""
    migrated(jobs_task, stage, tmp_path)
    event = http_api_event(
        "POST",
        "/challenges",
        json.dumps({"title": "Read a book", "description": "a chapter every night"}),
        {"content-type": "application/json"},
        WRITER_CLAIMS,
    )
    event["requestContext"]["requestId"] = GATEWAY_REQUEST_ID
    api = start(jobs_task, stage, "api", tmp_path / "api.log")
    try:
        response = api.invoke("main.handler", event)
    finally:
        api.close()
    assert response["statusCode"] == 201, (response, api.logged())
    created = json.loads(response["body"])
    assert created["word_count"] is None
    (message,) = stage.receive(stage.queue_url)
    body = json.loads(message["Body"])
    assert set(body) == {"id", "job", "payload", "requestId", "enqueuedAt"}
    assert len(body["id"]) == 32 and int(body["id"], 16) >= 0
    assert (body["job"], body["payload"]) == ("challenge.count-words", {"challenge_id": created["id"]})
    assert body["requestId"] == GATEWAY_REQUEST_ID == response["headers"]["x-request-id"]
    assert body["enqueuedAt"].endswith(("Z", "+00:00"))
    assert message["MessageAttributes"] == {"job": {"StringValue": "challenge.count-words", "DataType": "String"}}
    assert stage.rows("SELECT word_count FROM {db}.challenge") == [(None,)]
    received = sqs_record(message["MessageId"], message["Body"], {"job": "challenge.count-words"})
    worker = start(jobs_task, stage, "worker", tmp_path / "worker.log")
    try:
        result = worker.invoke("worker.handler", sqs_event(received))
    finally:
        worker.close()
    assert result == {"batchItemFailures": []}, worker.logged()
    assert stage.rows("SELECT id, word_count FROM {db}.challenge") == [(created["id"], 7)]
    assert stage.rows("SELECT id FROM {db}.job_run") == [(body["id"],)]
    completed = [line for line in log_lines(worker) if line["message"] == "Job challenge.count-words completed"]
    assert [(line["jobId"], line["xRequestId"]) for line in completed] == [(body["id"], GATEWAY_REQUEST_ID)]
    summary.append(
        "jobs package: POST /challenges 201 sent the count job to moto's SQS (the gateway's request id in it); the "
        "worker given that message set word_count"
    )
