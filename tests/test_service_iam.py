"""What the functions may do: the roles of a workstation deploy (this stack creates them) and those of
infra/ci-access.yml (CI deploys with them), each reading exactly its own secret, its key only through Secrets Manager,
its own log group; the environments naming the secrets, never a password; the environment mode granting no secret;
the IAM mode's API logging in as one database user with no secret, its migration alone reading one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cloudformation import (
    TRACE_ACTIONS,
    ci_access_template,
    evaluated,
    function_properties,
    packaged_template,
    role_statements,
)
from tests.packages import (
    CI_ACCESS_ENV,
    DATABASE_RESOURCE_ID,
    IAM_GROUP,
    KMS_KEY_ARN,
    MIGRATION_SECRET_ARN,
    PROD_GROUP,
    SECRET_ARN,
    Package,
)
from tests.packaging_tools import CA_BUNDLE

pytestmark = pytest.mark.slow

# What a production deployment gets, read from the packaged CloudFormation.
LOG_ACTIONS = {"logs:CreateLogStream", "logs:CreateLogGroup", "logs:TagResource", "logs:PutLogEvents"}

NO_VALUE = {"Ref": "AWS::NoValue"}


def kms_statement(secret_arn: str, action: str | list[str]) -> dict[str, Any]:
    """kms:Decrypt on the given key, only through Secrets Manager in the secret's region, only for that secret."""
    return {
        "Effect": "Allow",
        "Action": action,
        "Resource": KMS_KEY_ARN,
        "Condition": {
            "StringEquals": {
                "kms:ViaService": {"Fn::Sub": "secretsmanager.ap-northeast-2.${AWS::URLSuffix}"},
                "kms:EncryptionContext:SecretARN": secret_arn,
            }
        },
    }


def expected_api_statements(kms: bool) -> list[dict[str, Any]]:
    """The API role's statements besides the framework's two log statements (which the framework writes with lists
    of actions), ending with the one the framework adds for active tracing."""
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": SECRET_ARN}
    ]
    traces = {"Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": ["*"]}
    return statements + ([kms_statement(SECRET_ARN, ["kms:Decrypt"])] if kms else []) + [traces]


def expected_migration_statements(secret_arn: str | None, kms: bool) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": ["MigrateLogGroup", "Arn"]},
        },
        {"Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": "*"},
    ]
    if secret_arn:
        statements.append({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn})
    return statements + ([kms_statement(secret_arn, "kms:Decrypt")] if secret_arn and kms else [])


def assert_framework_log_statements(statements: list[dict[str, Any]], slug: str, stage: str) -> None:
    """The two statements the framework writes: its functions' log groups, nothing else."""
    assert len(statements) == 2
    for statement in statements:
        assert set(statement["Action"]) <= LOG_ACTIONS
        assert all(f":log-group:/aws/lambda/{slug}-{stage}*:" in entry["Fn::Sub"] for entry in statement["Resource"])


@pytest.mark.xdist_group("package-v4")
def test_each_role_may_read_exactly_its_secret(v4_package: Package) -> None:
    """A workstation deploy (no ci-access.yml roles given), where this stack creates the roles: the API role reads
    DB_SECRET_ARN; MigrationRole writes its own log group and reads its own secret (DB_MIGRATION_SECRET_ARN, or else
    DB_SECRET_ARN), with the VPC policy only in a VPC. The environments name the secrets, never a password."""
    resources = packaged_template(v4_package)["Resources"]
    api_statements = role_statements(resources, "IamRoleLambdaExecution")
    assert_framework_log_statements(api_statements[:2], v4_package.infra.parent.name, "dev")
    assert api_statements[2:] == expected_api_statements(kms=False)
    migration = resources["MigrationRole"]["Properties"]
    assert role_statements(resources, "MigrationRole") == expected_migration_statements(SECRET_ARN, kms=False)
    assert migration["ManagedPolicyArns"] == NO_VALUE
    assert "PermissionsBoundary" not in migration
    assert "PermissionsBoundary" not in resources["IamRoleLambdaExecution"]["Properties"]
    functions = function_properties(resources)
    assert functions["migrate"]["Role"] == {"Fn::GetAtt": ["MigrationRole", "Arn"]}
    environments = {name: properties["Environment"]["Variables"] for name, properties in functions.items()}
    assert [environment["DB_SECRET_ARN"] for environment in environments.values()] == [SECRET_ARN, SECRET_ARN]
    assert [name for name, environment in environments.items() if "DB_PASSWORD" in environment] == []
    assert [name for name, environment in environments.items() if "DB_APP_USER" in environment] == []
    assert [environment["DB_SSL_CA"] for environment in environments.values()] == [str(CA_BUNDLE)] * 2


LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        }
    ],
}

VPC_ACCESS_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"


def ci_role_statements(slug: str, function: str, secret_arn: str, kms: bool) -> list[dict[str, Any]]:
    """What ci-access.yml's role of one function allows in the prod stage: its own log group, exactly its secret, and
    that secret's key only through Secrets Manager when a key is given."""
    log_group = f"arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/lambda/{slug}-prod-{function}:*"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": log_group,
        },
        {"Sid": "Traces", "Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": "*"},
        {"Sid": "DatabaseSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn},
    ]
    if kms:
        key = kms_statement(secret_arn, "kms:Decrypt")
        key["Condition"]["StringEquals"]["kms:ViaService"] = "secretsmanager.ap-northeast-2.amazonaws.com"
        statements.append({"Sid": "DatabaseSecretKey", **key})
    return statements


@pytest.mark.parametrize(
    ("settings", "migration_secret", "kms", "vpc"),
    [
        (
            {
                "MigrationSecretArn": MIGRATION_SECRET_ARN,
                "SecretKmsKeyArn": KMS_KEY_ARN,
                "FunctionsInVpc": "true",
            },
            MIGRATION_SECRET_ARN,
            True,
            True,
        ),
        ({}, SECRET_ARN, False, False),
    ],
    ids=["prod-settings", "defaults"],
)
def test_ci_access_roles_may_read_exactly_their_secrets(
    existing_project: Path, settings: dict[str, str], migration_secret: str, kms: bool, vpc: bool
) -> None:
    """The functions' roles CI deploys with are ci-access.yml's, created by the administrator, with
    exactly the statements a workstation deploy's roles get: trusted by Lambda for this account only, each its own
    log group, its own secret (the migration's, or else DB_SECRET_ARN) and its key through Secrets Manager, and the
    VPC policy only with FunctionsInVpc."""
    slug = existing_project.name
    resources = evaluated(ci_access_template(existing_project), {"DatabaseSecretArn": SECRET_ARN, **settings})
    roles = {name: resources[name]["Properties"] for name in ("ApiFunctionRole", "MigrationFunctionRole")}
    expected = {
        "ApiFunctionRole": ci_role_statements(slug, "api", SECRET_ARN, kms),
        "MigrationFunctionRole": ci_role_statements(slug, "migrate", migration_secret, kms),
    }
    for name, role in roles.items():
        (policy,) = role["Policies"]
        assert policy["PolicyDocument"]["Statement"] == expected[name], name
        assert role["AssumeRolePolicyDocument"] == LAMBDA_TRUST
        assert role.get("ManagedPolicyArns") == ([VPC_ACCESS_POLICY_ARN] if vpc else None)
        assert set(role) == {
            "Description",
            "AssumeRolePolicyDocument",
            "Policies",
            *(["ManagedPolicyArns"] if vpc else []),
        }


@pytest.mark.xdist_group(PROD_GROUP)
def test_the_prod_package_runs_with_the_ci_access_roles(prod_package: Package) -> None:
    """The packaged prod template, as CI builds it, creates no IAM resource: each function names its ci-access.yml
    role by ARN. The environments name the secrets (the migration's own), never a password."""
    resources = packaged_template(prod_package)["Resources"]
    assert [name for name, resource in resources.items() if resource["Type"].startswith("AWS::IAM::")] == []
    functions = function_properties(resources)
    roles = [CI_ACCESS_ENV["AWS_API_ROLE_ARN"], CI_ACCESS_ENV["AWS_MIGRATION_ROLE_ARN"]]
    assert [properties["Role"] for properties in functions.values()] == roles
    environments = {name: properties["Environment"]["Variables"] for name, properties in functions.items()}
    assert [environment["DB_SECRET_ARN"] for environment in environments.values()] == [SECRET_ARN, MIGRATION_SECRET_ARN]
    assert [name for name, environment in environments.items() if "DB_PASSWORD" in environment] == []
    assert [name for name, environment in environments.items() if "DB_APP_USER" in environment] == []
    assert [environment["DB_SSL_CA"] for environment in environments.values()] == [str(CA_BUNDLE)] * 2


@pytest.mark.xdist_group("package-environment")
def test_the_environment_mode_packages_the_password_and_grants_no_secret(environment_package: Package) -> None:
    """db_credentials=environment: the reference's DB_PASSWORD in both functions' environment, no secret ARN and no
    Secrets Manager or KMS statement in any role."""
    resources = packaged_template(environment_package)["Resources"]
    environments = [properties["Environment"]["Variables"] for properties in function_properties(resources).values()]
    assert [environment["DB_PASSWORD"] for environment in environments] == ["placeholder"] * 2
    assert [environment for environment in environments if "DB_SECRET_ARN" in environment] == []
    assert [environment for environment in environments if "DB_APP_USER" in environment] == []
    api_statements = role_statements(resources, "IamRoleLambdaExecution")
    assert_framework_log_statements(api_statements[:2], "env-backend", "dev")
    # Nothing but the logs and, for active tracing, X-Ray.
    assert api_statements[2:] == [{"Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": ["*"]}]
    assert role_statements(resources, "MigrationRole") == expected_migration_statements(None, kms=False)
    assert "secretsmanager" not in json.dumps(resources) and "kms:" not in json.dumps(resources)


def database_login(user: str) -> dict[str, Any]:
    """rds-db:connect as exactly this user of exactly the iam bake's cluster (the action as a list, as the framework
    writes every statement of the role it creates)."""
    return {
        "Effect": "Allow",
        "Action": ["rds-db:connect"],
        "Resource": {
            "Fn::Sub": f"arn:${{AWS::Partition}}:rds-db:${{AWS::Region}}:${{AWS::AccountId}}:dbuser:"
            f"{DATABASE_RESOURCE_ID}/{user}"
        },
    }


@pytest.mark.xdist_group(IAM_GROUP)
def test_the_iam_mode_api_logs_in_with_a_token_and_only_the_migration_reads_a_secret(iam_package: Package) -> None:
    """db_credentials=iam, prod from a workstation: the API function's environment says DB_IAM_AUTH and names no
    secret or password; its role may connect as its one database user on the cluster (besides its logs, its traces
    and, in the VPC, its network interfaces) and reads nothing from Secrets Manager or KMS. The migration function
    alone reads a secret, its own, with its key through Secrets Manager."""
    resources = packaged_template(iam_package)["Resources"]
    api, migrate = (properties["Environment"]["Variables"] for properties in function_properties(resources).values())
    assert api["DB_IAM_AUTH"] == "true"
    assert {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER"} <= set(api) and api["DB_SSL_CA"] == str(CA_BUNDLE)
    assert [name for name in ("DB_SECRET_ARN", "DB_PASSWORD") if name in api] == []
    assert "DB_PASSWORD" not in migrate and "DB_IAM_AUTH" not in migrate
    assert migrate["DB_SECRET_ARN"] == MIGRATION_SECRET_ARN
    # The migration makes sure the API's own user exists (app/database/app_user.py); the API never provisions.
    assert migrate["DB_APP_USER"] == api["DB_USER"] and "DB_APP_USER" not in api
    api_role = resources["IamRoleLambdaExecution"]["Properties"]
    api_statements = role_statements(resources, "IamRoleLambdaExecution")
    assert_framework_log_statements(api_statements[:2], "iam-backend", "prod")
    traces = {"Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": ["*"]}
    assert api_statements[2:] == [database_login(api["DB_USER"]), traces]
    assert ["AWSLambdaVPCAccessExecutionRole" in json.dumps(policy) for policy in api_role["ManagedPolicyArns"]] == [
        True
    ]
    assert role_statements(resources, "MigrationRole") == expected_migration_statements(MIGRATION_SECRET_ARN, kms=True)
    migration = {"MigrationRole", "MigrateLambdaFunction"}
    outside_migration = {name: resource for name, resource in resources.items() if name not in migration}
    assert "secretsmanager" not in json.dumps(outside_migration) and "kms:" not in json.dumps(outside_migration)


@pytest.mark.xdist_group(IAM_GROUP)
@pytest.mark.parametrize(("kms", "vpc"), [(True, True), (False, False)], ids=["prod-settings", "defaults"])
def test_ci_access_roles_in_the_iam_mode(iam_project: Path, kms: bool, vpc: bool) -> None:
    """ci-access.yml of an iam bake: the API role may connect as the one database user (DatabaseUser, the bake's
    db_user by default) on the one cluster, and reads no secret and no key; the migration role reads exactly the
    migration secret, and its key through Secrets Manager when one is given."""
    parameters = {"DatabaseResourceId": DATABASE_RESOURCE_ID, "MigrationSecretArn": MIGRATION_SECRET_ARN}
    if kms:
        parameters["SecretKmsKeyArn"] = KMS_KEY_ARN
    if vpc:
        parameters["FunctionsInVpc"] = "true"
    resources = evaluated(ci_access_template(iam_project), parameters)
    api_role, migration_role = (resources[name]["Properties"] for name in ("ApiFunctionRole", "MigrationFunctionRole"))
    (api_policy,) = api_role["Policies"]
    own_logs, traces = ci_role_statements("iam-backend", "api", SECRET_ARN, kms=False)[:2]
    login = {
        "Sid": "DatabaseLogin",
        "Effect": "Allow",
        "Action": "rds-db:connect",
        "Resource": f"arn:aws:rds-db:ap-northeast-2:123456789012:dbuser:{DATABASE_RESOURCE_ID}/app",
    }
    assert api_policy["PolicyDocument"]["Statement"] == [own_logs, traces, login]
    (migration_policy,) = migration_role["Policies"]
    expected = ci_role_statements("iam-backend", "migrate", MIGRATION_SECRET_ARN, kms)
    assert migration_policy["PolicyDocument"]["Statement"] == expected
    for role in (api_role, migration_role):
        assert role["AssumeRolePolicyDocument"] == LAMBDA_TRUST
        assert role.get("ManagedPolicyArns") == ([VPC_ACCESS_POLICY_ARN] if vpc else None)
