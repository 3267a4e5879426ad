"""The default bake (database=aurora) deploys against the database stack of its stage (infra/database.yml): packaging
needs nothing about the database, the functions run in the stack's subnets and security group, the API logs in with
IAM tokens as the stack's app user on its cluster or proxy and reads no secret, the migration alone reads the
cluster's master secret; every value arrives by import of an output the database stack exports, for the service's
stack and for the roles of infra/ci-access.yml alike."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cfnlint.decode import cfn_yaml

from tests.cloudformation import (
    TRACE_ACTIONS,
    ci_access_template,
    evaluated,
    function_properties,
    packaged_template,
    role_statements,
)
from tests.conftest import default_context, project_env
from tests.harness import LambdaProcess
from tests.lambda_events import http_api_event
from tests.packages import AURORA_GROUP, Package
from tests.packaging_tools import CA_BUNDLE, unpacked_read_only

pytestmark = pytest.mark.slow

SLUG = default_context()["project_slug"]
VPC_ACCESS_POLICY = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"


def imported(output: str, stage: str = "prod") -> dict[str, str]:
    """An output of the stage's database stack as the service's stack imports it."""
    return {"Fn::ImportValue": f"{SLUG}-database-{stage}-{output}"}


def import_names(node: Any) -> Iterator[str]:
    """Every export name a template imports."""
    if isinstance(node, list):
        for item in node:
            yield from import_names(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::ImportValue":
                yield value
            else:
                yield from import_names(value)


def database_exports(project: Path, stage: str) -> set[str]:
    """The export names of the stage's database stack (Outputs of infra/database.yml, stack <slug>-database-<stage>)."""
    template = cfn_yaml.loads((project / "infra" / "database.yml").read_text())
    exports = evaluated(template, {"Stage": stage, "AWS::StackName": f"{SLUG}-database-{stage}"}, "Outputs")
    return {output["Export"]["Name"] for output in exports.values()}


@pytest.mark.xdist_group(AURORA_GROUP)
def test_the_api_logs_in_with_iam_tokens_in_the_database_stacks_network(aurora_package: Package) -> None:
    """The API function's database settings and network are the stack's imports; it signs IAM tokens and reads no
    secret; its role may connect as the stack's app user on the stack's cluster or proxy, and nothing else besides its
    logs, traces and network interfaces."""
    resources = packaged_template(aurora_package)["Resources"]
    api = function_properties(resources)["api"]
    variables = api["Environment"]["Variables"]
    assert {name: variables[name] for name in ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER")} == {
        "DB_HOST": imported("DatabaseHost"),
        "DB_PORT": imported("DatabasePort"),
        "DB_NAME": imported("DatabaseName"),
        "DB_USER": imported("AppUser"),
    }
    assert variables["DB_IAM_AUTH"] == "true" and variables["DB_SSL_CA"] == str(CA_BUNDLE)
    assert [name for name in ("DB_SECRET_ARN", "DB_PASSWORD", "DB_APP_USER") if name in variables] == []
    network = {
        "SecurityGroupIds": [imported("FunctionSecurityGroupId")],
        "SubnetIds": {"Fn::Split": [",", imported("SubnetIds")]},
    }
    assert api["VpcConfig"] == network
    statements = role_statements(resources, "IamRoleLambdaExecution")
    assert [statement["Action"] for statement in statements[:2]] == [
        ["logs:CreateLogStream", "logs:CreateLogGroup", "logs:TagResource"],
        ["logs:PutLogEvents"],
    ]
    login = {
        "Effect": "Allow",
        "Action": ["rds-db:connect"],
        "Resource": {
            "Fn::Sub": [
                "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${ResourceId}/${User}",
                {"ResourceId": imported("ConnectResourceId"), "User": imported("AppUser")},
            ]
        },
    }
    assert statements[2:] == [login, {"Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": ["*"]}]
    policies = resources["IamRoleLambdaExecution"]["Properties"]["ManagedPolicyArns"]
    assert ["AWSLambdaVPCAccessExecutionRole" in json.dumps(policy) for policy in policies] == [True]


@pytest.mark.xdist_group(AURORA_GROUP)
def test_only_the_migration_reads_the_master_secret_on_the_cluster_itself(aurora_package: Package) -> None:
    """The migration logs in as the master user on the cluster's endpoint (the proxy admits IAM logins only), makes
    sure of the API's user, and its role alone reads the master secret, decrypting with the stack's key only through
    Secrets Manager for that secret."""
    resources = packaged_template(aurora_package)["Resources"]
    migrate = function_properties(resources)["migrate"]
    variables = migrate["Environment"]["Variables"]
    assert variables["DB_HOST"] == imported("ClusterHost") and variables["DB_SECRET_ARN"] == imported("MasterSecretArn")
    assert variables["DB_APP_USER"] == imported("AppUser") and "DB_IAM_AUTH" not in variables
    assert migrate["VpcConfig"]["SecurityGroupIds"] == [imported("FunctionSecurityGroupId")]
    assert role_statements(resources, "MigrationRole")[2:] == [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": imported("MasterSecretArn")},
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": imported("DatabaseKeyArn"),
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.${AWS::URLSuffix}"},
                    "kms:EncryptionContext:SecretARN": imported("MasterSecretArn"),
                }
            },
        },
    ]
    assert resources["MigrationRole"]["Properties"]["ManagedPolicyArns"] == [{"Fn::Sub": VPC_ACCESS_POLICY}]
    outside_migration = {name: value for name, value in resources.items() if name not in {"MigrationRole"}}
    outside_migration["MigrateLambdaFunction"] = {
        **migrate,
        "Environment": {"Variables": {k: v for k, v in variables.items() if k != "DB_SECRET_ARN"}},
    }
    assert "MasterSecretArn" not in json.dumps(outside_migration) and "kms:" not in json.dumps(outside_migration)


@pytest.mark.xdist_group(AURORA_GROUP)
def test_every_import_of_the_service_names_an_export_of_its_database_stack(
    aurora_package: Package, default_project: Path
) -> None:
    """A name the database stack does not export would fail the deploy in CloudFormation; here it fails offline."""
    names = set(import_names(packaged_template(aurora_package)))
    assert names and names <= database_exports(default_project, "prod")
    assert len(names) == 10, sorted(names)


def test_the_ci_roles_take_the_database_from_the_stacks_exports(default_project: Path) -> None:
    """ci-access.yml of the default bake, for a stage: the API role connects as the stack's app user on its cluster or
    proxy and reads no secret; the migration role reads the master secret and its key through Secrets Manager; both
    manage the network interfaces of functions that always run in the VPC; every import is an export of the stage's
    database stack."""
    template = ci_access_template(default_project)
    assert not {"FunctionsInVpc", "DatabaseResourceId", "MigrationSecretArn"} & set(template["Parameters"])
    resources = evaluated(template, {"Stage": "dev"})
    assert set(import_names(resources)) <= database_exports(default_project, "dev")
    api_role, migration_role = (resources[name]["Properties"] for name in ("ApiFunctionRole", "MigrationFunctionRole"))
    (api_policy,) = api_role["Policies"]
    login = api_policy["PolicyDocument"]["Statement"][-1]
    assert login["Sid"] == "DatabaseLogin" and login["Action"] == "rds-db:connect"
    assert login["Resource"] == {
        "Fn::Sub": [
            "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${ResourceId}/${User}",
            {"ResourceId": imported("ConnectResourceId", "dev"), "User": imported("AppUser", "dev")},
        ]
    }
    assert "secretsmanager" not in json.dumps(api_role) and "kms:" not in json.dumps(api_role)
    (migration_policy,) = migration_role["Policies"]
    secret, key = migration_policy["PolicyDocument"]["Statement"][-2:]
    assert secret == {
        "Sid": "DatabaseSecret",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": imported("MasterSecretArn", "dev"),
    }
    assert key["Resource"] == imported("DatabaseKeyArn", "dev") and key["Action"] == "kms:Decrypt"
    assert key["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == imported("MasterSecretArn", "dev")
    vpc_access = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    assert api_role["ManagedPolicyArns"] == migration_role["ManagedPolicyArns"] == [vpc_access]


def test_packaging_asks_nothing_about_the_database(default_project: Path) -> None:
    """`make package`'s check of the deploying shell, with nothing set: only what auth (and v4's org) need."""
    env = project_env()
    for name in ("DB_HOST", "DB_SECRET_ARN", "DB_RESOURCE_ID", "JWT_ISSUER_URL", "JWT_AUDIENCE", "SERVERLESS_ORG"):
        env.pop(name, None)
    completed = subprocess.run(
        ["make", "-s", "check-env"], cwd=default_project / "infra", env=env, capture_output=True, text=True
    )
    assert completed.returncode != 0
    missing = "SERVERLESS_ORG JWT_ISSUER_URL JWT_AUDIENCE"
    assert (
        completed.stdout.strip() == f"Missing environment variables: {missing} (see .env.example in the project root)"
    )


# The project's own stand-ins for Aurora (its tests/iam_login_server.py) and for a server that offers no TLS, run with
# the bake's Python from the bake's folder: it writes a throwaway CA to argv[1], prints both ports, serves until its
# standard input closes, then prints what each server received.
FAKE_SERVERS = """
import json, ssl, sys
import trustme
from tests.downgrading_server import DowngradingServer
from tests.iam_login_server import IamLoginServer
authority = trustme.CA()
authority.cert_pem.write_to_path(sys.argv[1])
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
authority.issue_cert("127.0.0.1").configure_cert(context)
aurora, plain = IamLoginServer(context), DowngradingServer()
print(json.dumps({"aurora": aurora.port, "plain": plain.port}), flush=True)
sys.stdin.read()
logins = [[login.user, login.clear_text_password] for login in aurora.logins]
print(json.dumps({"logins": logins, "plain": plain.received.decode("latin-1"), "greeted": plain.greeted}), flush=True)
"""
# The credentials Lambda gives the API function (its role's), with a session token as Lambda's always have.
FUNCTION_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEFUNCTION1",
    "AWS_SECRET_ACCESS_KEY": "sentinel-function-secret-key",
    "AWS_SESSION_TOKEN": "sentinel-function-session-token",
    "AWS_REGION": "ap-northeast-2",
}


@pytest.mark.xdist_group(AURORA_GROUP)
def test_the_packaged_api_sends_its_token_only_inside_tls_as_the_clear_text_answer(
    aurora_package: Package, default_project: Path, tmp_path: Path
) -> None:
    """The unzipped prod package's API function, with the environment its template gives it (the imports swapped for
    loopback values) and a throwaway CA as its bundle: against a stand-in for Aurora, the readiness probe's login sends
    an IAM token for the app user as the answer to the switch to mysql_clear_password, inside verified TLS; against a
    server that offers no TLS, nothing of a token or a secret leaves the function."""
    template = packaged_template(aurora_package)["Resources"]["ApiLambdaFunction"]["Properties"]
    packaged = {key: value for key, value in template["Environment"]["Variables"].items() if isinstance(value, str)}
    bundle = tmp_path / "ca.pem"
    servers = subprocess.Popen(
        [str(default_project / ".venv" / "bin" / "python"), "-c", FAKE_SERVERS, str(bundle)],
        cwd=default_project,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert servers.stdin is not None and servers.stdout is not None
    try:
        ports = json.loads(servers.stdout.readline())
        statuses = {}
        with unpacked_read_only(aurora_package.zip_path, tmp_path / "task") as task:
            for name, port in ports.items():
                env = {
                    **packaged,
                    **FUNCTION_CREDENTIALS,
                    "AWS_LAMBDA_FUNCTION_NAME": "api",
                    "DB_HOST": "127.0.0.1",
                    "DB_PORT": str(port),
                    "DB_NAME": "challenge",
                    "DB_USER": "app",
                    "DB_SSL_CA": str(bundle),
                }
                function = LambdaProcess(aurora_package.python, task, env, tmp_path / f"{name}.log")
                try:
                    response = function.invoke("main.handler", http_api_event("GET", "/health/ready"))
                finally:
                    function.close()
                statuses[name] = response["statusCode"]
        servers.stdin.close()
        received = json.loads(servers.stdout.readline())
    finally:
        servers.kill()
        servers.wait()
    assert statuses == {"aurora": 503, "plain": 503}, (tmp_path / "aurora.log").read_text()
    assert received["logins"] and {user for user, _ in received["logins"]} == {"app"}
    for _, token in received["logins"]:
        address = urlsplit(f"//{token}")
        assert (address.hostname, address.port, address.path) == ("127.0.0.1", ports["aurora"], "/")
        query = parse_qs(address.query, strict_parsing=True)
        assert query["Action"] == ["connect"] and query["DBUser"] == ["app"] and query["X-Amz-Expires"] == ["900"]
        assert query["X-Amz-Credential"][0].startswith("ASIAEXAMPLEFUNCTION1/")
        assert query["X-Amz-Credential"][0].endswith("/ap-northeast-2/rds-db/aws4_request")
        assert query["X-Amz-Security-Token"] == ["sentinel-function-session-token"]
    assert received["greeted"] >= 1
    assert "X-Amz" not in received["plain"] and "sentinel" not in received["plain"]
