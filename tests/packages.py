"""The packages several test modules share, each built once per session: how a bake is packaged offline for a test
(build_package); the existing-database bake for this machine's architecture (v4_package) and for the other
(foreign_package), the osls flavour with the open API (osls_package), the environment-variable mode
(environment_package), the prod package with everything a production deployment sets (prod_package), the IAM
database login's prod package for a cluster the team brings (iam_package) and the default bake's, whose database is
its stack's (aurora_package); how osls resolves a package's serverless.yml for a deploying shell (osls_print).
tests/conftest.py registers the fixtures with pytest_plugins. Tests that use a package share its xdist group, so that
one worker builds it once."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_cookies.plugin import Cookies

from tests.conftest import EXISTING_DATABASE, default_context, project_env, require_commands
from tests.local_services import MariaDB, TlsFiles, moto_secrets_server, throwaway_mariadb, write_tls_files
from tests.packaging_tools import (
    CA_BUNDLE,
    ELF_MACHINES,
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
    """The test CA that stands in for AWS's bundle in the prod package, and a server certificate it signed for
    the MariaDB server that package is run against."""
    return write_tls_files(tmp_path_factory.mktemp("deployment-tls"))


def put_test_ca_in_the_bundle(project: Path, tls: TlsFiles) -> None:
    """The test CA where CI puts AWS's bundle (`make ca-bundle`), so the packaged functions verify the test's MariaDB
    server with it."""
    bundle = project / "infra" / CA_BUNDLE
    bundle.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(tls.ca, bundle)


@pytest.fixture(scope="module")
def server(
    mariadb_available: None, deployment_tls: TlsFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MariaDB]:
    """A throwaway MariaDB server that requires TLS, with a certificate from the test CA the packages trust, for the
    tests of one module that run a package against it."""
    try:
        with throwaway_mariadb(tmp_path_factory.mktemp("mariadb"), deployment_tls) as running:
            yield running
    except HarnessError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto on loopback (Secrets Manager, SQS...), for the tests of one module."""
    with moto_secrets_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def prod_package(existing_project: Path, deployment_tls: TlsFiles, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The existing-database bake (EXISTING_DATABASE) packaged for prod with everything a production deployment sets
    (PROD_ENV), for this machine's architecture, with the test CA where CI puts AWS's bundle (`make ca-bundle`). The
    tests of what it would deploy read it (tests/test_packaging.py and its neighbours), tests/test_production_package.py
    runs it; tests using it share the xdist group PROD_GROUP."""
    project = copy_project(existing_project, tmp_path_factory.mktemp("prod") / existing_project.name)
    put_test_ca_in_the_bundle(project, deployment_tls)
    return build_package(project, "3.12", host_architecture(), override=True, stage="prod", env=PROD_ENV)


HOST_ARCHITECTURE = host_architecture()

OTHER_ARCHITECTURE = next(name for name in ELF_MACHINES if name != HOST_ARCHITECTURE)

DEFAULT_ARCHITECTURE = default_context()["lambda_architecture"]


@pytest.fixture(scope="session")
def v4_package(existing_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The existing-database bake, packaged for this machine's architecture through the deploy-time override."""
    project = copy_project(existing_project, tmp_path_factory.mktemp("v4") / existing_project.name)
    return build_package(project, "3.12", HOST_ARCHITECTURE, override=True)


@pytest.fixture(scope="session")
def osls_package(cookies_session: Cookies, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The osls flavour on the other Python version the template offers, so both runtimes are packaged and run; its
    architecture answer is this machine's. It is also the open API (api_auth=none), packaged with the same deploying
    shell as the existing-database bake, JWT settings included."""
    context = {
        "serverless_flavour": "osls",
        "project_slug": "osls-backend",
        "python_version": "3.13",
        "lambda_architecture": HOST_ARCHITECTURE,
        "api_auth": "none",
        **EXISTING_DATABASE,
    }
    result = cookies_session.bake(extra_context=context)
    assert result.exit_code == 0, result.exception
    project = copy_project(Path(result.project_path), tmp_path_factory.mktemp("osls") / "osls-backend")
    return build_package(project, "3.13", HOST_ARCHITECTURE, override=False)


@pytest.fixture(scope="session")
def foreign_package(existing_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The existing-database bake packaged for the architecture this machine cannot run (as the answer left it where
    that is the default, arm64 on an x86_64 machine): checked, never invoked."""
    project = copy_project(existing_project, tmp_path_factory.mktemp("foreign") / existing_project.name)
    override = OTHER_ARCHITECTURE != DEFAULT_ARCHITECTURE
    return build_package(project, "3.12", OTHER_ARCHITECTURE, override)


@pytest.fixture(scope="session")
def environment_package(cookies_session: Cookies, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """A bake with db_credentials=environment (the password in the function's environment), packaged as today."""
    result = cookies_session.bake(extra_context={"db_credentials": "environment", "project_slug": "env-backend"})
    assert result.exit_code == 0, result.exception
    project = copy_project(Path(result.project_path), tmp_path_factory.mktemp("environment") / "env-backend")
    return build_package(project, "3.12", HOST_ARCHITECTURE, override=True, env={"DB_PASSWORD": "placeholder"})


# The Aurora cluster whose IAM database login the iam bake's API function uses (DB_RESOURCE_ID).
DATABASE_RESOURCE_ID = "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY0"
IAM_GROUP = "package-iam"
# A prod deployment of db_credentials=iam from a workstation, so that this stack creates the functions' roles: the
# database's VPC, its cluster, the migration's secret and key, and the sentinel in every secret the shell holds.
IAM_ENV = {
    "VPC_SUBNET_IDS": ",".join(SUBNETS),
    "VPC_SECURITY_GROUP_IDS": ",".join(SECURITY_GROUPS),
    "DB_RESOURCE_ID": DATABASE_RESOURCE_ID,
    "DB_MIGRATION_SECRET_ARN": MIGRATION_SECRET_ARN,
    "DB_SECRET_KMS_KEY_ARN": KMS_KEY_ARN,
    "ALARM_EMAIL": "oncall@example.com",
    **{name: f"{SENTINEL}-{name}" for name in SECRET_INPUTS},
}


@pytest.fixture(scope="session")
def iam_project(cookies_session: Cookies) -> Path:
    """A bake with db_credentials=iam for a cluster the team brings (database=existing): the API logs in with IAM
    tokens, the migration with its secret."""
    result = cookies_session.bake(
        extra_context={"db_credentials": "iam", "database": "existing", "project_slug": "iam-backend"}
    )
    assert result.exit_code == 0, result.exception
    return Path(result.project_path)


@pytest.fixture(scope="session")
def iam_package(iam_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The iam bake packaged for prod from a workstation (IAM_ENV), for this machine's architecture; tests using it
    share the xdist group IAM_GROUP."""
    project = copy_project(iam_project, tmp_path_factory.mktemp("iam") / "iam-backend")
    return build_package(project, "3.12", HOST_ARCHITECTURE, override=True, stage="prod", env=IAM_ENV)


AURORA_GROUP = "package-aurora"
# A prod deployment of the default bake (database=aurora) from a workstation: what auth and alarms need, no database
# setting at all (the shell's are emptied), and the sentinel in every secret the shell holds.
AURORA_ENV = {
    **{name: "" for name in ("DB_HOST", "DB_SECRET_ARN", "DB_USER", "DB_NAME", "DB_PORT", "VPC_SUBNET_IDS")},
    "JWT_ISSUER_URL": PROD_JWT_ISSUER_URL,
    "JWT_AUDIENCE": ",".join(PROD_JWT_AUDIENCE),
    "ALARM_EMAIL": "oncall@example.com",
    **{name: f"{SENTINEL}-{name}" for name in SECRET_INPUTS},
}


@pytest.fixture(scope="session")
def aurora_package(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The default bake (the database stack's cluster, IAM logins) packaged for prod from a workstation (AURORA_ENV),
    for this machine's architecture; tests using it share the xdist group AURORA_GROUP."""
    project = copy_project(default_project, tmp_path_factory.mktemp("aurora") / default_project.name)
    return build_package(project, "3.12", HOST_ARCHITECTURE, override=True, stage="prod", env=AURORA_ENV)


# The xdist group of every test that uses jobs_package, so that one worker builds it once.
JOBS_GROUP = "package-jobs"
# The default bake's slug (jobs_project).
JOBS_SLUG = "challenge-backend"
# Added to the example module's jobs.py before packaging: a team's job on a rate (in the schedules), and one on demand
# whose handler always raises (the worker's retries, tests/test_background_jobs_package.py).
TEAM_JOB = """

class PurgeOldRuns(Job):
    \"\"\"A team's job on a rate.\"\"\"

    name: ClassVar[str] = "maintenance.purge_old-runs"
    schedule: ClassVar[Schedule | None] = Schedule("rate(6 hours)")

    async def run(self, session: AsyncSession) -> None:
        return None


class AlwaysFails(Job):
    \"\"\"A team's job whose handler raises, for the worker's retries (tests/test_background_jobs_package.py).\"\"\"

    name: ClassVar[str] = "maintenance.always-fails"

    async def run(self, session: AsyncSession) -> None:
        raise RuntimeError("maintenance.always-fails always fails")
"""


@pytest.fixture(scope="session")
def jobs_package(jobs_project: Path, deployment_tls: TlsFiles, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The default bake (the database stack's cluster, IAM logins) with background_jobs=yes, packaged for prod from a
    workstation with the sentinel in every secret of the shell (AURORA_ENV), with TEAM_JOB added to the example
    module and the test CA as its bundle; infra/schedules.json written by `make package` itself (scripts/jobs.py).
    tests/test_background_jobs.py reads what it would deploy, tests/test_background_jobs_package.py runs it; tests
    using it share the xdist group JOBS_GROUP."""
    project = copy_project(jobs_project, tmp_path_factory.mktemp("jobs") / JOBS_SLUG)
    put_test_ca_in_the_bundle(project, deployment_tls)
    with (project / "app" / "module" / "challenge" / "jobs.py").open("a", encoding="utf-8") as jobs:
        jobs.write(TEAM_JOB)
    return build_package(project, "3.12", HOST_ARCHITECTURE, override=True, stage="prod", env=AURORA_ENV)


RUNNABLE = [
    pytest.param("v4", marks=pytest.mark.xdist_group("package-v4")),
    pytest.param("osls", marks=pytest.mark.xdist_group("package-osls")),
]

OTHERS = [
    pytest.param("foreign", marks=pytest.mark.xdist_group("package-foreign")),
    pytest.param("prod", marks=pytest.mark.xdist_group(PROD_GROUP)),
    pytest.param("environment", marks=pytest.mark.xdist_group("package-environment")),
    pytest.param("iam", marks=pytest.mark.xdist_group(IAM_GROUP)),
    pytest.param("aurora", marks=pytest.mark.xdist_group(AURORA_GROUP)),
]


@pytest.fixture(params=[*RUNNABLE, *OTHERS])
def package(request: pytest.FixtureRequest) -> Package:
    """Every package, whichever architecture it is for."""
    return request.getfixturevalue(f"{request.param}_package")  # type: ignore[no-any-return]


@pytest.fixture(params=RUNNABLE)
def runnable_package(request: pytest.FixtureRequest) -> Package:
    """The packages built for this machine's architecture."""
    return request.getfixturevalue(f"{request.param}_package")  # type: ignore[no-any-return]


def osls_print(package: Package, **env: str) -> subprocess.CompletedProcess[str]:
    """`sls print --stage prod` of the package's serverless.yml, with the deploying shell's settings (none of CI's,
    no VPC, no CORS) plus env."""
    base = project_env(PYTHON_BIN=package.python, **PACKAGE_ENV)
    for name in ("VPC_SUBNET_IDS", "VPC_SECURITY_GROUP_IDS", "GITHUB_ACTIONS", "CORS_ALLOWED_ORIGINS", *CI_ACCESS_ENV):
        base.pop(name, None)
    command = ["npx", "osls", "print", "--stage", "prod"]
    return subprocess.run(command, cwd=package.infra, env={**base, **env}, capture_output=True, text=True, check=False)


def resolved_config(package: Package, **env: str) -> dict[str, Any]:
    """serverless.yml as osls resolves it (see osls_print)."""
    result = osls_print(package, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout[result.stdout.index("service:") :])
    return config
