"""What the deploying shell decides and how its mistakes are refused before anything reaches AWS: the network
(VPC from the environment or SSM), limits and logs, the settings infra/deploy-settings.js checks and what packaging
says it built; the Makefile's refusals (database settings, the CA bundle), `make ca-bundle` and `make migrate-<stage>`
with stand-ins; the Secrets Manager endpoint stack for functions in a VPC. These run without packaging, or read the
session's packages (tests/packages.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import trustme
from cfnlint.decode import cfn_yaml
from pytest_cookies.plugin import Cookies

from tests.cloudformation import checkov_failures, function_properties, packaged_template
from tests.conftest import project_env, render_only, require_commands, run, tool
from tests.packages import (
    CI_ACCESS_ENV,
    DATABASE_RESOURCE_ID,
    IAM_GROUP,
    MIGRATION_SECRET_ARN,
    PROD_GROUP,
    PROD_ORIGIN,
    SECRET_ARN,
    SECURITY_GROUPS,
    SUBNETS,
    Package,
    osls_print,
)
from tests.packaging_tools import CA_BUNDLE, PACKAGE_ENV

pytestmark = pytest.mark.slow

DEPLOY_INPUTS = (
    "DB_HOST",
    "DB_SECRET_ARN",
    "DB_PASSWORD",
    "DB_RESOURCE_ID",
    "DB_MIGRATION_SECRET_ARN",
    "SERVERLESS_ORG",
    "DB_SSL_CA",
    "DB_SSL_TRUST_ANY_SERVER",
    "JWT_ISSUER_URL",
    "JWT_AUDIENCE",
    "CORS_ALLOWED_ORIGINS",
)


def make(infra: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """make in a bake's infra/, with none of the deploy inputs from this shell but env."""
    base = {name: value for name, value in project_env().items() if name not in DEPLOY_INPUTS}
    return subprocess.run(["make", *args], cwd=infra, env={**base, **env}, capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def environment_project(cookies_session: Cookies) -> Path:
    """A bake with db_credentials=environment, rendered without uv (for its Makefile)."""
    with render_only():
        result = cookies_session.bake(extra_context={"db_credentials": "environment", "project_slug": "env-render"})
    assert result.exit_code == 0, result.exception
    return Path(result.project_path)


@pytest.mark.parametrize("target", ["package", "deploy-dev", "migrate-prod", "remove-prod"])
@pytest.mark.parametrize(
    ("bake", "required"),
    [
        ("existing_project", "DB_SECRET_ARN"),
        ("environment_project", "DB_PASSWORD"),
        pytest.param("iam_project", "DB_RESOURCE_ID DB_MIGRATION_SECRET_ARN", marks=pytest.mark.xdist_group(IAM_GROUP)),
    ],
    ids=["secrets_manager", "environment", "iam"],
)
def test_makefile_refuses_to_run_serverless_without_database_settings(
    request: pytest.FixtureRequest, bake: str, required: str, target: str
) -> None:
    """Secrets Manager mode needs the secret's ARN and never asks for a password; the environment mode needs the
    password; the IAM mode the cluster's or proxy's resource id and the migration's secret, no password; all three
    (api_auth=jwt) need the gateway's token issuer and audiences. Serverless resolves every variable
    before any command, so removing and migrating need them too."""
    project: Path = request.getfixturevalue(bake)
    result = make(project / "infra", target)
    assert result.returncode != 0
    expected = f"Missing environment variables: DB_HOST {required} SERVERLESS_ORG JWT_ISSUER_URL JWT_AUDIENCE (see"
    assert expected in result.stdout + result.stderr


# (package, stage, KMS key given, migration secret, VPC)
DEPLOYMENTS = [
    pytest.param("v4", "dev", False, SECRET_ARN, False, marks=pytest.mark.xdist_group("package-v4")),
    pytest.param("prod", "prod", True, MIGRATION_SECRET_ARN, True, marks=pytest.mark.xdist_group(PROD_GROUP)),
]

DEPLOYMENT_NAMES = "name, stage, kms, migration_secret, vpc"


@pytest.mark.parametrize(DEPLOYMENT_NAMES, DEPLOYMENTS)
def test_network_follows_the_deploying_shell(
    request: pytest.FixtureRequest, name: str, stage: str, kms: bool, migration_secret: str, vpc: bool
) -> None:
    """Both functions in the subnets and security groups given, or outside any VPC. A role this stack creates gets
    the network interface policy only in a VPC (ci-access.yml's roles get it with FunctionsInVpc, checked above)."""
    resources = packaged_template(request.getfixturevalue(f"{name}_package"))["Resources"]
    expected = {"SecurityGroupIds": SECURITY_GROUPS, "SubnetIds": SUBNETS} if vpc else None
    assert [properties.get("VpcConfig") for properties in function_properties(resources).values()] == [expected] * 2
    if "IamRoleLambdaExecution" in resources:
        policies = resources["IamRoleLambdaExecution"]["Properties"].get("ManagedPolicyArns", [])
        assert ["AWSLambdaVPCAccessExecutionRole" in json.dumps(p) for p in policies] == ([True] if vpc else [])


@pytest.mark.parametrize(
    ("name", "concurrency", "rate", "burst"),
    [
        pytest.param("v4", 5, 10, 20, marks=pytest.mark.xdist_group("package-v4")),
        # PROD_ENV sets API_THROTTLE_RATE; the rest are prod's defaults.
        pytest.param("prod", 20, 25, 100, marks=pytest.mark.xdist_group(PROD_GROUP)),
    ],
)
def test_limits_and_logs_are_in_the_template(
    request: pytest.FixtureRequest, name: str, concurrency: int, rate: int, burst: int
) -> None:
    """Reserved concurrency (one migration at a time), throttling of every route, JSON access logs on the $default
    stage, Lambda's JSON log format; the migration function has no route."""
    resources = packaged_template(request.getfixturevalue(f"{name}_package"))["Resources"]
    functions = function_properties(resources)
    assert [properties["ReservedConcurrentExecutions"] for properties in functions.values()] == [concurrency, 1]
    assert [properties["Timeout"] for properties in functions.values()] == [29, 300]
    logging = {"LogFormat": "JSON", "ApplicationLogLevel": "INFO"}
    assert [properties["LoggingConfig"] for properties in functions.values()] == [logging, logging]
    stage = resources["HttpApiStage"]["Properties"]
    assert stage["StageName"] == "$default"
    assert stage["DefaultRouteSettings"] == {
        "DetailedMetricsEnabled": False,
        "ThrottlingRateLimit": rate,
        "ThrottlingBurstLimit": burst,
    }
    access = stage["AccessLogSettings"]
    assert access["DestinationArn"] == {"Fn::GetAtt": ["HttpApiLogGroup", "Arn"]}
    fields = json.loads(access["Format"])
    assert {"requestId", "status", "responseLatency", "integrationError", "lambdaRequestId"} <= set(fields)
    assert resources["HttpApiLogGroup"]["Properties"]["RetentionInDays"] == 30
    integrations = [res for res in resources.values() if res["Type"] == "AWS::ApiGatewayV2::Integration"]
    assert [json.dumps(res) for res in integrations if "MigrateLambdaFunction" in json.dumps(res)] == []


@pytest.mark.xdist_group("package-v4")
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "Network: no VPC (VPC_SUBNET_IDS and VPC_SECURITY_GROUP_IDS are empty): the function reaches only public"),
        (
            {"VPC_SUBNET_IDS": ",".join(SUBNETS), "VPC_SECURITY_GROUP_IDS": SECURITY_GROUPS[0]},
            f"Network: VPC with subnets {', '.join(SUBNETS)} and security groups {SECURITY_GROUPS[0]}",
        ),
        ({}, "Alarms: ALARM_EMAIL is empty, so the alarms reach nobody"),
        (
            {"ALARM_EMAIL": "oncall@example.com"},
            "Alarms: sent to oncall@example.com when they fire and when they clear",
        ),
        (
            {},
            "Authentication: every route but GET /health, GET /health/ready and CORS preflight needs a JWT issued by "
            f"{PACKAGE_ENV['JWT_ISSUER_URL']} for audience {PACKAGE_ENV['JWT_AUDIENCE'].replace(',', ', ')}",
        ),
        ({}, "CORS: none (CORS_ALLOWED_ORIGINS is empty): browsers may call the API only from pages of its own origin"),
        ({"CORS_ALLOWED_ORIGINS": PROD_ORIGIN}, f"CORS: browsers may call the API from pages of {PROD_ORIGIN}"),
    ],
    ids=["none", "vpc", "no-alarm-email", "alarm-email", "jwt", "no-cors", "cors"],
)
def test_packaging_says_which_network_it_built(v4_package: Package, env: dict[str, str], message: str) -> None:
    result = osls_print(v4_package, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert message in result.stderr


MIGRATION_USER_WARNING = "Warning: DB_MIGRATION_SECRET_ARN is empty, so the migration function logs in with the API's"


@pytest.mark.xdist_group("package-v4")
def test_packaging_warns_when_the_api_user_must_be_able_to_change_the_schema(v4_package: Package) -> None:
    without = osls_print(v4_package)
    assert without.returncode == 0 and MIGRATION_USER_WARNING in without.stderr, without.stderr
    assert "CREATE, ALTER, DROP, INDEX" in without.stderr
    with_own_secret = osls_print(v4_package, DB_MIGRATION_SECRET_ARN=MIGRATION_SECRET_ARN)
    assert with_own_secret.returncode == 0 and MIGRATION_USER_WARNING not in with_own_secret.stderr


@pytest.mark.xdist_group("package-v4")
@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"VPC_SUBNET_IDS": SUBNETS[0]},
            "VPC_SUBNET_IDS is set but VPC_SECURITY_GROUP_IDS is empty: set both to run the functions in a VPC, or "
            "neither to run them without one",
        ),
        (
            {"VPC_SECURITY_GROUP_IDS": SECURITY_GROUPS[0]},
            "VPC_SECURITY_GROUP_IDS is set but VPC_SUBNET_IDS is empty",
        ),
        (
            {"DB_SECRET_ARN": "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:app-db"},
            "DB_SECRET_ARN must be the secret's complete ARN",
        ),
        ({"ALARM_EMAIL": "oncall@example.com,boss@example.com"}, "ALARM_EMAIL must be one e-mail address"),
        ({"ALARM_API_ERRORS": "0"}, "ALARM_API_ERRORS must be a whole number of at least 1"),
        (
            {"JWT_ISSUER_URL": ""},
            "JWT_ISSUER_URL is empty: set it to the https URL of the OIDC issuer whose tokens the API accepts",
        ),
        (
            {"JWT_ISSUER_URL": "http://issuer.example.com"},
            "JWT_ISSUER_URL must be the issuer's https URL (https://HOST[/PATH], no query, fragment or spaces: API "
            'Gateway fetches the issuer\'s keys over https); got "http://issuer.example.com"',
        ),
        (
            {"JWT_AUDIENCE": " , "},
            "JWT_AUDIENCE is empty: set it to the audiences a token must name (its aud claim, or client_id in a "
            "Cognito access token",
        ),
        (
            {"CORS_ALLOWED_ORIGINS": f"{PROD_ORIGIN},*"},
            'CORS_ALLOWED_ORIGINS may not contain "*" (every web site): list the origins of your front ends, '
            f'comma-separated, like https://app.example.com; got "{PROD_ORIGIN},*"',
        ),
        (
            {"CORS_ALLOWED_ORIGINS": f"{PROD_ORIGIN}/callback, https://admin.example.com/"},
            "CORS_ALLOWED_ORIGINS must list origins, comma-separated, each scheme://host[:port] in lowercase like "
            f'https://app.example.com (no path, no trailing slash); got "{PROD_ORIGIN}/callback,'
            'https://admin.example.com/"',
        ),
    ],
    ids=[
        "subnets-only",
        "groups-only",
        "partial-secret-arn",
        "two-alarm-emails",
        "zero-threshold",
        "no-issuer",
        "http-issuer",
        "no-audience",
        "any-origin",
        "origin-with-path",
    ],
)
def test_a_half_given_setting_is_refused(v4_package: Package, env: dict[str, str], message: str) -> None:
    result = osls_print(v4_package, **env)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


# What `make package` of the iam bake needs besides PACKAGE_ENV: whose login the API uses, the migration's secret.
IAM_INPUTS = {"DB_RESOURCE_ID": DATABASE_RESOURCE_ID, "DB_MIGRATION_SECRET_ARN": MIGRATION_SECRET_ARN}
RESOURCE_ID_FORMS = "DB_RESOURCE_ID must be the resource id of the Aurora cluster (cluster- and uppercase letters or"


@pytest.mark.xdist_group(IAM_GROUP)
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DB_RESOURCE_ID": ""}, f"{RESOURCE_ID_FORMS} digits"),
        ({"DB_RESOURCE_ID": "cluster-abcdefghijkl0123"}, '(prx- and lowercase letters or digits); got "cluster-abcd'),
        ({"DB_RESOURCE_ID": "prx-ABCDEFGHIJKL0123"}, 'got "prx-ABCDEFGHIJKL0123"'),
        ({"DB_RESOURCE_ID": "my-aurora-cluster"}, f"{RESOURCE_ID_FORMS} digits, as `aws rds describe-db-clusters"),
        ({"DB_RESOURCE_ID": "cluster-ABC*"}, 'got "cluster-ABC*"'),
        (
            {"DB_USER": "*"},
            "DB_USER must be one MySQL user name of up to 32 letters, digits, underscores, dots or hyphens",
        ),
        (
            {"DB_MIGRATION_SECRET_ARN": ""},
            "DB_MIGRATION_SECRET_ARN is empty: set it to the complete ARN of the migration function's secret",
        ),
        (
            {"DB_MIGRATION_SECRET_ARN": "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:migration-db"},
            "DB_MIGRATION_SECRET_ARN must be the secret's complete ARN",
        ),
        # CI's roles (ci-access.yml's) do not spare the check: the id is wrong whichever role connects with it.
        ({"GITHUB_ACTIONS": "true", **CI_ACCESS_ENV, "DB_RESOURCE_ID": "db-ABCDEFGHIJKL0123"}, RESOURCE_ID_FORMS),
    ],
    ids=[
        "missing",
        "lowercase-cluster",
        "uppercase-proxy",
        "cluster-name",
        "wildcard",
        "wildcard-user",
        "no-migration-secret",
        "partial-migration-secret",
        "ci-roles",
    ],
)
def test_the_iam_mode_refuses_a_database_login_of_the_wrong_form(
    iam_package: Package, env: dict[str, str], message: str
) -> None:
    """The resource id the API's role may connect to, the user it connects as and the migration's secret, each
    refused by name with the forms it may take."""
    result = osls_print(iam_package, **{**IAM_INPUTS, **env})
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


@pytest.mark.xdist_group(IAM_GROUP)
@pytest.mark.parametrize("resource_id", [DATABASE_RESOURCE_ID, "prx-0a1b2c3d4e5f6a7b8"], ids=["cluster", "proxy"])
def test_the_iam_mode_accepts_a_cluster_or_a_proxy(iam_package: Package, resource_id: str) -> None:
    """Either resource id is taken, and packaging says whose login the API uses."""
    result = osls_print(iam_package, **{**IAM_INPUTS, "DB_RESOURCE_ID": resource_id})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Database login: the API function signs IAM tokens for user app on {resource_id}" in result.stderr


# Calls one function of infra/deploy-settings.js as Serverless does, with the configuration and SSM parameters given
# (argv: the module, the function, the configuration, the SSM parameters); prints {"value"} or {"error"}.
SETTINGS_DRIVER = r"""
const [modulePath, name, configuration, parameters] = process.argv.slice(1);
const config = JSON.parse(configuration);
const ssm = JSON.parse(parameters);
const resolveConfigurationProperty = async (keys) =>
  keys.reduce((value, key) => (value == null ? value : value[key]), config);
const resolveVariable = async (variable) => {
  if (variable === 'sls:stage') return config.provider.stage;
  const match = /^ssm:(.*), null$/.exec(variable);
  if (!match) throw new Error(`unexpected variable ${variable}`);
  return ssm[match[1]] === undefined ? null : ssm[match[1]];
};
require(modulePath)[name]({ resolveConfigurationProperty, resolveVariable, options: {} }).then(
  (value) => console.log(JSON.stringify({ value: value === undefined ? null : value })),
  (error) => console.log(JSON.stringify({ error: error.message }))
);
"""


def deploy_setting(infra: Path, name: str, ssm: Mapping[str, Any] | None = None, **deploy: str) -> Any:
    """The value (or the refusal) of one function of deploy-settings.js, for custom.deploy inputs and prod."""
    config = {
        "provider": {"stage": "prod", "environment": {"DB_SECRET_ARN": SECRET_ARN}, "iam": {"role": {}}},
        "custom": {
            "deploy": {"sslCaDefault": str(CA_BUNDLE), "trustAnyServer": "false", **deploy},
            "stageDefaults": {"dev": {"reservedConcurrency": 5}, "prod": {"reservedConcurrency": 20}},
        },
    }
    script = ["node", "-e", SETTINGS_DRIVER, str(infra / "deploy-settings.js"), name, json.dumps(config)]
    # stdout only: the module reports the network it built on stderr.
    result = subprocess.run([*script, json.dumps(ssm or {})], cwd=infra, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_vpc_ids_come_from_the_environment_or_ssm(existing_project: Path) -> None:
    """Comma-separated IDs, or ssm:/name of a StringList (an array) or String parameter; a missing parameter and an
    ID of the wrong kind are refused by name."""
    require_commands("node", install_hint="apt-get install nodejs")
    infra = existing_project / "infra"
    expected = {"subnetIds": SUBNETS, "securityGroupIds": SECURITY_GROUPS}
    listed = deploy_setting(infra, "vpc", vpcSubnetIds=" , ".join(SUBNETS), vpcSecurityGroupIds=SECURITY_GROUPS[0])
    assert listed == {"value": expected}
    parameters = {"/app/prod/subnets": SUBNETS, "/app/prod/groups": ",".join(SECURITY_GROUPS)}
    stored = {"vpcSubnetIds": "ssm:/app/prod/subnets", "vpcSecurityGroupIds": "ssm:/app/prod/groups"}
    assert deploy_setting(infra, "vpc", parameters, **stored) == {"value": expected}
    missing = deploy_setting(infra, "vpc", {}, **stored)
    assert missing == {"error": "VPC_SUBNET_IDS: SSM parameter /app/prod/subnets was not found"}
    wrong = deploy_setting(infra, "vpc", vpcSubnetIds=SECURITY_GROUPS[0], vpcSecurityGroupIds=SECURITY_GROUPS[0])
    assert wrong["error"].startswith("VPC_SUBNET_IDS must list subnet IDs (subnet-...)")


def test_deploy_settings_refuse_values_of_the_wrong_form(existing_project: Path, tmp_path: Path) -> None:
    """A KMS alias, a reserved concurrency of 0 or a fraction; the CA bundle's path is blanked only when the server is
    trusted unverified on purpose and the bundle is missing."""
    require_commands("node", install_hint="apt-get install nodejs")
    infra = existing_project / "infra"
    alias = deploy_setting(infra, "apiRole", secretKmsKeyArn="arn:aws:kms:ap-northeast-2:123456789012:alias/db")
    assert alias["error"].startswith("DB_SECRET_KMS_KEY_ARN must be the key ARN")
    for value in ("0", "2.5", "many"):
        refused = deploy_setting(infra, "apiReservedConcurrency", reservedConcurrency=value)
        assert refused == {"error": f'API_RESERVED_CONCURRENCY must be a whole number of at least 1; got "{value}"'}
    assert deploy_setting(infra, "apiReservedConcurrency") == {"value": 20}
    assert deploy_setting(infra, "apiReservedConcurrency", reservedConcurrency="7") == {"value": 7}
    assert not (infra / CA_BUNDLE).exists()
    assert deploy_setting(infra, "sslCa") == {"value": str(CA_BUNDLE)}
    assert deploy_setting(infra, "sslCa", trustAnyServer="TRUE") == {"value": ""}
    own = shutil.copytree(infra, tmp_path / "infra", ignore=shutil.ignore_patterns("node_modules"))
    (own / CA_BUNDLE).parent.mkdir()
    (own / CA_BUNDLE).write_text("-----BEGIN CERTIFICATE-----\n")
    assert deploy_setting(own, "sslCa", trustAnyServer="true") == {"value": str(CA_BUNDLE)}


def test_packaging_refuses_without_a_ca_bundle_unless_told_to_trust_any_server(existing_project: Path) -> None:
    infra = existing_project / "infra"
    refused = make(infra, "check-ca")
    assert refused.returncode != 0
    assert (
        f"The CA bundle {CA_BUNDLE} (DB_SSL_CA) is missing in infra/: run 'make -C infra ca-bundle'" in refused.stdout
    )
    assert "DB_SSL_TRUST_ANY_SERVER=true" in refused.stdout
    own = make(infra, "check-ca", DB_SSL_CA="certs/our-ca.pem")
    assert own.returncode != 0 and "The CA bundle certs/our-ca.pem (DB_SSL_CA) is missing" in own.stdout
    assert make(infra, "check-ca", DB_SSL_TRUST_ANY_SERVER="true").returncode == 0
    assert make(infra, "check-ca", DB_SSL_CA="/opt/ca.pem").returncode == 0
    # `make package` checks before Serverless runs (and after stage-code, so a path under app/ counts).
    planned = run(["make", "-n", "package"], infra, {**project_env(), **PACKAGE_ENV})
    assert planned.index("cp -R") < planned.index("(DB_SSL_CA) is missing") < planned.index("sls package")


def stub(directory: Path, name: str, script: str) -> Path:
    """An executable shell script standing in for a command."""
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return path


# What `make ca-bundle` downloads: RDS's CAs for a cluster's own endpoints, Amazon's root CAs for an RDS Proxy's
# (its certificate comes from AWS Certificate Manager), in this order.
RDS_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
AMAZON_ROOT_URLS = [f"https://www.amazontrust.com/repository/AmazonRootCA{number}.pem" for number in range(1, 5)]
CA_BUNDLE_URLS = [RDS_BUNDLE_URL, *AMAZON_ROOT_URLS]
STAND_IN_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def make_ca_bundle(
    project: Path, tmp_path: Path, served: Mapping[str, str], previous: str | None = None
) -> tuple[Path, subprocess.CompletedProcess[str], list[str]]:
    """`make ca-bundle` in a copy of the bake's infra/ (holding `previous` as its bundle, if given), with a stand-in
    curl that answers each URL with what `served` gives it and fails as if offline for any other; returns the copy,
    make's result and curl's arguments, one line per call."""
    infra = shutil.copytree(project / "infra", tmp_path / "infra", ignore=shutil.ignore_patterns("node_modules"))
    if previous is not None:
        (infra / CA_BUNDLE).parent.mkdir(exist_ok=True)
        (infra / CA_BUNDLE).write_text(previous)
    served_dir = tmp_path / "served"
    served_dir.mkdir()
    for url, text in served.items():
        (served_dir / url.rsplit("/", 1)[1]).write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # The URL is curl's last argument; the file to write follows --output.
    stub(
        bin_dir,
        "curl",
        f'echo "$@" >> {tmp_path}/curl.args\nout=""; prev=""; url=""\n'
        'for arg in "$@"; do [ "$prev" = "--output" ] && out=$arg; prev=$arg; url=$arg; done\n'
        f'cp "{served_dir}/${{url##*/}}" "$out" 2>/dev/null\n'
        '[ -s "$out" ] || { echo "curl: (6) Could not resolve host" >&2; exit 6; }',
    )
    result = make(infra, "ca-bundle", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return infra, result, (tmp_path / "curl.args").read_text().splitlines()


@pytest.mark.parametrize(
    ("failing", "answer", "reason"),
    [
        (None, None, ""),
        (RDS_BUNDLE_URL, "<html>captive portal</html>", "did not answer PEM certificates"),
        (AMAZON_ROOT_URLS[2], "-----BEGIN CERTIFICATE-----\nMIIB\n", "did not answer PEM certificates"),
        (AMAZON_ROOT_URLS[0], None, "Could not download"),
        (AMAZON_ROOT_URLS[3], None, "Could not download"),
    ],
    ids=["all-pem", "rds-not-pem", "root-truncated", "root-offline", "last-root-offline"],
)
def test_make_ca_bundle_downloads_every_part_or_changes_nothing(
    existing_project: Path, tmp_path: Path, failing: str | None, answer: str | None, reason: str
) -> None:
    """curl (a stand-in) fetches RDS's bundle and Amazon's four roots, over https only, into one bundle. A part that
    is not PEM certificates, or does not arrive, fails the target naming its URL and leaves the previous bundle as it
    was, with nothing half-written beside it."""
    served = {url: STAND_IN_PEM for url in CA_BUNDLE_URLS if url != failing}
    if failing and answer is not None:
        served[failing] = answer
    previous = "-----BEGIN CERTIFICATE-----\nprevious\n-----END CERTIFICATE-----\n"
    infra, result, calls = make_ca_bundle(existing_project, tmp_path, served, previous)
    options = ("--fail", "--proto =https", "--proto-redir =https")
    assert calls and all(option in call for call in calls for option in options), calls
    assert list((infra / "certs").glob("*.download")) == []
    if failing is None:
        assert result.returncode == 0, result.stdout + result.stderr
        assert [call.rsplit(" ", 1)[1] for call in calls] == CA_BUNDLE_URLS
        assert f"{CA_BUNDLE}: 5 certificates" in result.stdout
        assert (infra / CA_BUNDLE).read_text().count(STAND_IN_PEM) == 5
    else:
        assert result.returncode != 0
        assert any(failing in line and reason in line for line in result.stdout.splitlines()), result.stdout
        assert (infra / CA_BUNDLE).read_text() == previous


# Run in the bake: a TLS handshake in memory between the app's own client context (tls_context, DB_SSL_CA) and a
# server presenting a certificate chain, under the host name aiomysql would give (DB_HOST); prints each case's outcome.
HANDSHAKE_PROBE = """
import json, ssl, sys
from app.common.settings import get_settings
from app.database.config import tls_context

def handshake(host, chain):
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(chain)
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = tls_context(get_settings()).wrap_bio(to_client, to_server, server_hostname=host)
    server = server_context.wrap_bio(to_server, to_client, server_side=True)
    pending = [client, server]
    try:
        for _ in range(10):
            for side in list(pending):
                try:
                    side.do_handshake()
                    pending.remove(side)
                except ssl.SSLWantReadError:
                    pass
            if not pending:
                return "verified"
    except ssl.SSLCertVerificationError as error:
        return error.verify_message
    return "unfinished"

print(json.dumps({name: handshake(host, chain) for name, host, chain in json.loads(sys.argv[1])}))
"""


def test_ca_bundle_verifies_the_cluster_and_the_proxy_by_host_name(existing_project: Path, tmp_path: Path) -> None:
    """The bundle `make ca-bundle` builds, here from throwaway CAs (RDS's bundle holding two, a proxy's root as
    Amazon Root CA 1), lets the app's TLS verify a cluster's certificate and an RDS Proxy's wildcard certificate that
    reaches its root through an intermediate, as ACM's do; a certificate for another host name, or from a CA outside
    the bundle, is refused."""
    rds_ca, proxy_root = trustme.CA(), trustme.CA()
    served = {RDS_BUNDLE_URL: trustme.CA().cert_pem.bytes().decode() + rds_ca.cert_pem.bytes().decode()}
    for url in AMAZON_ROOT_URLS:
        served[url] = (proxy_root if url == AMAZON_ROOT_URLS[0] else trustme.CA()).cert_pem.bytes().decode()
    infra, result, _ = make_ca_bundle(existing_project, tmp_path, served)
    assert result.returncode == 0, result.stdout + result.stderr
    cluster = "challenge.cluster-abc.ap-northeast-2.rds.amazonaws.com"
    proxy = "challenge.proxy-abc.ap-northeast-2.rds.amazonaws.com"
    certificates = {
        "cluster": rds_ca.issue_cert(cluster),
        "proxy": proxy_root.create_child_ca().issue_cert("*.proxy-abc.ap-northeast-2.rds.amazonaws.com"),
        "outsider": trustme.CA().issue_cert(cluster),
    }
    for name, certificate in certificates.items():
        certificate.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / f"{name}.pem"))
    cases = {
        "cluster": (cluster, "cluster"),
        "proxy": (proxy, "proxy"),
        "proxy's name, cluster's certificate": (proxy, "cluster"),
        "cluster's name, proxy's certificate": (cluster, "proxy"),
        "cluster's name, another CA": (cluster, "outsider"),
    }
    arguments = json.dumps([[case, host, str(tmp_path / f"{chain}.pem")] for case, (host, chain) in cases.items()])
    env = project_env(ENVIRONMENT="test", DB_SSL_CA=str(infra / CA_BUNDLE))
    outcomes = json.loads(
        run(["uv", "run", "--frozen", "python", "-c", HANDSHAKE_PROBE, arguments], existing_project, env).splitlines()[
            -1
        ]
    )
    assert outcomes["cluster"] == outcomes["proxy"] == "verified", outcomes
    assert "Hostname mismatch" in outcomes["proxy's name, cluster's certificate"], outcomes
    assert "Hostname mismatch" in outcomes["cluster's name, proxy's certificate"], outcomes
    assert "unable to get local issuer certificate" in outcomes["cluster's name, another CA"], outcomes


@pytest.mark.parametrize(
    ("answer", "succeeds"),
    [
        ('echo \'{"revision_before": null, "revision_after": "0001"}\'', True),
        ('echo \'{"errorMessage": "Can\'"\'"\'t locate revision", "errorType": "CommandError"}\'', False),
        ("echo 'Invoked function failed' >&2; exit 1", False),
    ],
    ids=["migrated", "function-error", "cli-error"],
)
def test_make_migrate_fails_when_the_migration_fails(
    existing_project: Path, tmp_path: Path, answer: str, succeeds: bool
) -> None:
    """The deployed function's error reaches make's exit code whether the CLI reports it by its own exit code or only
    in the printed result."""
    sls = stub(tmp_path, "sls", f'echo "$@" > {tmp_path}/sls.args\n{answer}')
    names = ("DB_HOST", "DB_SECRET_ARN", "SERVERLESS_ORG", "JWT_ISSUER_URL", "JWT_AUDIENCE")
    env = {name: PACKAGE_ENV[name] for name in names}
    result = make(existing_project / "infra", "migrate-prod", f"SLS={sls}", **env)
    assert (tmp_path / "sls.args").read_text().split() == ["invoke", "--function", "migrate", "--stage", "prod"]
    assert (result.returncode == 0) is succeeds
    assert ("The migration of the prod stage failed" in result.stdout) is not succeeds
    if succeeds:
        assert '"revision_after": "0001"' in result.stdout


def test_the_secrets_manager_endpoint_stack_is_lint_clean(existing_project: Path) -> None:
    """infra/secrets-endpoint.yml: an interface endpoint with private DNS in the functions' subnets, reachable on 443
    from the functions' security group only; cfn-lint and checkov find nothing."""
    path = existing_project / "infra" / "secrets-endpoint.yml"
    run([tool("cfn-lint"), str(path)], path.parent)
    assert checkov_failures(path, {}) == []
    template = cfn_yaml.loads(path.read_text())
    assert set(template["Parameters"]) == {"VpcId", "SubnetIds", "FunctionSecurityGroupId"}
    endpoint = template["Resources"]["SecretsManagerEndpoint"]["Properties"]
    assert endpoint["PrivateDnsEnabled"] is True and endpoint["VpcEndpointType"] == "Interface"
    assert endpoint["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.secretsmanager"}
    assert endpoint["SubnetIds"] == {"Ref": "SubnetIds"}
    (ingress,) = template["Resources"]["EndpointSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert (ingress["IpProtocol"], ingress["FromPort"], ingress["ToPort"]) == ("tcp", 443, 443)
    assert ingress["SourceSecurityGroupId"] == {"Ref": "FunctionSecurityGroupId"}
