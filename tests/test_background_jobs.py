"""What background_jobs=yes deploys, read from the packaged prod CloudFormation of a workstation deploy (this stack
creates the roles) and from infra/ci-access.yml: the job queue and its dead-letter queue (encrypted, TLS only, a
bounded redrive), the worker function and its event source mapping (partial batch failures), one schedule per entry
of infra/schedules.json, the alarms on the stage's topic, the API role's one new right (sending to the job queue),
the worker's and the schedules' least privilege; cfn-lint and checkov with no new skip; no secret of the deploying
shell in the package; a `no` bake without a trace of any of it."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from pytest_cookies.plugin import Cookies

from tests.cloudformation import (
    TRACE_ACTIONS,
    checkov_failures,
)
from tests.cloudformation import created as created_resources
from tests.cloudformation import evaluated, packaged_template, resources_of_type, role_statements
from tests.conftest import default_context, render_only, require_commands, run, tool
from tests.packages import JOBS_GROUP, JOBS_SLUG, SENTINEL, Package, osls_print, resolved_config
from tests.stand_ins import calls, parameter_overrides, stub_env
from tests.template_files import render_template_file
from tests.test_deploy_settings import deploy_setting
from tests.test_packaging import CHECKOV_SKIPS

pytestmark = pytest.mark.slow

SLUG = JOBS_SLUG
# The schedules scripts/jobs.py writes: the example module's daily report, and a team's job in rate() form in UTC
# (TEAM_JOB in tests/packages.py, added to the bake before packaging).
SCHEDULES = [
    {"job": "challenge.daily-report", "expression": "cron(0 0 * * ? *)", "timezone": "Asia/Seoul"},
    {"job": "maintenance.purge_old-runs", "expression": "rate(6 hours)", "timezone": "UTC"},
]
QUEUE_ARN = {"Fn::GetAtt": ["JobQueue", "Arn"]}
DEAD_LETTER_ARN = {"Fn::GetAtt": ["JobDeadLetterQueue", "Arn"]}
CI_ROLES = {
    "GITHUB_ACTIONS": "true",
    "AWS_API_ROLE_ARN": "arn:aws:iam::123456789012:role/ci-access-ApiFunctionRole-AbCdEf",
    "AWS_MIGRATION_ROLE_ARN": "arn:aws:iam::123456789012:role/ci-access-MigrationFunctionRole-AbCdEf",
    "AWS_WORKER_ROLE_ARN": "arn:aws:iam::123456789012:role/ci-access-WorkerFunctionRole-AbCdEf",
    "AWS_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/ci-access-SchedulerRole-AbCdEf",
}


def resources(package: Package) -> dict[str, Any]:
    found: dict[str, Any] = packaged_template(package)["Resources"]
    return found


@pytest.mark.xdist_group(JOBS_GROUP)
def test_the_queues_are_encrypted_tls_only_and_redrive_to_the_dead_letter_queue(jobs_package: Package) -> None:
    """Both queues encrypted with SQS's key; after 5 receives a message moves to the dead-letter queue, kept 14 days
    and fed by the job queue alone; a message in flight stays hidden for six times the worker's timeout; plain HTTP
    refused on both."""
    template = resources(jobs_package)
    queues = resources_of_type(template, "AWS::SQS::Queue")
    assert set(queues) == {"JobQueue", "JobDeadLetterQueue"}
    queue, dead_letters = queues["JobQueue"], queues["JobDeadLetterQueue"]
    assert queue["QueueName"] == f"{SLUG}-prod-jobs" and dead_letters["QueueName"] == f"{SLUG}-prod-jobs-dead-letter"
    assert queue["KmsMasterKeyId"] == dead_letters["KmsMasterKeyId"] == "alias/aws/sqs"
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": DEAD_LETTER_ARN, "maxReceiveCount": 5}
    assert queue["VisibilityTimeout"] == 6 * template["WorkerLambdaFunction"]["Properties"]["Timeout"]
    assert dead_letters["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dead_letters["RedriveAllowPolicy"]["redrivePermission"] == "byQueue"
    (source,) = dead_letters["RedriveAllowPolicy"]["sourceQueueArns"]
    assert source["Fn::Sub"].endswith(f":{SLUG}-prod-jobs")
    (policy,) = resources_of_type(template, "AWS::SQS::QueuePolicy").values()
    assert policy["Queues"] == [{"Ref": "JobQueue"}, {"Ref": "JobDeadLetterQueue"}]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": [QUEUE_ARN, DEAD_LETTER_ARN],
            "Condition": {"Bool": {"aws:SecureTransport": False}},
        }
    ]


@pytest.mark.xdist_group(JOBS_GROUP)
def test_the_worker_takes_the_queue_in_batches_and_returns_only_the_failed_messages(jobs_package: Package) -> None:
    """One event source mapping, the job queue's into the worker, reporting partial batch failures and never running
    more batches than the worker's reserved concurrency; the worker runs from the same package in the API's network,
    with the queues' URLs and the API's IAM database login; the API knows the queue's URL."""
    template = resources(jobs_package)
    (mapping,) = resources_of_type(template, "AWS::Lambda::EventSourceMapping").values()
    worker = template["WorkerLambdaFunction"]["Properties"]
    api = template["ApiLambdaFunction"]["Properties"]
    assert mapping["EventSourceArn"] == QUEUE_ARN
    assert mapping["FunctionName"] == {"Ref": "WorkerLambdaFunction"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == worker["ReservedConcurrentExecutions"] == 5
    assert worker["Handler"] == "worker.handler" and worker["Timeout"] == 60
    assert worker["Code"] == api["Code"] and worker["VpcConfig"] == api["VpcConfig"]
    assert worker["Role"] == {"Fn::GetAtt": ["WorkerRole", "Arn"]}
    variables = worker["Environment"]["Variables"]
    assert variables["JOB_QUEUE_URL"] == {"Ref": "JobQueue"}
    assert variables["JOB_DEAD_LETTER_QUEUE_URL"] == {"Ref": "JobDeadLetterQueue"}
    assert variables["DB_IAM_AUTH"] == "true" and variables["DB_USER"] == api["Environment"]["Variables"]["DB_USER"]
    assert api["Environment"]["Variables"]["JOB_QUEUE_URL"] == {"Ref": "JobQueue"}
    assert "JOB_DEAD_LETTER_QUEUE_URL" not in api["Environment"]["Variables"]
    # A deployed stage refuses to start without the queue's URL, so the migration function has it too; its role
    # still may not send (test_the_roles_...).
    migrate = template["MigrateLambdaFunction"]["Properties"]["Environment"]["Variables"]
    assert migrate["JOB_QUEUE_URL"] == {"Ref": "JobQueue"} and "JOB_DEAD_LETTER_QUEUE_URL" not in migrate
    with zipfile.ZipFile(jobs_package.zip_path) as archive:
        names = set(archive.namelist())
    assert "worker.py" in names and any(name.startswith("__pycache__/worker.") for name in names)


@pytest.mark.xdist_group(JOBS_GROUP)
def test_each_schedule_of_schedules_json_sends_the_workers_message_through_the_retry_and_dead_letter_path(
    jobs_package: Package,
) -> None:
    """`make package` wrote infra/schedules.json; one schedule per entry, in the stack's own group, with its
    expression and time zone, sending to the job queue the message the worker reads (the same job id across retries
    of one run), retried for an hour and then left in the dead-letter queue, as the schedules' role."""
    assert json.loads((jobs_package.infra / "schedules.json").read_text()) == SCHEDULES
    template = resources(jobs_package)
    (group,) = resources_of_type(template, "AWS::Scheduler::ScheduleGroup").values()
    assert group == {"Name": f"{SLUG}-prod"}
    schedules = resources_of_type(template, "AWS::Scheduler::Schedule")
    assert set(schedules) == {"ScheduleChallengeDailyReport", "ScheduleMaintenancePurgeOldRuns"}
    for entry, schedule in zip(SCHEDULES, schedules.values()):
        assert schedule["Name"] == entry["job"] and schedule["GroupName"] == {"Ref": "ScheduleGroup"}
        assert schedule["ScheduleExpression"] == entry["expression"]
        assert schedule["ScheduleExpressionTimezone"] == entry["timezone"]
        target = schedule["Target"]
        assert target["Arn"] == QUEUE_ARN and target["RoleArn"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
        assert json.loads(target["Input"]) == {
            "id": f"schedule:{entry['job']}:<aws.scheduler.scheduled-time>",
            "job": entry["job"],
            "payload": {},
            "requestId": "<aws.scheduler.execution-id>",
            "enqueuedAt": "<aws.scheduler.scheduled-time>",
        }
        assert target["DeadLetterConfig"] == {"Arn": DEAD_LETTER_ARN}
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10}


# The jobs' alarms: metric, its resource and statistic, the prod threshold.
JOB_ALARMS = {
    "JobDeadLettersAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "JobDeadLetterQueue", "Maximum", 1),
    "JobQueueAgeAlarm": ("AWS/SQS", "ApproximateAgeOfOldestMessage", "JobQueue", "Maximum", 900),
    "WorkerErrorsAlarm": ("AWS/Lambda", "Errors", "WorkerLambdaFunction", "Sum", 1),
}


@pytest.mark.xdist_group(JOBS_GROUP)
def test_dead_letters_an_old_queue_and_worker_errors_reach_the_alarm_topic(jobs_package: Package) -> None:
    template = resources(jobs_package)
    for name, (namespace, metric, resource, statistic, threshold) in JOB_ALARMS.items():
        alarm = template[name]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (namespace, metric, statistic), name
        (dimension,) = alarm["Dimensions"]
        value = {"Fn::GetAtt": [resource, "QueueName"]} if namespace == "AWS/SQS" else {"Ref": resource}
        assert dimension["Value"] == value, name
        assert alarm["Threshold"] == threshold and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}], name
    dashboard = json.dumps(template["Dashboard"]["Properties"]["DashboardBody"])
    assert all(f"${{{name}.Arn}}" in dashboard for name in JOB_ALARMS)
    assert "${JobQueue.QueueName}" in dashboard and "${WorkerLambdaFunction}" in dashboard
    errors = template["ErrorsQuery"]["Properties"]["LogGroupNames"]
    assert {"Ref": "WorkerLogGroup"} in errors


def api_role_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The API role's statements after the framework's two log statements."""
    return role_statements(template, "IamRoleLambdaExecution")[2:]


DATABASE_LOGIN = {
    "Effect": "Allow",
    "Action": "rds-db:connect",
    "Resource": {
        "Fn::Sub": [
            "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${ResourceId}/${User}",
            {
                "ResourceId": {"Fn::ImportValue": f"{SLUG}-database-prod-ConnectResourceId"},
                "User": {"Fn::ImportValue": f"{SLUG}-database-prod-AppUser"},
            },
        ]
    },
}


@pytest.mark.xdist_group(JOBS_GROUP)
def test_the_api_may_send_to_the_job_queue_and_nothing_more_than_without_jobs(jobs_package: Package) -> None:
    """The API role of a `no` bake (its database login, then its traces), with sqs:SendMessage on the job queue
    alone added: not the dead-letter queue, no receive or delete (the framework's `sqs` event would have added those
    to this role, hence the worker's mapping written as a resource)."""
    assert api_role_statements(resources(jobs_package)) == [
        {**DATABASE_LOGIN, "Action": ["rds-db:connect"]},
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": QUEUE_ARN},
        {"Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": ["*"]},
    ]


@pytest.mark.xdist_group(JOBS_GROUP)
def test_the_worker_and_the_schedules_roles_hold_exactly_what_they_use(jobs_package: Package) -> None:
    template = resources(jobs_package)
    assert role_statements(template, "WorkerRole") == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": ["WorkerLogGroup", "Arn"]},
        },
        {"Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            "Resource": QUEUE_ARN,
        },
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": DEAD_LETTER_ARN},
        DATABASE_LOGIN,
    ]
    worker = template["WorkerRole"]["Properties"]
    assert worker["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"}
    ]
    (trust,) = worker["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    scheduler = template["SchedulerRole"]["Properties"]
    (trust,) = scheduler["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert role_statements(template, "SchedulerRole") == [
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": [QUEUE_ARN, DEAD_LETTER_ARN]}
    ]


@pytest.mark.xdist_group(JOBS_GROUP)
def test_the_jobs_template_passes_cfn_lint_and_checkov_with_the_usual_skips_and_holds_no_secret(
    jobs_package: Package, summary: list[str]
) -> None:
    template = jobs_package.infra / ".serverless" / "cloudformation-template-update-stack.json"
    # W3005 (redundant DependsOn) is what Serverless itself generates for the HTTP API integration.
    run([tool("cfn-lint"), str(template), "--ignore-checks", "W3005"], jobs_package.infra)
    assert checkov_failures(template, CHECKOV_SKIPS) == []
    found = []
    for path in (jobs_package.infra / ".serverless").rglob("*"):
        if path.is_file() and SENTINEL.encode() in path.read_bytes():
            found.append(str(path))
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                found += [name for name in archive.namelist() if SENTINEL.encode() in archive.read(name)]
    assert found == []
    summary.append(
        f"{SLUG} background_jobs=yes template: cfn-lint and checkov passed, skipping {', '.join(CHECKOV_SKIPS)}"
    )


@pytest.mark.xdist_group(JOBS_GROUP)
def test_in_ci_the_worker_and_the_schedules_run_with_ci_access_roles(jobs_package: Package) -> None:
    """With the four roles of ci-access.yml the stack creates none; the worker and every schedule use theirs."""
    config = resolved_config(jobs_package, **CI_ROLES)
    assert config["functions"]["worker"]["role"] == CI_ROLES["AWS_WORKER_ROLE_ARN"]
    created = config["resources"]["Resources"]
    assert not {"WorkerRole", "SchedulerRole", "MigrationRole"} & set(created)
    schedules = resources_of_type(created, "AWS::Scheduler::Schedule")
    assert [schedule["Target"]["RoleArn"] for schedule in schedules.values()] == [
        CI_ROLES["AWS_SCHEDULER_ROLE_ARN"]
    ] * 2


@pytest.mark.xdist_group(JOBS_GROUP)
@pytest.mark.parametrize(
    ("left_out", "message"),
    [
        (
            "AWS_WORKER_ROLE_ARN",
            "AWS_WORKER_ROLE_ARN is empty while AWS_API_ROLE_ARN and AWS_MIGRATION_ROLE_ARN are set",
        ),
        ("AWS_API_ROLE_ARN", "AWS_MIGRATION_ROLE_ARN is set but AWS_API_ROLE_ARN is empty"),
    ],
)
def test_ci_refuses_to_deploy_with_part_of_the_roles(jobs_package: Package, left_out: str, message: str) -> None:
    result = osls_print(jobs_package, **{**CI_ROLES, left_out: ""})
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


@pytest.mark.xdist_group(JOBS_GROUP)
def test_a_workstation_refuses_worker_roles_without_the_functions_roles(jobs_package: Package) -> None:
    roles = {"AWS_WORKER_ROLE_ARN": CI_ROLES["AWS_WORKER_ROLE_ARN"]}
    result = osls_print(jobs_package, **roles)
    assert result.returncode != 0
    assert (
        "AWS_WORKER_ROLE_ARN is set without AWS_API_ROLE_ARN and AWS_MIGRATION_ROLE_ARN"
        in result.stdout + result.stderr
    )


# ci-access.yml with background jobs, for each database answer: (db_credentials, database).
DATABASES = [("iam", "aurora"), ("secrets_manager", "existing"), ("iam", "existing"), ("environment", "existing")]
QUEUE = f"arn:aws:sqs:ap-northeast-2:123456789012:{SLUG}-prod-jobs"
DEAD_LETTER_QUEUE = f"{QUEUE}-dead-letter"
SECRET = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:app-db-AbCdEf"
CI_PARAMETERS = {
    "GitHubRepository": "owner/repo",
    "DatabaseSecretArn": SECRET,
    "DatabaseResourceId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY0",
    "MigrationSecretArn": SECRET,
}


def ci_access_with_jobs(tmp_path: Path, db_credentials: str, database: str) -> tuple[Path, dict[str, Any]]:
    """ci-access.yml of a background_jobs=yes bake with this database, written to tmp_path, and its resources as
    CloudFormation would create them for prod."""
    answers = default_context(
        background_jobs="yes", project_slug=SLUG, db_credentials=db_credentials, database=database
    )
    path = tmp_path / f"ci-access-{db_credentials}-{database}.yml"
    path.write_text(render_template_file("infra/ci-access.yml", answers), encoding="utf-8")
    template = cfn_yaml.loads(path.read_text())
    parameters = {name: value for name, value in CI_PARAMETERS.items() if name in template["Parameters"]}
    return path, evaluated(template, parameters)


def statements_by_sid(role: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (policy,) = role["Properties"]["Policies"]
    return {statement["Sid"]: statement for statement in policy["PolicyDocument"]["Statement"]}


@pytest.mark.parametrize(("db_credentials", "database"), DATABASES)
def test_ci_access_gives_the_worker_the_apis_database_and_the_queues_and_passes_cfn_lint_and_checkov(
    tmp_path: Path, db_credentials: str, database: str
) -> None:
    path, created = ci_access_with_jobs(tmp_path, db_credentials, database)
    run([tool("cfn-lint"), str(path)], tmp_path)
    assert checkov_failures(path, {}) == []
    api, worker = statements_by_sid(created["ApiFunctionRole"]), statements_by_sid(created["WorkerFunctionRole"])
    assert api["SendJobs"] == {"Sid": "SendJobs", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE}
    assert [sid for sid, statement in api.items() if "sqs:" in json.dumps(statement)] == ["SendJobs"]
    database_sids = {"DatabaseLogin", "DatabaseSecret", "DatabaseSecretKey"}
    assert {sid: worker[sid] for sid in database_sids & set(worker)} == {
        sid: api[sid] for sid in database_sids & set(api)
    }
    assert set(worker) - database_sids == {"OwnLogGroup", "Traces", "ReceiveJobs", "RefuseJobs"}
    assert worker["OwnLogGroup"]["Resource"].endswith(f":log-group:/aws/lambda/{SLUG}-prod-worker:*")
    assert worker["ReceiveJobs"]["Resource"] == QUEUE and worker["RefuseJobs"]["Resource"] == DEAD_LETTER_QUEUE
    assert worker["RefuseJobs"]["Action"] == "sqs:SendMessage"
    assert "sqs:SendMessage" not in worker["ReceiveJobs"]["Action"]
    scheduler = statements_by_sid(created["SchedulerRole"])
    assert scheduler == {
        "SendJobs": {
            "Sid": "SendJobs",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": [QUEUE, DEAD_LETTER_QUEUE],
        }
    }


@pytest.mark.parametrize(("db_credentials", "database"), DATABASES[:2])
def test_the_service_role_manages_only_this_stages_queues_mapping_and_schedules(
    tmp_path: Path, db_credentials: str, database: str
) -> None:
    """CI's CloudFormation service role: the stage's two queues by name, event source mappings of the stage's worker
    alone, the stage's schedule group and its schedules, and the worker's and schedules' roles to their services."""
    _, created = ci_access_with_jobs(tmp_path, db_credentials, database)
    service = statements_by_sid(created["CloudFormationRole"])
    assert service["JobQueues"]["Resource"] == [QUEUE, DEAD_LETTER_QUEUE]
    assert all(action.startswith("sqs:") and "Message" not in action for action in service["JobQueues"]["Action"])
    mapping = service["WorkerEventSourceMapping"]
    worker = f"arn:aws:lambda:ap-northeast-2:123456789012:function:{SLUG}-prod-worker"
    assert mapping["Condition"] == {"ArnLike": {"lambda:FunctionArn": worker}}
    scheduler = "arn:aws:scheduler:ap-northeast-2:123456789012"
    assert service["Schedules"]["Resource"] == [
        f"{scheduler}:schedule-group/{SLUG}-prod",
        f"{scheduler}:schedule/{SLUG}-prod/*",
    ]
    assert {"Fn::GetAtt": ["WorkerFunctionRole", "Arn"]} in service["PassFunctionRolesToLambda"]["Resource"]
    assert service["PassSchedulerRole"]["Resource"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
    assert service["PassSchedulerRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }
    sqs_or_scheduler = [
        sid for sid, statement in service.items() if any(key in json.dumps(statement) for key in ("sqs:", "scheduler:"))
    ]
    assert sorted(sqs_or_scheduler) == ["JobQueues", "Schedules"]


INFRA_FILES = ["infra/serverless.yml", "infra/deploy-settings.js", "infra/Makefile", "infra/ci-access.yml"]
INFRA_FILES += ["infra/database.yml", "infra/.gitignore", "infra/plugins/compile-bytecode.js"]
INFRA_FILES += [".github/workflows/deploy.yml"]


@pytest.mark.parametrize("relative", INFRA_FILES)
def test_without_background_jobs_the_infrastructure_has_no_trace_of_them(relative: str) -> None:
    """A `no` bake deploys what it did before the answer existed: no queue, worker, schedule or their roles."""
    for database in ("aurora", "existing"):
        answers = default_context(background_jobs="no", database=database, db_credentials="iam")
        text = render_template_file(relative, answers)
        traces = ["JobQueue", "JobDeadLetter", "worker", "Worker", "sqs", "SQS", "schedule", "Schedule", "JOB_"]
        assert [trace for trace in traces if trace in text] == [], (relative, database)
        with_jobs = render_template_file(relative, {**answers, "background_jobs": "yes"})
        assert with_jobs != text, relative


@pytest.fixture
def jobs_infra(tmp_path: Path) -> Path:
    """deploy-settings.js of a background_jobs=yes bake, alone in an infra folder."""
    require_commands("node", install_hint="apt-get install nodejs")
    answers = default_context(background_jobs="yes", project_slug=SLUG)
    (tmp_path / "deploy-settings.js").write_text(render_template_file("infra/deploy-settings.js", answers))
    return tmp_path


def scheduled(infra: Path, entries: object | None) -> Any:
    """What the stack's resources hold for these infra/schedules.json entries (None: no file), or the refusal."""
    if entries is not None:
        (infra / "schedules.json").write_text(json.dumps(entries), encoding="utf-8")
    outcome = deploy_setting(infra, "stackResources")
    return outcome.get("error") or resources_of_type(outcome["value"], "AWS::Scheduler::Schedule")


def test_schedules_json_is_required_and_checked_before_anything_is_built(jobs_infra: Path) -> None:
    """No file (a command that bypassed the Makefile), an entry of the wrong form, two jobs that would share a
    logical id: each refused by name; no schedule, no group."""
    assert "infra/schedules.json is missing: package and deploy through the Makefile" in scheduled(jobs_infra, None)
    wrong = {"job": "report", "expression": "daily", "timezone": "UTC"}
    assert 'must list {"job", "expression", "timezone"} objects' in scheduled(jobs_infra, [wrong])
    clash = [{**SCHEDULES[1], "job": "a.b"}, {**SCHEDULES[1], "job": "a-b"}]
    assert scheduled(jobs_infra, clash).startswith("The jobs a-b differ from others in punctuation alone")
    assert scheduled(jobs_infra, []) == {}
    assert "ScheduleGroup" not in deploy_setting(jobs_infra, "stackResources")["value"]
    assert list(scheduled(jobs_infra, SCHEDULES[:1])) == ["ScheduleChallengeDailyReport"]


def test_the_workers_concurrency_is_at_least_what_an_sqs_mapping_allows(jobs_infra: Path) -> None:
    refused = deploy_setting(jobs_infra, "workerReservedConcurrency", workerReservedConcurrency="1")
    assert refused["error"].startswith("WORKER_RESERVED_CONCURRENCY must be at least 2")
    assert deploy_setting(jobs_infra, "workerReservedConcurrency", workerReservedConcurrency="3") == {"value": 3}


@pytest.fixture(scope="module")
def endpoint_projects(cookies_session: Cookies) -> dict[str, Path]:
    """background_jobs=yes bakes, rendered only, with each database answer."""
    projects = {}
    for database, db_credentials in (("aurora", "iam"), ("existing", "secrets_manager")):
        with render_only():
            result = cookies_session.bake(
                extra_context={
                    "background_jobs": "yes",
                    "database": database,
                    "db_credentials": db_credentials,
                    "project_slug": f"jobs-{database}",
                }
            )
        assert result.exit_code == 0, result.exception
        projects[database] = Path(result.project_path)
    return projects


def test_a_vpc_of_the_teams_own_gets_its_sqs_endpoint_from_make_queue_endpoint(
    endpoint_projects: dict[str, Path], stubs: Path
) -> None:
    """With database=existing: the target refuses to guess the network, then deploys queue-endpoint.yml with the
    functions' VPC, subnets and group; the database stack's bake has neither the target nor the file."""
    project = endpoint_projects["existing"]
    refused = subprocess.run(
        ["make", "-C", "infra", "queue-endpoint", "VPC_ID=vpc-0123"],
        cwd=project,
        env=stub_env(stubs),
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0 and "Set VPC_ID=vpc-... SUBNET_IDS=" in refused.stdout
    assert calls(stubs, "aws") == []
    network = ["VPC_ID=vpc-0123", "SUBNET_IDS=subnet-a1,subnet-b2", "SECURITY_GROUP_ID=sg-0f"]
    run(["make", "-C", "infra", "queue-endpoint", *network], project, stub_env(stubs))
    (deploy,) = calls(stubs, "aws")
    assert deploy.startswith(
        "cloudformation deploy --region ap-northeast-2 --template-file queue-endpoint.yml"
        " --stack-name sqs-endpoint-vpc-0123 "
    )
    assert parameter_overrides(deploy) == {
        "VpcId": "vpc-0123",
        "SubnetIds": "subnet-a1,subnet-b2",
        "FunctionSecurityGroupId": "sg-0f",
    }
    assert "make queue-endpoint" in run(["make", "-C", "infra", "help"], project, stub_env(stubs))
    aurora = endpoint_projects["aurora"]
    assert not (aurora / "infra" / "queue-endpoint.yml").exists()
    assert "queue-endpoint" not in (aurora / "infra" / "Makefile").read_text()


def test_the_database_stack_creates_the_sqs_endpoint_unless_told_the_vpc_has_one(
    endpoint_projects: dict[str, Path], stubs: Path
) -> None:
    project = endpoint_projects["aurora"]
    run(["make", "-C", "infra", "database-dev", "DB_QUEUE_ENDPOINT=false"], project, stub_env(stubs))
    deploy, _ = calls(stubs, "aws")
    assert parameter_overrides(deploy) == {"Stage": "dev", "CreateSqsEndpoint": "false"}
    template = cfn_yaml.loads((project / "infra" / "database.yml").read_text())
    for create, expected in (("true", {"SqsEndpoint", "EndpointSecurityGroup"}), ("false", set())):
        created = created_resources(
            template, {"Stage": "dev", "CreateSqsEndpoint": create, "CreateSecretsManagerEndpoint": "false"}
        )
        assert {"SqsEndpoint", "EndpointSecurityGroup"} & set(created) == expected
    endpoint = created_resources(template, {"Stage": "dev"})["SqsEndpoint"]["Properties"]
    assert endpoint["ServiceName"] == "com.amazonaws.ap-northeast-2.sqs" and endpoint["PrivateDnsEnabled"] is True
    assert endpoint["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroup"}]
