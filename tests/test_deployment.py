"""The Serverless package, proven with the real tools offline: npm ci from the committed lock, `make package` with
osls for each Lambda architecture, the zip's contents and the machine of every shared object in it, the unzipped
package answering an API Gateway event under the chosen Python, and cfn-lint on the generated CloudFormation.

This machine runs one architecture: the packages it invokes are built for it (the default bake through the
deploy-time override, LAMBDA_ARCHITECTURE; the osls bake through the answer), and the default bake is packaged once
more for the other architecture, whose zip is checked but never run.

What a production deployment gets: the default bake packaged for prod as CI would, with a VPC, a KMS key, a
migration secret and the roles of infra/ci-access.yml (whose exact statements are read from that stack), and a
sentinel in every secret the deploying shell holds (none of which may reach .serverless/); its role references,
network, limits and logs, checked against cfn-lint and checkov. The
environment-variable mode (db_credentials=environment) is packaged too. Packaging runs once per session for each
package; the Makefile's and deploy-settings.js's refusals run without packaging."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.decode import cfn_yaml
from pytest_cookies.plugin import Cookies

from tests.conftest import default_context, project_env, render_only, require_commands, run, tool
from tests.lambda_events import LAMBDA_ENV, WRITER_CLAIMS, http_api_event
from tests.packages import (
    CI_ACCESS_ENV,
    KMS_KEY_ARN,
    MIGRATION_SECRET_ARN,
    PROD_ENV,
    PROD_GROUP,
    PROD_JWT_AUDIENCE,
    PROD_JWT_ISSUER_URL,
    PROD_ORIGIN,
    SECRET_ARN,
    SECURITY_GROUPS,
    SENTINEL,
    SUBNETS,
    Package,
    build_package,
)
from tests.packaging_tools import (
    CA_BUNDLE,
    ELF_MACHINES,
    PACKAGE_ENV,
    copy_project,
    elf_machines,
    host_architecture,
    sizes,
    unpacked_read_only,
)

pytestmark = pytest.mark.slow

# The app ships sources plus unchecked-hash bytecode; dependencies ship bytecode only (plugins/compile-bytecode.js).
REQUIRED_ENTRIES = [
    "main.py",
    "migrate.py",
    "migrations/env.py",
    str(CA_BUNDLE),
    "app/__init__.py",
    "app/module/challenge/router.py",
    "alembic/__init__.pyc",
    "fastapi/__init__.pyc",
    "mangum/__init__.pyc",
    "sqlalchemy/__init__.pyc",
    "aiomysql/__init__.pyc",
    "pydantic_settings/__init__.pyc",
]
FORBIDDEN_PREFIXES = ("tests/", ".venv/", "node_modules/", "infra/", "docs/", "examples/", ".git")
FORBIDDEN_FILES = {"uv.lock", "pyproject.toml", ".env", ".env.example", "alembic.ini", "README.md", "CLAUDE.md"}
HOST_ARCHITECTURE = host_architecture()
OTHER_ARCHITECTURE = next(name for name in ELF_MACHINES if name != HOST_ARCHITECTURE)
DEFAULT_ARCHITECTURE = default_context()["lambda_architecture"]
# The platform triplet in extension module names (module.cpython-312-aarch64-linux-gnu.so).
TRIPLETS = {"x86_64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
ZIP_BUDGET_MB = 10


@pytest.fixture(scope="session")
def v4_package(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The default bake, packaged for this machine's architecture through the deploy-time override."""
    project = copy_project(default_project, tmp_path_factory.mktemp("v4") / default_project.name)
    return build_package(project, "3.12", HOST_ARCHITECTURE, override=True)


@pytest.fixture(scope="session")
def osls_package(cookies_session: Cookies, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The osls flavour on the other Python version the template offers, so both runtimes are packaged and run; its
    architecture answer is this machine's. It is also the open API (api_auth=none), packaged with the same deploying
    shell as the default bake, JWT settings included."""
    context = {
        "serverless_flavour": "osls",
        "project_slug": "osls-backend",
        "python_version": "3.13",
        "lambda_architecture": HOST_ARCHITECTURE,
        "api_auth": "none",
    }
    result = cookies_session.bake(extra_context=context)
    assert result.exit_code == 0, result.exception
    project = copy_project(Path(result.project_path), tmp_path_factory.mktemp("osls") / "osls-backend")
    return build_package(project, "3.13", HOST_ARCHITECTURE, override=False)


@pytest.fixture(scope="session")
def foreign_package(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The default bake packaged for the architecture this machine cannot run (as the answer left it where that is
    the default, arm64 on an x86_64 machine): checked, never invoked."""
    project = copy_project(default_project, tmp_path_factory.mktemp("foreign") / default_project.name)
    override = OTHER_ARCHITECTURE != DEFAULT_ARCHITECTURE
    return build_package(project, "3.12", OTHER_ARCHITECTURE, override)


@pytest.fixture(scope="session")
def environment_package(cookies_session: Cookies, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """A bake with db_credentials=environment (the password in the function's environment), packaged as today."""
    result = cookies_session.bake(extra_context={"db_credentials": "environment", "project_slug": "env-backend"})
    assert result.exit_code == 0, result.exception
    project = copy_project(Path(result.project_path), tmp_path_factory.mktemp("environment") / "env-backend")
    return build_package(project, "3.12", HOST_ARCHITECTURE, override=True, env={"DB_PASSWORD": "placeholder"})


RUNNABLE = [
    pytest.param("v4", marks=pytest.mark.xdist_group("package-v4")),
    pytest.param("osls", marks=pytest.mark.xdist_group("package-osls")),
]
OTHERS = [
    pytest.param("foreign", marks=pytest.mark.xdist_group("package-foreign")),
    pytest.param("prod", marks=pytest.mark.xdist_group(PROD_GROUP)),
    pytest.param("environment", marks=pytest.mark.xdist_group("package-environment")),
]


@pytest.fixture(params=[*RUNNABLE, *OTHERS])
def package(request: pytest.FixtureRequest) -> Package:
    """Every package, whichever architecture it is for."""
    return request.getfixturevalue(f"{request.param}_package")  # type: ignore[no-any-return]


@pytest.fixture(params=RUNNABLE)
def runnable_package(request: pytest.FixtureRequest) -> Package:
    """The packages built for this machine's architecture."""
    return request.getfixturevalue(f"{request.param}_package")  # type: ignore[no-any-return]


def test_zip_has_the_app_at_its_root_with_dependencies(package: Package, summary: list[str]) -> None:
    with zipfile.ZipFile(package.zip_path) as archive:
        names = archive.namelist()
    missing = [entry for entry in REQUIRED_ENTRIES if entry not in names]
    assert missing == []
    tag = "cpython-" + package.python_version.replace(".", "")
    compiled = ("__pycache__/main", "__pycache__/migrate", "app/__pycache__/__init__", "migrations/__pycache__/env")
    assert [name for name in compiled if f"{name}.{tag}.pyc" not in names] == []
    # Bytecode only as compile-bytecode.js writes it, for the runtime's Python: none copied from the project.
    assert [name for name in names if "__pycache__/" in name and f".{tag}.pyc" not in name] == []
    zipped, unzipped = sizes(package.zip_path)
    summary.append(
        f"{package.infra.parent.name} package ({package.architecture}): {zipped:.1f} MB zipped, "
        f"{unzipped:.1f} MB unzipped, {len(names)} files"
    )
    assert zipped <= ZIP_BUDGET_MB


def test_every_shared_object_is_built_for_the_function_architecture(package: Package, summary: list[str]) -> None:
    """pip's platform targeting installs wheels for the function's architecture and Python on any machine: every ELF
    file in the zip has that architecture's e_machine (none of the other one), and every extension module's name
    carries the runtime's Python version and platform."""
    machines = elf_machines(package.zip_path)
    expected = ELF_MACHINES[package.architecture]
    assert machines and {name: machine for name, machine in machines.items() if machine != expected} == {}
    tag = "cpython-" + package.python_version.replace(".", "")
    extensions = [name for name in machines if re.search(r"\.cpython-\d+-", name)]
    suffix = f".{tag}-{TRIPLETS[package.architecture]}.so"
    assert extensions and [name for name in extensions if not name.endswith(suffix)] == []
    summary.append(
        f"{package.infra.parent.name} package ({package.architecture}): {len(machines)} shared objects, "
        f"all e_machine {expected}"
    )


def test_zip_ships_runtime_code_only(package: Package) -> None:
    with zipfile.ZipFile(package.zip_path) as archive:
        names = archive.namelist()
    assert [name for name in names if name.startswith(FORBIDDEN_PREFIXES)] == []
    assert FORBIDDEN_FILES.isdisjoint(names)
    assert [name for name in names if name.startswith(("fastapi/", "sqlalchemy/")) and name.endswith(".py")] == []
    assert [name for name in names if "/tests/" in name or name.endswith(".pyi")] == []


def test_unzipped_package_answers_an_http_api_event(
    runnable_package: Package, tmp_path: Path, summary: list[str]
) -> None:
    """The zip, unpacked into a fresh read-only folder, serves GET /health through main.handler, as Lambda does; a
    200, a 404, a 422 and a 503 (the database cannot be reached) each carry API Gateway's request id of their event in
    X-Request-Id, and the 503's log line carries it too (the key Lambda's JSON log format writes it under)."""
    # Each path and what it answers with no database to reach (DB_HOST=db.invalid); each event has its own id.
    expected = [("/health", 200), ("/no-such-route", 404), ("/challenges/not-a-number", 422), ("/challenges", 503)]
    # The module's routes as the JWT authorizer passes them on, with a verified caller's claims.
    events = [
        http_api_event("GET", path, claims=WRITER_CLAIMS if path.startswith("/challenges") else None)
        for path, _ in expected
    ]
    for event, (_, status) in zip(events, expected):
        event["requestContext"]["requestId"] = f"gateway-id-{status}"
    # One cold process, as Lambda runs it: answer the event, then check that every module imported from source has
    # bytecode Python uses without checking (flags == 1: hash-based, unchecked), or a read-only Lambda would
    # recompile it on every cold start.
    script = (
        "import importlib.machinery as m, importlib.util as u, json, logging, os, sys; "
        "records = []; handler = logging.Handler(); handler.emit = records.append; "
        "logging.getLogger().addHandler(handler); import main; "
        f"answers = [main.handler(event, None) for event in {events!r}]; response = answers[0]; "
        "logged = [(r.getMessage(), getattr(r, 'xRequestId', None)) for r in records]; "
        "sources = [mod.__spec__.origin for mod in list(sys.modules.values()) if getattr(mod, '__spec__', None) "
        "and isinstance(mod.__spec__.loader, m.SourceFileLoader) and mod.__spec__.origin.startswith(os.getcwd())]; "
        "stale = [s for s in sources if not os.path.exists(u.cache_from_source(s)) "
        "or int.from_bytes(open(u.cache_from_source(s), 'rb').read()[4:8], 'little') != 1]; "
        "outside = sorted(mod.__name__ for mod in list(sys.modules.values()) if getattr(mod, '__file__', None) "
        "and not mod.__file__.startswith(os.getcwd()) "
        "and (not mod.__file__.startswith(sys.base_prefix) or 'site-packages' in mod.__file__)); "
        "print(json.dumps({'response': response, 'sources': len(sources), 'stale': stale, 'outside': outside, "
        "'answers': [(a['statusCode'], a['headers'].get('x-request-id')) for a in answers], 'logged': logged, "
        "'version': sys.version.split()[0]}))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", **LAMBDA_ENV}
    # -S: no site-packages of the interpreter, so every dependency must come from the zip (checked by "outside").
    package = runnable_package
    with unpacked_read_only(package.zip_path, tmp_path / "task") as task:
        result = json.loads(run([package.python, "-S", "-c", script], task, env).strip().splitlines()[-1])
    assert result["response"]["statusCode"] == 200
    assert result["response"]["body"] == '{"status":"ok"}'
    assert result["answers"] == [[status, f"gateway-id-{status}"] for _, status in expected]
    unavailable = [request_id for message, request_id in result["logged"] if message.startswith("Database unavailable")]
    assert unavailable == ["gateway-id-503"], result["logged"]
    assert result["sources"] > 0 and result["stale"] == []
    assert result["outside"] == []
    summary.append(
        f"{package.infra.parent.name} unzipped package ({package.architecture}): GET /health via main.handler -> 200 "
        f"(Python {result['version']})"
    )


def test_cloudformation_passes_cfn_lint(package: Package, summary: list[str]) -> None:
    template = package.infra / ".serverless" / "cloudformation-template-update-stack.json"
    # W3005 (redundant DependsOn) is what Serverless itself generates for the HTTP API integration; not ours to fix.
    run([tool("cfn-lint"), str(template), "--ignore-checks", "W3005"], package.infra)
    summary.append(f"{package.infra.parent.name} ({package.architecture}) cfn-lint {template.name}: passed")


def packaged_template(package: Package) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(
        (package.infra / ".serverless" / "cloudformation-template-update-stack.json").read_text()
    )
    return template


def test_runtime_and_architecture_match_the_package(package: Package) -> None:
    """Both functions run the chosen Python on the architecture their zip was built for."""
    functions = [
        res for res in packaged_template(package)["Resources"].values() if res["Type"] == "AWS::Lambda::Function"
    ]
    assert [function["Properties"]["Runtime"] for function in functions] == [f"python{package.python_version}"] * 2
    assert [function["Properties"]["Handler"] for function in functions] == ["main.handler", "migrate.handler"]
    assert [function["Properties"]["Architectures"] for function in functions] == [[package.architecture]] * 2


def resources_of_type(resources: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The properties of every resource of one CloudFormation type, by logical id."""
    return {name: resource["Properties"] for name, resource in resources.items() if resource["Type"] == kind}


# The routes a caller without a token reaches: the health probes and CORS preflight.
OPEN_ROUTES = {"GET /health", "GET /health/ready", "OPTIONS /{proxy+}"}
# The HTTP API's CORS answer besides its origins (serverless.yml, custom.cors); AllowCredentials stays unset (false).
CORS_CONFIGURATION = {
    "AllowHeaders": ["Authorization", "Content-Type"],
    "AllowMethods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
    "ExposeHeaders": ["X-Request-Id", "Retry-After"],
    "MaxAge": 600,
}


@pytest.mark.parametrize(
    ("name", "issuer", "audience", "origins"),
    [
        pytest.param(
            "prod",
            PROD_JWT_ISSUER_URL,
            PROD_JWT_AUDIENCE,
            [PROD_ORIGIN],
            marks=pytest.mark.xdist_group(PROD_GROUP),
        ),
        # A workstation shell without CORS_ALLOWED_ORIGINS: no CORS at all.
        pytest.param(
            "v4",
            PACKAGE_ENV["JWT_ISSUER_URL"],
            PACKAGE_ENV["JWT_AUDIENCE"].split(","),
            None,
            marks=pytest.mark.xdist_group("package-v4"),
        ),
    ],
)
def test_every_route_but_the_probes_and_preflight_needs_a_jwt_of_the_given_issuer(
    request: pytest.FixtureRequest, name: str, issuer: str, audience: list[str], origins: list[str] | None
) -> None:
    """The default bake's HTTP API has one JWT authorizer, reading the bearer token of the Authorization header, with
    exactly the deploying shell's issuer and audiences (trimmed); every route requires it except the health probes
    and CORS preflight, the catch-all included. Its CORS configuration allows exactly CORS_ALLOWED_ORIGINS, without
    credentials, or is absent when the variable is; the variable never reaches a function's environment."""
    resources = packaged_template(request.getfixturevalue(f"{name}_package"))["Resources"]
    authorizers = resources_of_type(resources, "AWS::ApiGatewayV2::Authorizer")
    assert list(authorizers.values()) == [
        {
            "ApiId": {"Ref": "HttpApi"},
            "Name": "jwtAuthorizer",
            "IdentitySource": ["$request.header.Authorization"],
            "AuthorizerType": "JWT",
            "JwtConfiguration": {"Audience": audience, "Issuer": issuer},
        }
    ]
    (authorizer,) = authorizers
    routes = {route["RouteKey"]: route for route in resources_of_type(resources, "AWS::ApiGatewayV2::Route").values()}
    open_routes = {key for key, route in routes.items() if route.get("AuthorizationType", "NONE") == "NONE"}
    assert open_routes == OPEN_ROUTES
    protected = {
        key: (route.get("AuthorizationType"), route.get("AuthorizerId"))
        for key, route in routes.items()
        if key not in OPEN_ROUTES
    }
    assert "$default" in protected
    assert protected == dict.fromkeys(protected, ("JWT", {"Ref": authorizer}))
    cors = resources["HttpApi"]["Properties"].get("CorsConfiguration")
    assert cors == (None if origins is None else {**CORS_CONFIGURATION, "AllowOrigins": origins})
    environments = [properties.get("Environment", {}) for properties in function_properties(resources).values()]
    assert [environment for environment in environments if "CORS_ALLOWED_ORIGINS" in json.dumps(environment)] == []


@pytest.mark.xdist_group("package-osls")
def test_an_open_api_bake_packages_its_catch_all_route_without_an_authorizer(osls_package: Package) -> None:
    """api_auth=none: no authorizer (the deploying shell's JWT settings are ignored), one catch-all route open to
    anyone, as before; CORS_ALLOWED_ORIGINS configures its CORS all the same."""
    resources = packaged_template(osls_package)["Resources"]
    assert resources_of_type(resources, "AWS::ApiGatewayV2::Authorizer") == {}
    routes = list(resources_of_type(resources, "AWS::ApiGatewayV2::Route").values())
    assert [(route["RouteKey"], route.get("AuthorizationType")) for route in routes] == [("$default", None)]
    assert "CorsConfiguration" not in resources["HttpApi"]["Properties"]
    config = resolved_config(osls_package, CORS_ALLOWED_ORIGINS=f" {PROD_ORIGIN} ,http://localhost:3000")
    assert config["provider"]["httpApi"]["cors"]["allowedOrigins"] == [PROD_ORIGIN, "http://localhost:3000"]
    assert "authorizers" not in config["provider"]["httpApi"]


@pytest.mark.parametrize("bake", ["default_project", "alternative_project"])
def test_package_lock_records_no_download_urls(request: pytest.FixtureRequest, bake: str) -> None:
    project: Path = request.getfixturevalue(bake)
    lock = json.loads((project / "infra" / "package-lock.json").read_text())
    assert all("resolved" not in entry for entry in lock["packages"].values())
    package_json = json.loads((project / "infra" / "package.json").read_text())
    assert lock["packages"][""]["devDependencies"] == package_json["devDependencies"]


DEPLOY_INPUTS = (
    "DB_HOST",
    "DB_SECRET_ARN",
    "DB_PASSWORD",
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
    [("default_project", "DB_SECRET_ARN"), ("environment_project", "DB_PASSWORD")],
    ids=["secrets_manager", "environment"],
)
def test_makefile_refuses_to_run_serverless_without_database_settings(
    request: pytest.FixtureRequest, bake: str, required: str, target: str
) -> None:
    """Secrets Manager mode needs the secret's ARN and never asks for a password; the environment mode needs the
    password; both (api_auth=jwt) need the gateway's token issuer and audiences. Serverless resolves every variable
    before any command, so removing and migrating need them too."""
    project: Path = request.getfixturevalue(bake)
    result = make(project / "infra", target)
    assert result.returncode != 0
    expected = f"Missing environment variables: DB_HOST {required} SERVERLESS_ORG JWT_ISSUER_URL JWT_AUDIENCE (see"
    assert expected in result.stdout + result.stderr


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
    function on its ci-access.yml role by ARN. (Runs last of the osls package's tests: packaging again empties its
    .serverless/.)"""
    env = {**project_env(PYTHON_BIN=osls_package.python, **PACKAGE_ENV), **CI_ACCESS_ENV, "GITHUB_ACTIONS": "true"}
    run(["npx", "osls", "package", "--stage", "prod", "--package", str(tmp_path)], osls_package.infra, env, 900)
    template = json.loads((tmp_path / "cloudformation-template-update-stack.json").read_text())
    resources = template["Resources"]
    assert not [name for name, resource in resources.items() if resource["Type"] == "AWS::S3::Bucket"]
    assert not [name for name, resource in resources.items() if resource["Type"].startswith("AWS::IAM::")]
    functions = [resource for resource in resources.values() if resource["Type"] == "AWS::Lambda::Function"]
    assert [function["Properties"]["Code"]["S3Bucket"] for function in functions] == ["ci-artifacts"] * 2
    roles = [CI_ACCESS_ENV["AWS_API_ROLE_ARN"], CI_ACCESS_ENV["AWS_MIGRATION_ROLE_ARN"]]
    assert [function["Properties"]["Role"] for function in functions] == roles


# What a production deployment gets, read from the packaged CloudFormation.
LOG_ACTIONS = {"logs:CreateLogStream", "logs:CreateLogGroup", "logs:TagResource", "logs:PutLogEvents"}
# What active tracing needs of a function's role; X-Ray's actions take no resource.
TRACE_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
VPC_ACCESS_POLICY = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
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


def role_statements(resources: Mapping[str, Any], role: str) -> list[dict[str, Any]]:
    (policy,) = resources[role]["Properties"]["Policies"]
    return list(policy["PolicyDocument"]["Statement"])


def function_properties(resources: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: resources[f"{name.capitalize()}LambdaFunction"]["Properties"] for name in ("api", "migrate")}


def assert_framework_log_statements(statements: list[dict[str, Any]], slug: str, stage: str) -> None:
    """The two statements the framework writes: its functions' log groups, nothing else."""
    assert len(statements) == 2
    for statement in statements:
        assert set(statement["Action"]) <= LOG_ACTIONS
        assert all(f":log-group:/aws/lambda/{slug}-{stage}*:" in entry["Fn::Sub"] for entry in statement["Resource"])


# (package, stage, KMS key given, migration secret, VPC)
DEPLOYMENTS = [
    pytest.param("v4", "dev", False, SECRET_ARN, False, marks=pytest.mark.xdist_group("package-v4")),
    pytest.param("prod", "prod", True, MIGRATION_SECRET_ARN, True, marks=pytest.mark.xdist_group(PROD_GROUP)),
]
DEPLOYMENT_NAMES = "name, stage, kms, migration_secret, vpc"


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
    assert [environment["DB_SSL_CA"] for environment in environments.values()] == [str(CA_BUNDLE)] * 2


# The pseudo parameters CloudFormation fills in, for evaluating ci-access.yml as a stack in the test account.
PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::Region": "ap-northeast-2",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}
NO_VALUE_MARK = object()


def evaluated(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """The template's Resources as CloudFormation would create them with these parameters: Ref of a parameter or
    pseudo parameter, conditions, Fn::If (AWS::NoValue removes the item), Fn::Sub, Fn::Select, Fn::Split and Fn::Join
    resolved; references to resources (Ref, Fn::GetAtt, ${Resource.Arn}) left as written."""
    declared = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    values = {**declared, **parameters, **PSEUDO_PARAMETERS}
    conditions: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in conditions:
            conditions[name] = bool(resolve(template["Conditions"][name]))
        return conditions[name]

    def substitute(text: str, names: Mapping[str, Any]) -> str:
        return re.sub(r"\$\{([^}]+)\}", lambda m: str({**values, **names}.get(m[1], m[0])), text)

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(resolve, node) if item is not NO_VALUE_MARK]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref":
                return NO_VALUE_MARK if argument == "AWS::NoValue" else values.get(argument, {"Ref": argument})
            if key == "Fn::If":
                return resolve(argument[1] if condition(argument[0]) else argument[2])
            if key == "Fn::Equals":
                first, second = resolve(argument)
                return first == second
            if key == "Fn::Not":
                return not resolve(argument[0])
            if key == "Fn::Select":
                index, items = resolve(argument)
                return items[int(index)]
            if key == "Fn::Split":
                return str(resolve(argument[1])).split(argument[0])
            if key == "Fn::Join":
                return argument[0].join(resolve(argument[1]))
            if key == "Fn::Sub":
                return substitute(argument, {}) if isinstance(argument, str) else substitute(*resolve(argument))
        return {
            key: value
            for key, value in ((key, resolve(value)) for key, value in node.items())
            if value is not NO_VALUE_MARK
        }

    return resolve(dict(template["Resources"]))  # type: ignore[no-any-return]


def ci_access_template(project: Path) -> dict[str, Any]:
    """infra/ci-access.yml as data, read with CloudFormation's loader (the file has !Ref tags)."""
    template: dict[str, Any] = cfn_yaml.loads((project / "infra" / "ci-access.yml").read_text())
    return template


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
    default_project: Path, settings: dict[str, str], migration_secret: str, kms: bool, vpc: bool
) -> None:
    """The functions' roles CI deploys with are ci-access.yml's, created by the administrator, with
    exactly the statements a workstation deploy's roles get: trusted by Lambda for this account only, each its own
    log group, its own secret (the migration's, or else DB_SECRET_ARN) and its key through Secrets Manager, and the
    VPC policy only with FunctionsInVpc."""
    slug = default_project.name
    resources = evaluated(ci_access_template(default_project), {"DatabaseSecretArn": SECRET_ARN, **settings})
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
    assert [environment["DB_SSL_CA"] for environment in environments.values()] == [str(CA_BUNDLE)] * 2


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


@pytest.mark.xdist_group(PROD_GROUP)
def test_no_secret_of_the_deploying_shell_reaches_the_package(prod_package: Package) -> None:
    """The sentinel in DB_PASSWORD, the AWS secret key, the session token and the Serverless access key appears in
    no file under .serverless/ (the template, the state, the requirements) nor in any file inside the zip."""
    found = []
    sentinel = SENTINEL.encode()
    for path in (prod_package.infra / ".serverless").rglob("*"):
        if path.is_file() and sentinel in path.read_bytes():
            found.append(str(path.relative_to(prod_package.infra)))
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                found += [f"{path.name}:{name}" for name in archive.namelist() if sentinel in archive.read(name)]
    assert found == []


@pytest.mark.xdist_group(PROD_GROUP)
def test_the_framework_bucket_is_private_versioned_and_encrypted(prod_package: Package) -> None:
    """Without SERVERLESS_DEPLOYMENT_BUCKET the stack has its own bucket for the packages."""
    bucket = packaged_template(prod_package)["Resources"]["ServerlessDeploymentBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


# checkov's findings that do not apply, each with its reason; every other check must pass.
CHECKOV_SKIPS = {
    "CKV_AWS_116": "a dead-letter queue only receives failed asynchronous invocations; the HTTP API invokes the API "
    "function synchronously and answers its error, and `make migrate-<stage>` fails on the migration's",
    "CKV_AWS_173": "the functions' environment holds no secret (the secret's ARN, not its value), and Lambda encrypts "
    "it at rest with its own key",
    "CKV_AWS_158": "CloudWatch Logs encrypts every log group at rest; a customer managed key (with a key policy for "
    "the logs service) is an account-wide choice the template leaves to the team",
    "CKV_AWS_18": "the framework's bucket holds only the packages, and logging its access needs a second bucket; CI "
    "deploys to the bucket of infra/ci-access.yml (SERVERLESS_DEPLOYMENT_BUCKET), and this one is then not created",
}
# The workstation package of the default bake has no VPC, as its deploying shell gives none.
NO_VPC_SKIP = {"CKV_AWS_117": "the deploying shell gave no VPC_SUBNET_IDS / VPC_SECURITY_GROUP_IDS"}


def checkov_failures(template: Path, skips: Mapping[str, str], require_checks: bool = True) -> list[str]:
    """checkov's failed checks on a CloudFormation file, offline, the skipped ones left out. require_checks=False for
    a file of resource types checkov has no check for yet (it then prints its summary alone)."""
    command = [tool("checkov"), "-f", str(template), "--framework", "cloudformation", "--skip-download"]
    command += ["--output", "json", "--skip-check", ",".join(skips) or "NONE"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=template.parent)
    report = json.loads(result.stdout)
    summary = report.get("summary", report)
    assert summary["parsing_errors"] == 0 and (summary["passed"] > 0 or not require_checks), result.stdout
    return [f"{check['check_id']} {check['resource']}" for check in report.get("results", {}).get("failed_checks", [])]


@pytest.mark.parametrize(
    ("name", "skips"),
    [
        pytest.param("prod", CHECKOV_SKIPS, marks=pytest.mark.xdist_group(PROD_GROUP)),
        pytest.param("v4", {**CHECKOV_SKIPS, **NO_VPC_SKIP}, marks=pytest.mark.xdist_group("package-v4")),
    ],
)
def test_checkov_finds_nothing_outside_the_skip_list(
    request: pytest.FixtureRequest, name: str, skips: dict[str, str], summary: list[str]
) -> None:
    package: Package = request.getfixturevalue(f"{name}_package")
    template = package.infra / ".serverless" / "cloudformation-template-update-stack.json"
    assert checkov_failures(template, skips) == []
    summary.append(f"{package.infra.parent.name} {name} template: checkov passed, skipping {', '.join(skips)}")


@pytest.mark.xdist_group("package-environment")
def test_the_environment_mode_packages_the_password_and_grants_no_secret(environment_package: Package) -> None:
    """db_credentials=environment: the reference's DB_PASSWORD in both functions' environment, no secret ARN and no
    Secrets Manager or KMS statement in any role."""
    resources = packaged_template(environment_package)["Resources"]
    environments = [properties["Environment"]["Variables"] for properties in function_properties(resources).values()]
    assert [environment["DB_PASSWORD"] for environment in environments] == ["placeholder"] * 2
    assert [environment for environment in environments if "DB_SECRET_ARN" in environment] == []
    api_statements = role_statements(resources, "IamRoleLambdaExecution")
    assert_framework_log_statements(api_statements[:2], "env-backend", "dev")
    # Nothing but the logs and, for active tracing, X-Ray.
    assert api_statements[2:] == [{"Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": ["*"]}]
    assert role_statements(resources, "MigrationRole") == expected_migration_statements(None, kms=False)
    assert "secretsmanager" not in json.dumps(resources) and "kms:" not in json.dumps(resources)


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


def test_vpc_ids_come_from_the_environment_or_ssm(default_project: Path) -> None:
    """Comma-separated IDs, or ssm:/name of a StringList (an array) or String parameter; a missing parameter and an
    ID of the wrong kind are refused by name."""
    require_commands("node", install_hint="apt-get install nodejs")
    infra = default_project / "infra"
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


def test_deploy_settings_refuse_values_of_the_wrong_form(default_project: Path, tmp_path: Path) -> None:
    """A KMS alias, a reserved concurrency of 0 or a fraction; the CA bundle's path is blanked only when the server is
    trusted unverified on purpose and the bundle is missing."""
    require_commands("node", install_hint="apt-get install nodejs")
    infra = default_project / "infra"
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


def test_packaging_refuses_without_a_ca_bundle_unless_told_to_trust_any_server(default_project: Path) -> None:
    infra = default_project / "infra"
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


@pytest.mark.parametrize(
    ("answer", "downloaded"),
    [
        ("printf -- '-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n' > \"$out\"", True),
        ("printf '<html>captive portal</html>' > \"$out\"", False),
        ("echo 'curl: (6) Could not resolve host' >&2; exit 6", False),
    ],
    ids=["pem", "not-pem", "offline"],
)
def test_make_ca_bundle_downloads_pem_certificates_or_fails(
    default_project: Path, tmp_path: Path, answer: str, downloaded: bool
) -> None:
    """curl (a stand-in) fetches AWS's bundle; anything but PEM certificates leaves no file and fails, saying why."""
    infra = shutil.copytree(
        default_project / "infra", tmp_path / "infra", ignore=shutil.ignore_patterns("node_modules")
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # The stand-in finds the --output argument, records its arguments, and answers as told.
    stub(
        bin_dir,
        "curl",
        f'echo "$@" > {tmp_path}/curl.args\nout=""; prev=""\n'
        'for arg in "$@"; do [ "$prev" = "--output" ] && out=$arg; prev=$arg; done\n' + answer,
    )
    result = make(infra, "ca-bundle", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    arguments = (tmp_path / "curl.args").read_text()
    assert "--fail" in arguments and "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem" in arguments
    assert (result.returncode == 0) is downloaded and (infra / CA_BUNDLE).exists() is downloaded
    assert list((infra / "certs").glob("*.download")) == []
    if downloaded:
        assert f"{CA_BUNDLE}: 1 certificates" in result.stdout
    else:
        assert "did not answer PEM certificates" in result.stdout or "Could not download" in result.stdout


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
    default_project: Path, tmp_path: Path, answer: str, succeeds: bool
) -> None:
    """The deployed function's error reaches make's exit code whether the CLI reports it by its own exit code or only
    in the printed result."""
    sls = stub(tmp_path, "sls", f'echo "$@" > {tmp_path}/sls.args\n{answer}')
    names = ("DB_HOST", "DB_SECRET_ARN", "SERVERLESS_ORG", "JWT_ISSUER_URL", "JWT_AUDIENCE")
    env = {name: PACKAGE_ENV[name] for name in names}
    result = make(default_project / "infra", "migrate-prod", f"SLS={sls}", **env)
    assert (tmp_path / "sls.args").read_text().split() == ["invoke", "--function", "migrate", "--stage", "prod"]
    assert (result.returncode == 0) is succeeds
    assert ("The migration of the prod stage failed" in result.stdout) is not succeeds
    if succeeds:
        assert '"revision_after": "0001"' in result.stdout


def test_the_secrets_manager_endpoint_stack_is_lint_clean(default_project: Path) -> None:
    """infra/secrets-endpoint.yml: an interface endpoint with private DNS in the functions' subnets, reachable on 443
    from the functions' security group only; cfn-lint and checkov find nothing."""
    path = default_project / "infra" / "secrets-endpoint.yml"
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


def module_scopes(project: Path) -> dict[str, list[str]]:
    """Each module's scopes as its access.py declares them (READ_SCOPES, then WRITE_SCOPE), by module name."""
    scopes = {}
    for access in sorted((project / "app" / "module").glob("*/access.py")):
        declared = {}
        for node in ast.parse(access.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign):
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in {"READ_SCOPES", "WRITE_SCOPE"}:
                declared[target.id] = ast.literal_eval(value)
        scopes[access.parent.name] = [*declared["READ_SCOPES"], declared["WRITE_SCOPE"]]
    return scopes


COGNITO_OUTPUTS = {"UserPoolId", "IssuerUrl", "MachineClientId", "WebClientId", "TokenEndpoint"}


@pytest.mark.parametrize("example_module", ["yes", "no"])
def test_the_cognito_stack_issues_the_module_scopes_and_grants_nothing_else(
    request: pytest.FixtureRequest, cookies_session: Cookies, example_module: str
) -> None:
    """infra/cognito.yml (api_auth=jwt), which cfn-lint and checkov pass (checkov has no check for user pools and
    their clients yet, so what matters is asserted here): no IAM resource; no self sign-up; every name derived from
    the stack's, so two stacks never collide; one resource server per module whose scopes are exactly those its
    access.py requires; the machine client (client credentials, with a secret) holds exactly those scopes, and exists
    only when a module defines some (client credentials needs one); the web client (authorization code, no secret)
    holds them plus openid and email; the outputs feed JWT_ISSUER_URL and JWT_AUDIENCE."""
    if example_module == "yes":
        project: Path = request.getfixturevalue("default_project")
    else:
        with render_only():
            result = cookies_session.bake(
                extra_context={"project_slug": "cognito-check", "include_example_module": "no"}
            )
        assert result.exit_code == 0, result.exception
        project = Path(result.project_path)
    path = project / "infra" / "cognito.yml"
    run([tool("cfn-lint"), str(path)], path.parent)
    assert checkov_failures(path, {}, require_checks=False) == []
    template = cfn_yaml.loads(path.read_text())
    resources = template["Resources"]
    assert [name for name, resource in resources.items() if resource["Type"].startswith("AWS::IAM::")] == []
    assert set(template["Parameters"]) == {"Stage", "DomainPrefix", "CallbackUrls"}
    callbacks = template["Parameters"]["CallbackUrls"]
    assert (callbacks["Type"], callbacks["Default"]) == ("CommaDelimitedList", "http://localhost:3000/callback")
    pool = resources["UserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert resources["UserPoolDomain"]["Properties"]["Domain"] == {"Ref": "DomainPrefix"}
    clients = resources_of_type(resources, "AWS::Cognito::UserPoolClient")
    names = [pool["UserPoolName"], *(client["ClientName"] for client in clients.values())]
    assert [name for name in names if not name["Fn::Sub"].startswith("${AWS::StackName}-")] == []
    servers = resources_of_type(resources, "AWS::Cognito::UserPoolResourceServer")
    expected = module_scopes(project)
    assert {server["Identifier"] for server in servers.values()} == set(expected)
    scopes = sorted(
        f"{server['Identifier']}/{scope['ScopeName']}" for server in servers.values() for scope in server["Scopes"]
    )
    assert scopes == sorted(scope for module in expected.values() for scope in module)
    # A client may only name scopes that exist: each waits for every resource server.
    assert [name for name in clients if set(resources[name].get("DependsOn", [])) != set(servers)] == []
    web = clients["WebClient"]
    assert (web["GenerateSecret"], web["AllowedOAuthFlows"], web["CallbackURLs"]) == (
        False,
        ["code"],
        {"Ref": "CallbackUrls"},
    )
    assert sorted(web["AllowedOAuthScopes"]) == sorted(["openid", "email", *scopes])
    outputs = template["Outputs"]
    if scopes:
        machine = clients["MachineClient"]
        assert (machine["GenerateSecret"], machine["AllowedOAuthFlows"]) == (True, ["client_credentials"])
        assert sorted(machine["AllowedOAuthScopes"]) == scopes
        assert set(outputs) == COGNITO_OUTPUTS
    else:
        assert set(clients) == {"WebClient"}
        assert set(outputs) == COGNITO_OUTPUTS - {"MachineClientId"}
    assert outputs["IssuerUrl"]["Value"] == {"Fn::Sub": "https://${UserPool.ProviderURL}"}
    token_endpoint = "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com/oauth2/token"
    assert outputs["TokenEndpoint"]["Value"] == {"Fn::Sub": token_endpoint}


LOCALHOST_CALLBACK = "http://localhost:3000/callback"


def rule_refusals(template: Mapping[str, Any], parameters: Mapping[str, str]) -> list[str]:
    """The AssertDescription of every assertion CloudFormation would refuse the stack with, for these parameters
    (the Rules section, evaluated as CloudFormation does before it changes anything: a rule whose RuleCondition is
    false asserts nothing)."""
    values: dict[str, Any] = {}
    for name, spec in template["Parameters"].items():
        value = parameters.get(name, spec.get("Default"))
        assert value is not None, f"{name} has no default and was not given"
        values[name] = [item.strip() for item in value.split(",")] if spec["Type"] == "CommaDelimitedList" else value

    def holds(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ((function, argument),) = node.items()
        if function == "Ref":
            return values[argument]
        if function == "Fn::Equals":
            first, second = map(holds, argument)
            return first == second
        if function == "Fn::Not":
            return not holds(argument[0])
        if function == "Fn::And":
            return all(map(holds, argument))
        if function == "Fn::Or":
            return any(map(holds, argument))
        if function == "Fn::Contains":
            items, item = map(holds, argument)
            return item in items
        if function == "Fn::EachMemberIn":
            items, allowed = map(holds, argument)
            return set(items) <= set(allowed)
        raise AssertionError(f"the test does not evaluate {function}")

    refusals = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not holds(rule["RuleCondition"]):
            continue
        refusals += [
            assertion["AssertDescription"] for assertion in rule["Assertions"] if not holds(assertion["Assert"])
        ]
    return refusals


@pytest.mark.parametrize(
    ("stage", "callbacks", "refused"),
    [
        ("prod", None, True),
        ("prod", f"https://app.example.com/callback,{LOCALHOST_CALLBACK}", True),
        ("prod", "https://app.example.com/callback", False),
        ("dev", None, False),
    ],
    ids=["prod-default", "prod-with-localhost", "prod-https", "dev-default"],
)
def test_the_cognito_stack_refuses_the_localhost_callback_in_prod(
    default_project: Path, stage: str, callbacks: str | None, refused: bool
) -> None:
    """infra/cognito.yml's Rules, which CloudFormation checks before creating or changing anything (and cfn-lint
    validates): the prod stage refuses the localhost callback URL, default or listed, with a message naming
    CallbackUrls, the refused value and what to give instead; an https callback passes, and other stages keep the
    default for local development. The stage has no default, so no stack skips the rule by leaving it out."""
    template = cfn_yaml.loads((default_project / "infra" / "cognito.yml").read_text())
    parameters = {"Stage": stage, "DomainPrefix": "challenge-auth"}
    if callbacks is not None:
        parameters["CallbackUrls"] = callbacks
    refusals = rule_refusals(template, parameters)
    if refused:
        assert len(refusals) == 1, refusals
        assert refusals[0].startswith("CallbackUrls: ") and LOCALHOST_CALLBACK in refusals[0]
        assert "https://app.example.com/callback" in refusals[0]
    else:
        assert refusals == []
    assert "Default" not in template["Parameters"]["Stage"]


def test_ci_may_run_the_migration_and_create_its_access_logs(default_project: Path) -> None:
    """infra/ci-access.yml: the deploy principal may invoke the migrate function (no other); CloudFormation may manage
    the HTTP API's access-log group and turn on log delivery."""
    resources = ci_access_template(default_project)["Resources"]
    slug = default_project.name

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


def service_role(project: Path) -> dict[str, Any]:
    """The CloudFormation service role of ci-access.yml, evaluated for the prod stage."""
    resources = evaluated(ci_access_template(project), {"DatabaseSecretArn": SECRET_ARN})
    role: dict[str, Any] = resources["CloudFormationRole"]["Properties"]
    return role


def test_the_service_role_is_trusted_for_this_account_and_names_only_this_stage(default_project: Path) -> None:
    """CloudFormation may assume the service role only for this account's stacks; its log-group
    ARNs end in "<stack>-" or the HTTP API's exact group, so stage prod reaches none of prod2's."""
    role = service_role(default_project)
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    prefix = "arn:aws:logs:ap-northeast-2:123456789012:log-group:"
    statements = {statement["Sid"]: statement for statement in role["Policies"][0]["PolicyDocument"]["Statement"]}
    slug = default_project.name
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


def test_the_service_role_scopes_api_gateway_and_log_delivery_as_far_as_iam_allows(default_project: Path) -> None:
    """Wildcard resources ("*") only for the actions that take no resource (log delivery, reading the network); the
    account's log resource policy on this region's and account's log groups, as AWS documents it; API Gateway: reading
    anything, creating an API only with this stack's tag, changing and tagging only what carries it, no import (PUT)
    on any API."""
    statements = service_role(default_project)["Policies"][0]["PolicyDocument"]["Statement"]
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
    owned = {"StringEquals": {f"aws:ResourceTag/{SCOPE_TAG}": f"{default_project.name}-prod"}}
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
                "StringEquals": {f"aws:RequestTag/{SCOPE_TAG}": f"{default_project.name}-prod"},
                "ForAnyValue:StringEquals": {"aws:TagKeys": SCOPE_TAG},
            },
        ),
        "ChangeOwnHttpApi": (["apigateway:POST", "apigateway:PATCH", "apigateway:DELETE"], f"{gateway}/apis/*", owned),
        "TagOwnHttpApi": (
            ["apigateway:POST", "apigateway:PUT"],
            f"{gateway}/tags/*",
            {**owned, "StringEqualsIfExists": {f"aws:RequestTag/{SCOPE_TAG}": f"{default_project.name}-prod"}},
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
    default_project: Path,
) -> None:
    """What a compromised dependency inside `sls deploy` could submit through the service role: no API Gateway write
    (POST, PATCH, PUT, DELETE) on a wildcard resource unless its condition requires the tag the service stack sets,
    with this stack's name; the only unscoped writes are the ones AWS offers no scope for (UNSCOPABLE_WRITES), which
    ci-access.yml and both READMEs name."""
    stack = f"{default_project.name}-prod"
    statements = service_role(default_project)["Policies"][0]["PolicyDocument"]["Statement"]
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
    text = (default_project / "infra" / "ci-access.yml").read_text()
    assert "account of its own" in text
    # In either language, the README names the action it cannot scope.
    assert "logs:PutResourcePolicy" in (default_project / "README.md").read_text()


@pytest.mark.xdist_group(PROD_GROUP)
def test_the_packaged_http_api_carries_the_tag_the_service_role_requires(
    prod_package: Package, default_project: Path
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
        for statement in service_role(default_project)["Policies"][0]["PolicyDocument"]["Statement"]
        for operator in statement.get("Condition", {}).values()
        for key, value in operator.items()
        if key.endswith(f"Tag/{SCOPE_TAG}")
    }
    assert required == {stack}


def test_the_service_role_manages_only_this_stages_alarms_topic_dashboard_and_metric_filter(
    default_project: Path,
) -> None:
    """The operations resources of serverless.yml (custom.operations): the topic <stack>-alarms and its
    subscriptions, the alarms named "<stack>-...", the dashboard <stack>, the metric filter on the API function's
    log group; each with exactly the actions CloudFormation needs for it."""
    slug = default_project.name
    statements = service_role(default_project)["Policies"][0]["PolicyDocument"]["Statement"]
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


def test_the_artifacts_bucket_is_versioned_and_its_access_logged(default_project: Path) -> None:
    """Old packages kept as versions for 30 days; S3 server access logs into a private, versioned,
    TLS-only bucket that only S3's log delivery for the artifacts bucket of this account may write."""
    resources = evaluated(ci_access_template(default_project), {"DatabaseSecretArn": SECRET_ARN})
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
    ],
    ids=["default", "access_keys-environment-osls"],
)
def test_ci_access_passes_cfn_lint_and_checkov(cookies_session: Cookies, answers: dict[str, str]) -> None:
    """Checkov finds nothing in ci-access.yml (the one resource it skips says why, in the file)."""
    with render_only():
        result = cookies_session.bake(extra_context={"project_slug": "ci-access-check", **answers})
    assert result.exit_code == 0, result.exception
    path = Path(result.project_path) / "infra" / "ci-access.yml"
    run([tool("cfn-lint"), str(path)], path.parent)
    assert checkov_failures(path, {}) == []
