"""The packages several test modules share, built once per session: how a bake is packaged offline for a test
(build_package), and the prod package with everything a production deployment sets (prod_package). tests/conftest.py
registers the fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_commands
from tests.local_services import TlsFiles, write_tls_files
from tests.packaging_tools import (
    CA_BUNDLE,
    PACKAGE_ENV,
    HarnessError,
    copy_project,
    find_python,
    host_architecture,
    package_offline,
)

# The xdist group of every test that uses prod_package, so that one worker builds it once.
PROD_GROUP = "package-prod"


@dataclass(frozen=True)
class Package:
    """A packaged project: its infra folder and the zip Serverless built."""

    infra: Path
    zip_path: Path
    python: str
    python_version: str
    architecture: str


def build_package(
    project: Path,
    python_version: str,
    architecture: str,
    override: bool,
    stage: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Package:
    """npm ci from the committed lock, then `make package` (with osls for both flavours: v4's CLI needs a login), for
    the bake's own architecture or, with override, for `architecture` through LAMBDA_ARCHITECTURE; for the bake's
    default stage or `stage`, with PACKAGE_ENV plus env as the deploying shell."""
    require_commands("npm", "make", install_hint="apt-get install nodejs npm make")
    # A workstation unless env says otherwise, also when these tests run in GitHub Actions (where serverless.yml
    # requires the roles of infra/ci-access.yml); no CORS unless env gives origins.
    shell = {"GITHUB_ACTIONS": "", "CORS_ALLOWED_ORIGINS": "", **(env or {})}
    try:
        python = find_python(python_version)
        zip_path = package_offline(project, python, architecture if override else None, stage, shell)
    except HarnessError as error:
        pytest.fail(str(error), pytrace=False)
    return Package(project / "infra", zip_path, python, python_version, architecture)


# What CI passes from the outputs of infra/ci-access.yml (placeholders: nothing reaches AWS).
CI_ACCESS_ENV = {
    "AWS_CLOUDFORMATION_ROLE_ARN": "arn:aws:iam::123456789012:role/ci-cloudformation",
    "AWS_API_ROLE_ARN": "arn:aws:iam::123456789012:role/ci-access-ApiFunctionRole-AbCdEf",
    "AWS_MIGRATION_ROLE_ARN": "arn:aws:iam::123456789012:role/ci-access-MigrationFunctionRole-AbCdEf",
    "SERVERLESS_DEPLOYMENT_BUCKET": "ci-artifacts",
}
SECRET_ARN = PACKAGE_ENV["DB_SECRET_ARN"]
MIGRATION_SECRET_ARN = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:migration-db-AbCdEf"
KMS_KEY_ARN = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
SECURITY_GROUPS = ["sg-0123456789abcdef0"]
# The prod stage's token issuer (a Cognito user pool) and app client ids, the origin of its browser front end.
PROD_JWT_ISSUER_URL = "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_Pr0dP00l9"
PROD_JWT_AUDIENCE = ["1example23456789machine0", "2example34567890webclient"]
PROD_ORIGIN = "https://app.example.com"
# Every secret a deploying shell may hold carries the sentinel; not one byte of it may reach .serverless/.
SENTINEL = "SENTINEL-9f3a"
SECRET_INPUTS = ("DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "SERVERLESS_ACCESS_KEY")
# The prod deployment as CI makes it, minus the artifacts bucket, so that the framework's own bucket is checked too.
PROD_ENV = {
    "GITHUB_ACTIONS": "true",
    **{name: value for name, value in CI_ACCESS_ENV.items() if name != "SERVERLESS_DEPLOYMENT_BUCKET"},
    "VPC_SUBNET_IDS": " , ".join(SUBNETS),
    "VPC_SECURITY_GROUP_IDS": ",".join(SECURITY_GROUPS),
    "DB_MIGRATION_SECRET_ARN": MIGRATION_SECRET_ARN,
    "DB_SECRET_KMS_KEY_ARN": KMS_KEY_ARN,
    "API_THROTTLE_RATE": "25",
    # The on-call address the stage's alarms write to.
    "ALARM_EMAIL": "oncall@example.com",
    # Spaces around the commas, as a person types them.
    "JWT_ISSUER_URL": PROD_JWT_ISSUER_URL,
    "JWT_AUDIENCE": " , ".join(PROD_JWT_AUDIENCE),
    "CORS_ALLOWED_ORIGINS": PROD_ORIGIN,
    **{name: f"{SENTINEL}-{name}" for name in SECRET_INPUTS},
}


@pytest.fixture(scope="session")
def deployment_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """The test CA that stands in for AWS's RDS bundle in the prod package, and a server certificate it signed for
    the MariaDB server that package is run against."""
    return write_tls_files(tmp_path_factory.mktemp("deployment-tls"))


@pytest.fixture(scope="session")
def prod_package(default_project: Path, deployment_tls: TlsFiles, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The default bake packaged for prod with everything a production deployment sets (PROD_ENV), for this machine's
    architecture, with the test CA where CI puts AWS's bundle (`make ca-bundle`). tests/test_deployment.py reads what
    it would deploy, tests/test_production_package.py runs it; tests using it share the xdist group PROD_GROUP."""
    project = copy_project(default_project, tmp_path_factory.mktemp("prod") / default_project.name)
    bundle = project / "infra" / CA_BUNDLE
    bundle.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(deployment_tls.ca, bundle)
    return build_package(project, "3.12", host_architecture(), override=True, stage="prod", env=PROD_ENV)
