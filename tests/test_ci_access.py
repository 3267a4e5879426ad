"""How CI deploys: through infra/ci-access.yml's CloudFormation service role, into its artifacts bucket, with its
roles for the functions (refused without them in GitHub Actions); the service role's trust and the scope of every
right it holds (API Gateway by this stack's tag, which the packaged HTTP API carries; the stage's own alarms, topic,
dashboard and metric filter); the deploy principal's rights; the artifacts bucket; cfn-lint and checkov on the stack."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pytest_cookies.plugin import Cookies

from tests.cloudformation import checkov_failures, ci_access_template, evaluated, packaged_template, service_role
from tests.conftest import project_env, render_only, run, tool
from tests.packages import (
    CI_ACCESS_ENV,
    DATABASE_RESOURCE_ID,
    IAM_GROUP,
    KMS_KEY_ARN,
    MIGRATION_SECRET_ARN,
    PROD_GROUP,
    SECRET_ARN,
    Package,
    osls_print,
    resolved_config,
)
from tests.packaging_tools import PACKAGE_ENV, copy_project
from tests.stand_ins import calls, parameter_overrides, stub_env

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("ci", [False, True], ids=["workstation", "ci"])
def test_ci_deploys_through_the_service_role_with_its_bucket_and_roles(runnable_package: Package, ci: bool) -> None:
    """CloudFormation acts through the service role (osls passes it as RoleARN of every stack operation), packages go
    to the named bucket, the functions run with ci-access.yml's roles; unset, Serverless's defaults apply and this
    stack creates the roles."""
    config = resolved_config(runnable_package, **(CI_ACCESS_ENV if ci else {}))
    resources = config["resources"]["Resources"]
    roles = {name for name, resource in resources.items() if resource["Type"].startswith("AWS::IAM::")}
    provider = config["provider"]
    expected = CI_ACCESS_ENV if ci else dict.fromkeys(CI_ACCESS_ENV)
    assert provider["iam"]["deploymentRole"] == expected["AWS_CLOUDFORMATION_ROLE_ARN"]
    assert provider["deploymentBucketObject"]["name"] == expected["SERVERLESS_DEPLOYMENT_BUCKET"]
    if ci:
        assert provider["iam"]["role"] == CI_ACCESS_ENV["AWS_API_ROLE_ARN"]
        assert config["functions"]["migrate"]["role"] == CI_ACCESS_ENV["AWS_MIGRATION_ROLE_ARN"]
        assert roles == set()
    else:
        assert set(provider["iam"]["role"]) == {"statements"}
        assert config["functions"]["migrate"]["role"] == "MigrationRole"
        assert roles == {"MigrationRole"}


@pytest.mark.xdist_group("package-v4")
@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"GITHUB_ACTIONS": "true"},
            "AWS_API_ROLE_ARN and AWS_MIGRATION_ROLE_ARN are empty: CI deploys through a CloudFormation service role "
            "that cannot create roles, so the functions need the roles of the infra/ci-access.yml stack",
        ),
        (
            {"AWS_API_ROLE_ARN": CI_ACCESS_ENV["AWS_API_ROLE_ARN"]},
            "AWS_API_ROLE_ARN is set but AWS_MIGRATION_ROLE_ARN is empty: set both",
        ),
        (
            {"GITHUB_ACTIONS": "true", "AWS_MIGRATION_ROLE_ARN": CI_ACCESS_ENV["AWS_MIGRATION_ROLE_ARN"]},
            "AWS_MIGRATION_ROLE_ARN is set but AWS_API_ROLE_ARN is empty",
        ),
        (
            {"AWS_API_ROLE_ARN": "ci-api", "AWS_MIGRATION_ROLE_ARN": CI_ACCESS_ENV["AWS_MIGRATION_ROLE_ARN"]},
            "AWS_API_ROLE_ARN must be a role's ARN (arn:aws:iam::ACCOUNT:role/NAME)",
        ),
    ],
    ids=["ci-without-roles", "api-role-only", "migration-role-only", "not-an-arn"],
)
def test_ci_refuses_to_deploy_without_the_roles_of_ci_access(
    v4_package: Package, env: dict[str, str], message: str
) -> None:
    """In GitHub Actions the functions must run with ci-access.yml's roles, since the service role
    creates none; a half-given pair is refused anywhere, naming the missing variable."""
    result = osls_print(v4_package, **env)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


@pytest.mark.xdist_group("package-osls")
def test_the_packaged_template_for_ci_uses_the_bucket_and_ci_access_roles(
    osls_package: Package, tmp_path: Path
) -> None:
    """What CloudFormation receives from CI: no bucket and no IAM role of its own, the code in the named bucket, each
    function on its ci-access.yml role by ARN."""
    # Packaged in a copy: packaging again empties .serverless/, which the other tests of the shared package read.
    project = copy_project(osls_package.infra.parent, tmp_path / osls_package.infra.parent.name)
    (project / "infra" / "node_modules").symlink_to(osls_package.infra / "node_modules")
    output = tmp_path / "ci-package"
    env = {**project_env(PYTHON_BIN=osls_package.python, **PACKAGE_ENV), **CI_ACCESS_ENV, "GITHUB_ACTIONS": "true"}
    run(["npx", "osls", "package", "--stage", "prod", "--package", str(output)], project / "infra", env, 900)
    template = json.loads((output / "cloudformation-template-update-stack.json").read_text())
    resources = template["Resources"]
    assert not [name for name, resource in resources.items() if resource["Type"] == "AWS::S3::Bucket"]
    assert not [name for name, resource in resources.items() if resource["Type"].startswith("AWS::IAM::")]
    functions = [resource for resource in resources.values() if resource["Type"] == "AWS::Lambda::Function"]
    assert [function["Properties"]["Code"]["S3Bucket"] for function in functions] == ["ci-artifacts"] * 2
    roles = [CI_ACCESS_ENV["AWS_API_ROLE_ARN"], CI_ACCESS_ENV["AWS_MIGRATION_ROLE_ARN"]]
    assert [function["Properties"]["Role"] for function in functions] == roles


def test_ci_may_run_the_migration_and_create_its_access_logs(existing_project: Path) -> None:
    """infra/ci-access.yml: the deploy principal may invoke the migrate function (no other); CloudFormation may manage
    the HTTP API's access-log group and turn on log delivery."""
    resources = ci_access_template(existing_project)["Resources"]
    slug = existing_project.name

    def statements(resource: str) -> dict[str, Any]:
        properties = resources[resource]["Properties"]
        document = (
            properties["Policies"][0]["PolicyDocument"] if "Policies" in properties else properties["PolicyDocument"]
        )
        return {statement["Sid"]: statement for statement in document["Statement"]}

    deploy = statements("DeployPolicy")
    invoking = [sid for sid, statement in deploy.items() if "lambda:InvokeFunction" in json.dumps(statement)]
    assert invoking == ["RunTheMigrationFunction"]
    assert deploy["RunTheMigrationFunction"]["Resource"]["Fn::Sub"].endswith(f":function:{slug}-${{Stage}}-migrate")
    service = statements("CloudFormationRole")
    assert any("/aws/http-api/" in entry["Fn::Sub"] for entry in service["LogGroups"]["Resource"])
    assert "logs:CreateLogDelivery" in service["HttpApiAccessLogDelivery"]["Action"]


def test_the_service_role_is_trusted_for_this_account_and_names_only_this_stage(existing_project: Path) -> None:
    """CloudFormation may assume the service role only for this account's stacks; its log-group
    ARNs end in "<stack>-" or the HTTP API's exact group, so stage prod reaches none of prod2's."""
    role = service_role(existing_project)
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    prefix = "arn:aws:logs:ap-northeast-2:123456789012:log-group:"
    statements = {statement["Sid"]: statement for statement in role["Policies"][0]["PolicyDocument"]["Statement"]}
    slug = existing_project.name
    assert statements["LogGroups"]["Resource"] == [
        f"{prefix}/aws/lambda/{slug}-prod-*",
        f"{prefix}/aws/http-api/{slug}-prod",
        f"{prefix}/aws/http-api/{slug}-prod:*",
    ]
    every_resource = [
        resource
        for statement in statements.values()
        for resource in ([statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"])
        if isinstance(resource, str)
    ]
    assert [resource for resource in every_resource if "prod*" in resource] == []


def test_the_service_role_scopes_api_gateway_and_log_delivery_as_far_as_iam_allows(existing_project: Path) -> None:
    """Wildcard resources ("*") only for the actions that take no resource (log delivery, reading the network); the
    account's log resource policy on this region's and account's log groups, as AWS documents it; API Gateway: reading
    anything, creating an API only with this stack's tag, changing and tagging only what carries it, no import (PUT)
    on any API."""
    statements = service_role(existing_project)["Policies"][0]["PolicyDocument"]["Statement"]
    unscoped = {sid["Sid"]: sid["Action"] for sid in statements if sid["Resource"] == "*"}
    assert unscoped == {
        "DescribeLogGroups": "logs:DescribeLogGroups",
        "HttpApiAccessLogDelivery": [
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
        ],
        "DescribeNetwork": ["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"],
        "SavedQueries": ["logs:PutQueryDefinition", "logs:DeleteQueryDefinition", "logs:DescribeQueryDefinitions"],
    }
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert by_sid["LogResourcePolicy"]["Action"] == ["logs:PutResourcePolicy", "logs:DescribeResourcePolicies"]
    assert by_sid["LogResourcePolicy"]["Resource"] == "arn:aws:logs:ap-northeast-2:123456789012:log-group:*"
    gateway = "arn:aws:apigateway:ap-northeast-2::"
    owned = {"StringEquals": {f"aws:ResourceTag/{SCOPE_TAG}": f"{existing_project.name}-prod"}}
    api_gateway = {
        statement["Sid"]: (statement["Action"], statement["Resource"], statement.get("Condition"))
        for statement in statements
        if "apigateway" in json.dumps(statement["Action"])
    }
    assert api_gateway == {
        "ReadHttpApis": ("apigateway:GET", [f"{gateway}/apis", f"{gateway}/apis/*", f"{gateway}/tags/*"], None),
        "CreateHttpApi": (
            "apigateway:POST",
            f"{gateway}/apis",
            {
                "StringEquals": {f"aws:RequestTag/{SCOPE_TAG}": f"{existing_project.name}-prod"},
                "ForAnyValue:StringEquals": {"aws:TagKeys": SCOPE_TAG},
            },
        ),
        "ChangeOwnHttpApi": (["apigateway:POST", "apigateway:PATCH", "apigateway:DELETE"], f"{gateway}/apis/*", owned),
        "TagOwnHttpApi": (
            ["apigateway:POST", "apigateway:PUT"],
            f"{gateway}/tags/*",
            {**owned, "StringEqualsIfExists": {f"aws:RequestTag/{SCOPE_TAG}": f"{existing_project.name}-prod"}},
        ),
        "UntagOwnHttpApi": (
            "apigateway:DELETE",
            f"{gateway}/tags/*",
            {**owned, "ForAllValues:StringNotEquals": {"aws:TagKeys": SCOPE_TAG}},
        ),
    }


# The tag infra/serverless.yml puts on the HTTP API and its stage (provider.tags), with the stack's name as its value:
# what the service role's API Gateway rights require.
SCOPE_TAG = "service-stack"
# API Gateway's write actions (its IAM actions are the HTTP methods), and wildcards that would include them.
API_GATEWAY_WRITES = {"apigateway:POST", "apigateway:PATCH", "apigateway:PUT", "apigateway:DELETE", "apigateway:*", "*"}

# Writes that can reach another service's resources in the account and that AWS offers no way to scope to this
# stack, each with the reason; ci-access.yml says so beside the statement, and the READMEs tell a team that must not
# share them to deploy each service into an account of its own.
UNSCOPABLE_WRITES = {
    "logs:PutResourcePolicy": "the account's CloudWatch Logs resource policy that API Gateway's access-log delivery "
    "writes is account-wide (no resourceArn); the CloudWatch Logs User Guide (Enabling logging from AWS services, "
    "Logs sent to CloudWatch Logs) says to grant it on log-group:*, not on one group",
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def pins_the_stack_tag(condition: Mapping[str, Any], stack: str) -> bool:
    """Whether a statement's condition requires this stack's tag on the resource or in the request."""
    pinned = condition.get("StringEquals", {})
    keys = {f"aws:ResourceTag/{SCOPE_TAG}", f"aws:RequestTag/{SCOPE_TAG}"}
    return any(pinned.get(key) == stack for key in keys)


def test_every_api_gateway_write_of_the_service_role_needs_this_stacks_tag_or_a_named_resource(
    existing_project: Path,
) -> None:
    """What a compromised dependency inside `sls deploy` could submit through the service role: no API Gateway write
    (POST, PATCH, PUT, DELETE) on a wildcard resource unless its condition requires the tag the service stack sets,
    with this stack's name; the only unscoped writes are the ones AWS offers no scope for (UNSCOPABLE_WRITES), which
    ci-access.yml and both READMEs name."""
    stack = f"{existing_project.name}-prod"
    statements = service_role(existing_project)["Policies"][0]["PolicyDocument"]["Statement"]
    unscoped = []
    for statement in statements:
        resources = as_list(statement["Resource"])
        named = all(isinstance(resource, dict) or "*" not in resource for resource in resources)
        scoped = named or pins_the_stack_tag(statement.get("Condition", {}), stack)
        for action in as_list(statement["Action"]):
            if (action in API_GATEWAY_WRITES or action in UNSCOPABLE_WRITES) and not scoped:
                unscoped.append(f"{statement['Sid']}: {action} on {', '.join(map(str, resources))}")
    log_groups = "arn:aws:logs:ap-northeast-2:123456789012:log-group:*"
    assert sorted(unscoped) == [f"LogResourcePolicy: logs:PutResourcePolicy on {log_groups}"], unscoped
    assert sorted({entry.split(": ")[1].split(" on ")[0] for entry in unscoped}) == sorted(UNSCOPABLE_WRITES)
    text = (existing_project / "infra" / "ci-access.yml").read_text()
    assert "account of its own" in text
    # In either language, the README names the action it cannot scope.
    assert "logs:PutResourcePolicy" in (existing_project / "README.md").read_text()


@pytest.mark.xdist_group(PROD_GROUP)
def test_the_packaged_http_api_carries_the_tag_the_service_role_requires(
    prod_package: Package, existing_project: Path
) -> None:
    """What CloudFormation receives from CI creates the HTTP API and its stage with the tag, valued with the stack's
    name, that every API Gateway change of ci-access.yml's service role requires: without it the service could not
    deploy; with another value it could reach another stack's API."""
    stack = f"{prod_package.infra.parent.name}-prod"
    resources = packaged_template(prod_package)["Resources"]
    tagged = {
        name: resources[name]["Properties"].get("Tags", {}).get(SCOPE_TAG) for name in ("HttpApi", "HttpApiStage")
    }
    assert tagged == {"HttpApi": stack, "HttpApiStage": stack}
    required = {
        value
        for statement in service_role(existing_project)["Policies"][0]["PolicyDocument"]["Statement"]
        for operator in statement.get("Condition", {}).values()
        for key, value in operator.items()
        if key.endswith(f"Tag/{SCOPE_TAG}")
    }
    assert required == {stack}


def test_the_service_role_manages_only_this_stages_alarms_topic_dashboard_and_metric_filter(
    existing_project: Path,
) -> None:
    """The operations resources of serverless.yml (custom.operations): the topic <stack>-alarms and its
    subscriptions, the alarms named "<stack>-...", the dashboard <stack>, the metric filter on the API function's
    log group; each with exactly the actions CloudFormation needs for it."""
    slug = existing_project.name
    statements = service_role(existing_project)["Policies"][0]["PolicyDocument"]["Statement"]
    by_sid = {statement["Sid"]: statement for statement in statements}
    topic = f"arn:aws:sns:ap-northeast-2:123456789012:{slug}-prod-alarms"
    assert by_sid["AlarmTopic"]["Resource"] == [topic, f"{topic}:*"]
    assert sorted(by_sid["AlarmTopic"]["Action"]) == [
        f"sns:{action}"
        for action in sorted(
            [
                "CreateTopic",
                "DeleteTopic",
                "GetTopicAttributes",
                "SetTopicAttributes",
                "ListSubscriptionsByTopic",
                "Subscribe",
                "Unsubscribe",
                "GetSubscriptionAttributes",
                "SetSubscriptionAttributes",
                "TagResource",
                "UntagResource",
                "ListTagsForResource",
            ]
        )
    ]
    assert by_sid["Alarms"]["Resource"] == f"arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:{slug}-prod-*"
    assert by_sid["Alarms"]["Action"] == [
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:TagResource",
        "cloudwatch:UntagResource",
        "cloudwatch:ListTagsForResource",
    ]
    assert by_sid["Dashboard"] == {
        "Sid": "Dashboard",
        "Effect": "Allow",
        "Action": ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"],
        "Resource": f"arn:aws:cloudwatch::123456789012:dashboard/{slug}-prod",
    }
    api_log_group = f"arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/lambda/{slug}-prod-api"
    assert by_sid["MetricFilter"] == {
        "Sid": "MetricFilter",
        "Effect": "Allow",
        "Action": ["logs:PutMetricFilter", "logs:DeleteMetricFilter", "logs:DescribeMetricFilters"],
        "Resource": [api_log_group, f"{api_log_group}:*"],
    }
    # No other statement reaches SNS or CloudWatch.
    others = [sid for sid, statement in by_sid.items() if re.search(r'"(sns|cloudwatch):', json.dumps(statement))]
    assert sorted(others) == ["AlarmTopic", "Alarms", "Dashboard"]


def test_the_artifacts_bucket_is_versioned_and_its_access_logged(existing_project: Path) -> None:
    """Old packages kept as versions for 30 days; S3 server access logs into a private, versioned,
    TLS-only bucket that only S3's log delivery for the artifacts bucket of this account may write."""
    resources = evaluated(ci_access_template(existing_project), {"DatabaseSecretArn": SECRET_ARN})
    bucket = resources["DeploymentBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": "AccessLogBucket"},
        "LogFilePrefix": "deployment-bucket/",
    }
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    logs = resources["AccessLogBucket"]["Properties"]
    assert logs["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(logs["PublicAccessBlockConfiguration"].values()) == {True}
    delivery, tls = resources["AccessLogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["DeploymentBucket", "Arn"]}},
    }
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": False}}


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"aws_credentials": "access_keys", "db_credentials": "environment", "serverless_flavour": "osls"},
        {"db_credentials": "iam"},
    ],
    ids=["default", "access_keys-environment-osls", "iam"],
)
def test_ci_access_passes_cfn_lint_and_checkov(cookies_session: Cookies, answers: dict[str, str]) -> None:
    """Checkov finds nothing in ci-access.yml (the one resource it skips says why, in the file)."""
    with render_only():
        result = cookies_session.bake(extra_context={"project_slug": "ci-access-check", **answers})
    assert result.exit_code == 0, result.exception
    path = Path(result.project_path) / "infra" / "ci-access.yml"
    run([tool("cfn-lint"), str(path)], path.parent)
    assert checkov_failures(path, {}) == []


def ci_access_parameters(project: Path) -> set[str]:
    """The Parameters infra/ci-access.yml declares."""
    return set(ci_access_template(project)["Parameters"])


def ci_access_calls(slug: str, parameters: str) -> list[str]:
    """The aws calls of one `make -C infra ci-access`: the stack deployed with these parameters, then its outputs."""
    stack = f"--region ap-northeast-2 --stack-name {slug}-ci-access-prod"
    return [
        f"cloudformation deploy --region ap-northeast-2 --template-file ci-access.yml --stack-name"
        f" {slug}-ci-access-prod --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset"
        f" --parameter-overrides {parameters}",
        f"cloudformation describe-stacks {stack} --query Stacks[0].Outputs[].[Description,OutputValue] --output table",
    ]


def test_make_ci_access_creates_the_stack_and_prints_its_outputs(rendered_project: Path, stubs: Path) -> None:
    refused = subprocess.run(
        ["make", "-C", "infra", "ci-access"], cwd=rendered_project, env=stub_env(stubs), capture_output=True, text=True
    )
    assert refused.returncode != 0 and "Set REPOSITORY=OWNER/REPO" in refused.stdout + refused.stderr
    assert calls(stubs, "aws") == []
    run(["make", "-C", "infra", "ci-access", "REPOSITORY=acme/shop"], rendered_project, stub_env(stubs))
    assert calls(stubs, "aws") == ci_access_calls("scripts-check", "Stage=prod GitHubRepository=acme/shop")


def test_make_ci_access_passes_the_oidc_provider_it_is_given(rendered_project: Path, stubs: Path) -> None:
    provider = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    run(
        ["make", "-C", "infra", "ci-access", "REPOSITORY=acme/shop", f"OIDC_PROVIDER_ARN={provider}"],
        rendered_project,
        stub_env(stubs),
    )
    parameters = f"Stage=prod GitHubRepository=acme/shop GitHubOidcProviderArn={provider}"
    assert calls(stubs, "aws") == ci_access_calls("scripts-check", parameters)


def test_make_ci_access_with_every_setting_passes_exactly_those_parameters(rendered_project: Path, stubs: Path) -> None:
    """Every setting the stack's header lists reaches the stack under the name the stack declares (CloudFormation
    refuses any other), with its value, and nothing else does."""
    secret = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:scripts-check/prod/db-AbCdEf"
    migration_secret = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:scripts-check/prod/ddl-AbCdEf"
    key = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    settings = [
        f"DB_SECRET_ARN={secret}",
        f"DB_MIGRATION_SECRET_ARN={migration_secret}",
        f"DB_SECRET_KMS_KEY_ARN={key}",
    ]
    run(
        ["make", "-C", "infra", "ci-access", "REPOSITORY=acme/shop", *settings, "VPC=true"],
        rendered_project,
        stub_env(stubs),
    )
    deploy, _ = calls(stubs, "aws")
    passed = parameter_overrides(deploy)
    assert passed == {
        "Stage": "prod",
        "GitHubRepository": "acme/shop",
        "DatabaseSecretArn": secret,
        "MigrationSecretArn": migration_secret,
        "SecretKmsKeyArn": key,
        "FunctionsInVpc": "true",
    }
    assert set(passed) <= ci_access_parameters(rendered_project)


@pytest.mark.xdist_group(IAM_GROUP)
def test_make_ci_access_of_the_iam_mode_passes_the_database_login_and_the_migration_secret(
    iam_project: Path, stubs: Path
) -> None:
    """The IAM mode's settings reach the stack under the names it declares: whose login the API role may use and the
    one secret the migration role may read; no DB_SECRET_ARN is asked for or passed."""
    settings = [
        f"DB_RESOURCE_ID={DATABASE_RESOURCE_ID}",
        "DB_USER=app_rw",
        f"DB_MIGRATION_SECRET_ARN={MIGRATION_SECRET_ARN}",
        f"DB_SECRET_KMS_KEY_ARN={KMS_KEY_ARN}",
        f"DB_SECRET_ARN={SECRET_ARN}",
    ]
    run(["make", "-C", "infra", "ci-access", "REPOSITORY=acme/shop", *settings], iam_project, stub_env(stubs))
    deploy, _ = calls(stubs, "aws")
    passed = parameter_overrides(deploy)
    assert passed == {
        "Stage": "prod",
        "GitHubRepository": "acme/shop",
        "DatabaseResourceId": DATABASE_RESOURCE_ID,
        "DatabaseUser": "app_rw",
        "MigrationSecretArn": MIGRATION_SECRET_ARN,
        "SecretKmsKeyArn": KMS_KEY_ARN,
    }
    assert set(passed) <= ci_access_parameters(iam_project)


def test_make_ci_access_with_access_keys_needs_no_repository(alternative_project: Path, stubs: Path) -> None:
    run(["make", "-C", "infra", "ci-access"], alternative_project, stub_env(stubs))
    assert calls(stubs, "aws") == ci_access_calls("alt-backend", "Stage=prod")
    assert set(parameter_overrides(calls(stubs, "aws")[0])) <= ci_access_parameters(alternative_project)
