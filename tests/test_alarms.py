"""What tells a person that a deployed stage is unwell, and where to look: the stage's alarms and their topic (and
its e-mail subscription), the metric filter that counts the app's 503 lines, the saved queries, the dashboard and
active tracing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cloudformation import TRACE_ACTIONS, function_properties, packaged_template, role_statements
from tests.cloudwatch_filter import matches
from tests.harness import LambdaProcess
from tests.lambda_events import WRITER_CLAIMS, http_api_event
from tests.local_services import MOTO_AWS_ENV, free_port, moto_secrets_server, secrets_client
from tests.packages import PROD_ENV, PROD_GROUP, Package
from tests.packaging_tools import unpacked_read_only

pytestmark = pytest.mark.slow

# The alarms of every stage: metric, statistic and the prod threshold (custom.stageDefaults; PROD_ENV sets none).
PROD_ALARMS = {
    "ApiErrorsAlarm": ("AWS/Lambda", "Errors", "ApiLambdaFunction", 1),
    "ApiThrottlesAlarm": ("AWS/Lambda", "Throttles", "ApiLambdaFunction", 1),
    "ApiDurationAlarm": ("AWS/Lambda", "Duration", "ApiLambdaFunction", 20000),
    "HttpApi5xxAlarm": ("AWS/ApiGateway", "5xx", "HttpApi", 5),
    "MigrateErrorsAlarm": ("AWS/Lambda", "Errors", "MigrateLambdaFunction", 1),
    "DatabaseUnavailableAlarm": ("challenge-backend/prod", "DatabaseUnavailable", None, 1),
}


@pytest.mark.xdist_group(PROD_GROUP)
def test_the_prod_template_alarms_a_person_traces_and_saves_where_to_look(prod_package: Package) -> None:
    """With ALARM_EMAIL: the stage's topic and the address subscribed to it; every alarm sends to the topic when it
    fires and when it clears (what its description says to do is checked below); the metric filter counts the app's
    database_unavailable lines into the metric its alarm watches; both functions trace; the saved queries and the
    dashboard exist."""
    resources = packaged_template(prod_package)["Resources"]
    slug = prod_package.infra.parent.name
    assert resources["AlarmTopic"]["Properties"]["TopicName"] == f"{slug}-prod-alarms"
    subscription = resources["AlarmEmailSubscription"]["Properties"]
    assert subscription == {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email", "Endpoint": PROD_ENV["ALARM_EMAIL"]}
    alarms = {name: res["Properties"] for name, res in resources.items() if res["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == set(PROD_ALARMS)
    for name, (namespace, metric, dimension, threshold) in PROD_ALARMS.items():
        alarm = alarms[name]
        assert (alarm["Namespace"].replace(slug, "challenge-backend"), alarm["MetricName"]) == (namespace, metric)
        assert [entry["Value"] for entry in alarm.get("Dimensions", [])] == ([{"Ref": dimension}] if dimension else [])
        assert alarm["Threshold"] == threshold, name
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["AlarmName"].startswith(f"{slug}-prod-"), name
    assert alarms["ApiDurationAlarm"]["ExtendedStatistic"] == "p99"
    metric_filter = resources["DatabaseUnavailableMetricFilter"]["Properties"]
    assert metric_filter["LogGroupName"] == {"Ref": "ApiLogGroup"}
    (transformation,) = metric_filter["MetricTransformations"]
    watched = alarms["DatabaseUnavailableAlarm"]
    assert (transformation["MetricNamespace"], transformation["MetricName"]) == (
        watched["Namespace"],
        watched["MetricName"],
    )
    functions = function_properties(resources)
    assert [properties["TracingConfig"] for properties in functions.values()] == [{"Mode": "Active"}] * 2
    queries = {res["Properties"]["Name"] for res in resources.values() if res["Type"] == "AWS::Logs::QueryDefinition"}
    assert queries == {
        f"{slug}-prod/{name}" for name in ("errors", "slow-requests", "503s-by-cause", "one-request-by-id")
    }
    dashboard = resources["Dashboard"]["Properties"]
    assert dashboard["DashboardName"] == f"{slug}-prod"
    body, names = dashboard["DashboardBody"]["Fn::Sub"]
    # Valid JSON once CloudFormation substitutes the alarms' quoted ARNs and the other names inside strings.
    rendered = re.sub(r"\$\{[^}]+\}", "x", body.replace("[${AlarmArns}]", '["arn"]'))
    assert [widget["type"] for widget in json.loads(rendered)["widgets"]][0] == "alarm"
    assert len(names["AlarmArns"]["Fn::Join"][1]) == len(PROD_ALARMS)


@pytest.mark.xdist_group("package-v4")
def test_without_alarm_email_the_workstation_template_subscribes_nobody_and_its_roles_may_trace(
    v4_package: Package,
) -> None:
    """No ALARM_EMAIL: the topic and the alarms, no subscription (packaging says so); the role the framework
    creates for the API function may send its traces (MigrationRole's statements are checked above)."""
    resources = packaged_template(v4_package)["Resources"]
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert [name for name, res in resources.items() if res["Type"] == "AWS::SNS::Subscription"] == []
    api_statements = role_statements(resources, "IamRoleLambdaExecution")
    assert [statement for statement in api_statements if "xray" in json.dumps(statement)] == [
        {"Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": ["*"]}
    ]


# What each alarm's description tells the person it wakes to do: the saved queries to run (by the name the stage
# saves them under) and the runbook step, a command or setting of the project.
ALARM_POINTERS = {
    "ApiErrorsAlarm": ['saved query "errors"', "scripts/release.sh rollback prod"],
    "ApiThrottlesAlarm": ["API_RESERVED_CONCURRENCY"],
    "ApiDurationAlarm": ['saved query "slow-requests"', "X-Ray"],
    "HttpApi5xxAlarm": ['saved query "errors"', '"503s-by-cause"', "scripts/release.sh rollback prod"],
    "MigrateErrorsAlarm": ["make migrate-prod", "migration function's log"],
    "DatabaseUnavailableAlarm": ['saved query "503s-by-cause"'],
}


@pytest.mark.xdist_group(PROD_GROUP)
def test_each_alarm_description_names_the_saved_query_or_runbook_step_it_points_to(prod_package: Package) -> None:
    """Every quoted name in a description is a query the stage saves; every command or setting it names is one the
    project has (release.sh's rollback, make's migrate target, the reserved-concurrency setting serverless.yml
    reads)."""
    resources = packaged_template(prod_package)["Resources"]
    slug = prod_package.infra.parent.name
    descriptions = {
        name: res["Properties"]["AlarmDescription"]
        for name, res in resources.items()
        if res["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert {
        name: [p for p in pointers if p not in descriptions[name]] for name, pointers in ALARM_POINTERS.items()
    } == {name: [] for name in ALARM_POINTERS}
    saved = {res["Properties"]["Name"] for res in resources.values() if res["Type"] == "AWS::Logs::QueryDefinition"}
    quoted = {name: re.findall(r'"([^"]+)"', description) for name, description in descriptions.items()}
    assert {name: [q for q in queries if f"{slug}-prod/{q}" not in saved] for name, queries in quoted.items()} == {
        name: [] for name in quoted
    }
    project = prod_package.infra.parent
    assert re.search(r"^\s*rollback\)", (project / "scripts" / "release.sh").read_text(), re.MULTILINE)
    assert re.search(r"^migrate-dev migrate-prod: migrate-%:", (project / "infra" / "Makefile").read_text(), re.M)
    assert "${env:API_RESERVED_CONCURRENCY" in (project / "infra" / "serverless.yml").read_text()
    # A README section a description points to is a heading of the bake's README (its language's).
    headings = set(re.findall(r"^#+ (.+)$", (project / "README.md").read_text(encoding="utf-8"), re.MULTILINE))
    sections = {name: re.findall(r"\(README: ([^)]+)\)", description) for name, description in descriptions.items()}
    assert sections["ApiThrottlesAlarm"] != []
    assert {name: [s for s in named if s not in headings] for name, named in sections.items()} == {
        name: [] for name in sections
    }


@pytest.mark.parametrize(
    ("pattern", "line", "counted"),
    [
        ('{ $.message = "Database unavailable*" }', '{"message": "Database unavailable, answering 503: x"}', True),
        ('{ $.message = "Database unavailable*" }', '{"message": "Readiness check failed: x"}', False),
        ('{ $.message = "Database unavailable" }', '{"message": "Database unavailable, answering 503"}', False),
        ('{ $.message = "*answering 503*" }', '{"message": "Database unavailable, answering 503: x"}', True),
        ('{ $.message = "Database unavailable*" }', '{"msg": "Database unavailable"}', False),
        ('{ $.message = "Database unavailable*" }', "WARNING app Database unavailable, answering 503", False),
        ('{ $.message = "Database unavailable*" }', '["Database unavailable"]', False),
        ('{ $.level = "WARNING" && $.message = "*503*" }', '{"level": "WARNING", "message": "a 503"}', True),
        ('{ $.level = "WARNING" && $.message = "*503*" }', '{"level": "INFO", "message": "a 503"}', False),
        ('{ ($.a.b = 1) || $.c = "x" }', '{"a": {"b": 1}}', True),
        ('{ $.a.b = 1 || $.c = "x" }', '{"a": {"b": 2}, "c": "y"}', False),
        ('{ $.items[1] = "two" }', '{"items": ["one", "two"]}', True),
        ('{ $.message != "x*" }', '{"message": "y"}', True),
        ('{ $.message != "x*" }', '{"message": "xy"}', False),
    ],
    ids=[
        "prefix",
        "other-message",
        "whole-field",
        "infix",
        "missing-field",
        "not-json",
        "not-an-object",
        "and",
        "and-one-false",
        "or-parenthesised",
        "or-both-false",
        "list-index",
        "not-equal",
        "not-equal-matching",
    ],
)
def test_the_filter_matcher_follows_cloudwatchs_rules_for_json_patterns(pattern: str, line: str, counted: bool) -> None:
    assert matches(pattern, line) is counted


def test_the_filter_matcher_refuses_patterns_it_does_not_know() -> None:
    for pattern in ("Database unavailable", "{ $.latency > 100 }", "{ $.message = x && }", "{ ($.a = 1 }"):
        with pytest.raises(ValueError):
            matches(pattern, '{"message": "x", "latency": 200, "a": 1}')


@pytest.mark.xdist_group(PROD_GROUP)
def test_the_metric_filter_counts_the_line_the_prod_package_writes_when_it_answers_503(
    prod_package: Package, tmp_path: Path
) -> None:
    """The prod package, run as Lambda runs it (its packaged environment and log format) with the secret in moto
    and nothing listening on the database's port, answers 503; the packaged metric filter's pattern counts exactly
    the line it wrote for that answer (carrying the request's id), and none of the lines of the 200 before it."""
    resources = packaged_template(prod_package)["Resources"]
    pattern = resources["DatabaseUnavailableMetricFilter"]["Properties"]["FilterPattern"]
    api = resources["ApiLambdaFunction"]["Properties"]
    env = {key: value for key, value in api["Environment"]["Variables"].items() if isinstance(value, str)}
    with moto_secrets_server(tmp_path) as endpoint:
        login = json.dumps({"username": "app", "password": "app-password"})
        secret = secrets_client(endpoint).create_secret(Name="app-db", SecretString=login)["ARN"]
        env.update(
            MOTO_AWS_ENV,
            AWS_ENDPOINT_URL_SECRETS_MANAGER=endpoint,
            AWS_LAMBDA_LOG_FORMAT=api["LoggingConfig"]["LogFormat"],
            DB_SECRET_ARN=secret,
            DB_HOST="127.0.0.1",
            DB_PORT=str(free_port()),
        )
        with unpacked_read_only(prod_package.zip_path, tmp_path / "task") as task:
            function = LambdaProcess(prod_package.python, task, env, tmp_path / "api.log")
            try:
                events = [http_api_event("GET", "/health"), http_api_event("GET", "/challenges", claims=WRITER_CLAIMS)]
                for status, event in zip((200, 503), events):
                    event["requestContext"]["requestId"] = f"gateway-id-{status}"
                    assert function.invoke("main.handler", event)["statusCode"] == status, function.logged()
            finally:
                function.close()
    lines = function.logged().splitlines()
    counted = [json.loads(line) for line in lines if matches(pattern, line)]
    assert [(line["level"], line["xRequestId"]) for line in counted] == [("WARNING", "gateway-id-503")], lines
