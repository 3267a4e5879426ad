"""What tells a person that a deployed stage is unwell, and where to look: the stage's alarms and their topic (and
its e-mail subscription), the metric filter that counts the app's 503 lines, the saved queries, the dashboard and
active tracing."""

from __future__ import annotations

import json
import re

import pytest

from tests.cloudformation import TRACE_ACTIONS, function_properties, packaged_template, role_statements
from tests.packages import PROD_ENV, PROD_GROUP, Package

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
    fires and when it clears, with a description saying what to do; the metric filter counts the app's
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
        assert alarm["AlarmName"].startswith(f"{slug}-prod-") and len(alarm["AlarmDescription"]) > 80, name
    assert alarms["ApiDurationAlarm"]["ExtendedStatistic"] == "p99"
    metric_filter = resources["DatabaseUnavailableMetricFilter"]["Properties"]
    assert metric_filter["LogGroupName"] == {"Ref": "ApiLogGroup"}
    assert "Database unavailable, answering 503" in metric_filter["FilterPattern"]
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
