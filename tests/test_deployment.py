"""The Serverless package, proven with the real tools offline: npm ci from the committed lock, `make package` with
osls for each Lambda architecture, the zip's contents and the machine of every shared object in it, the unzipped
package answering an API Gateway event under the chosen Python, and cfn-lint on the generated CloudFormation.

This machine runs one architecture: the packages it invokes are built for it (the default bake through the
deploy-time override, LAMBDA_ARCHITECTURE; the osls bake through the answer), and the default bake is packaged once
more for the other architecture, whose zip is checked but never run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_cookies.plugin import Cookies

from tests.conftest import default_context, project_env, require_commands, run, tool
from tests.harness import (
    ELF_MACHINES,
    LAMBDA_ENV,
    PACKAGE_ENV,
    HarnessError,
    elf_machines,
    find_python,
    host_architecture,
    http_api_event,
    package_offline,
    sizes,
    unpacked_read_only,
)

pytestmark = pytest.mark.slow

# The app ships sources plus unchecked-hash bytecode; dependencies ship bytecode only (plugins/compile-bytecode.js).
REQUIRED_ENTRIES = [
    "main.py",
    "app/__init__.py",
    "app/module/challenge/router.py",
    "fastapi/__init__.pyc",
    "mangum/__init__.pyc",
    "sqlalchemy/__init__.pyc",
    "aiomysql/__init__.pyc",
    "pydantic_settings/__init__.pyc",
]
FORBIDDEN_PREFIXES = ("tests/", ".venv/", "node_modules/", "infra/", "migrations/", "docs/", "examples/", ".git")
FORBIDDEN_FILES = {"uv.lock", "pyproject.toml", ".env", ".env.example", "alembic.ini", "README.md", "CLAUDE.md"}
HOST_ARCHITECTURE = host_architecture()
OTHER_ARCHITECTURE = next(name for name in ELF_MACHINES if name != HOST_ARCHITECTURE)
DEFAULT_ARCHITECTURE = default_context()["lambda_architecture"]
# The platform triplet in extension module names (module.cpython-312-aarch64-linux-gnu.so).
TRIPLETS = {"x86_64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
ZIP_BUDGET_MB = 10


@dataclass(frozen=True)
class Package:
    """A packaged project: its infra folder and the zip Serverless built."""

    infra: Path
    zip_path: Path
    python: str
    python_version: str
    architecture: str


def copy_project(source: Path, destination: Path) -> Path:
    """Copy a baked project without its virtual environment, so packaging cannot touch the shared bake."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".venv", "node_modules"))
    return destination


def build_package(project: Path, python_version: str, architecture: str, override: bool) -> Package:
    """npm ci from the committed lock, then `make package` (with osls for both flavours: v4's CLI needs a login), for
    the bake's own architecture or, with override, for `architecture` through LAMBDA_ARCHITECTURE."""
    require_commands("npm", "make", install_hint="apt-get install nodejs npm make")
    try:
        python = find_python(python_version)
        zip_path = package_offline(project, python, architecture if override else None)
    except HarnessError as error:
        pytest.fail(str(error), pytrace=False)
    return Package(project / "infra", zip_path, python, python_version, architecture)


@pytest.fixture(scope="session")
def v4_package(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The default bake, packaged for this machine's architecture through the deploy-time override."""
    project = copy_project(default_project, tmp_path_factory.mktemp("v4") / default_project.name)
    return build_package(project, "3.12", HOST_ARCHITECTURE, override=True)


@pytest.fixture(scope="session")
def osls_package(cookies_session: Cookies, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The osls flavour on the other Python version the template offers, so both runtimes are packaged and run; its
    architecture answer is this machine's."""
    context = {
        "serverless_flavour": "osls",
        "project_slug": "osls-backend",
        "python_version": "3.13",
        "lambda_architecture": HOST_ARCHITECTURE,
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


RUNNABLE = [
    pytest.param("v4", marks=pytest.mark.xdist_group("package-v4")),
    pytest.param("osls", marks=pytest.mark.xdist_group("package-osls")),
]


@pytest.fixture(params=[*RUNNABLE, pytest.param("foreign", marks=pytest.mark.xdist_group("package-foreign"))])
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
    assert f"__pycache__/main.{tag}.pyc" in names and f"app/__pycache__/__init__.{tag}.pyc" in names
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
    """The zip, unpacked into a fresh read-only folder, serves GET /health through main.handler, as Lambda does."""
    event = http_api_event("GET", "/health")
    # One cold process, as Lambda runs it: answer the event, then check that every module imported from source has
    # bytecode Python uses without checking (flags == 1: hash-based, unchecked), or a read-only Lambda would
    # recompile it on every cold start.
    script = (
        "import importlib.machinery as m, importlib.util as u, json, os, sys; import main; "
        f"response = main.handler({event!r}, None); "
        "sources = [mod.__spec__.origin for mod in list(sys.modules.values()) if getattr(mod, '__spec__', None) "
        "and isinstance(mod.__spec__.loader, m.SourceFileLoader) and mod.__spec__.origin.startswith(os.getcwd())]; "
        "stale = [s for s in sources if not os.path.exists(u.cache_from_source(s)) "
        "or int.from_bytes(open(u.cache_from_source(s), 'rb').read()[4:8], 'little') != 1]; "
        "outside = sorted(mod.__name__ for mod in list(sys.modules.values()) if getattr(mod, '__file__', None) "
        "and not mod.__file__.startswith(os.getcwd()) "
        "and (not mod.__file__.startswith(sys.base_prefix) or 'site-packages' in mod.__file__)); "
        "print(json.dumps({'response': response, 'sources': len(sources), 'stale': stale, 'outside': outside, "
        "'version': sys.version.split()[0]}))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", **LAMBDA_ENV}
    # -S: no site-packages of the interpreter, so every dependency must come from the zip (checked by "outside").
    package = runnable_package
    with unpacked_read_only(package.zip_path, tmp_path / "task") as task:
        result = json.loads(run([package.python, "-S", "-c", script], task, env).strip().splitlines()[-1])
    assert result["response"]["statusCode"] == 200
    assert result["response"]["body"] == '{"status":"ok"}'
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


def test_runtime_and_architecture_match_the_package(package: Package) -> None:
    """The function runs the chosen Python on the architecture its zip was built for."""
    template = json.loads((package.infra / ".serverless" / "cloudformation-template-update-stack.json").read_text())
    functions = [res for res in template["Resources"].values() if res["Type"] == "AWS::Lambda::Function"]
    assert [function["Properties"]["Runtime"] for function in functions] == [f"python{package.python_version}"]
    assert [function["Properties"]["Handler"] for function in functions] == ["main.handler"]
    assert [function["Properties"]["Architectures"] for function in functions] == [[package.architecture]]


@pytest.mark.parametrize("bake", ["default_project", "alternative_project"])
def test_package_lock_records_no_download_urls(request: pytest.FixtureRequest, bake: str) -> None:
    project: Path = request.getfixturevalue(bake)
    lock = json.loads((project / "infra" / "package-lock.json").read_text())
    assert all("resolved" not in entry for entry in lock["packages"].values())
    package_json = json.loads((project / "infra" / "package.json").read_text())
    assert lock["packages"][""]["devDependencies"] == package_json["devDependencies"]


@pytest.mark.parametrize("target", ["package", "deploy-dev", "remove-prod"])
def test_makefile_refuses_to_run_serverless_without_database_settings(default_project: Path, target: str) -> None:
    env = project_env()
    for name in ("DB_HOST", "DB_PASSWORD", "SERVERLESS_ORG"):
        env.pop(name, None)
    result = subprocess.run(
        ["make", target], cwd=default_project / "infra", env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "Missing environment variables: DB_HOST DB_PASSWORD SERVERLESS_ORG" in result.stdout + result.stderr


# What CI passes from the outputs of infra/ci-access.yml (placeholders: nothing reaches AWS).
CI_ACCESS_ENV = {
    "AWS_CLOUDFORMATION_ROLE_ARN": "arn:aws:iam::123456789012:role/ci-cloudformation",
    "AWS_PERMISSIONS_BOUNDARY_ARN": "arn:aws:iam::123456789012:policy/ci-boundary",
    "SERVERLESS_DEPLOYMENT_BUCKET": "ci-artifacts",
}


def resolved_config(package: Package, **env: str) -> dict[str, Any]:
    """serverless.yml as osls resolves it (`sls print`), with the deploying shell's settings plus env."""
    command = ["npx", "osls", "print", "--stage", "prod"]
    base = project_env(PYTHON_BIN=package.python, **PACKAGE_ENV)
    for name in CI_ACCESS_ENV:
        base.pop(name, None)
    output = run(command, package.infra, {**base, **env})
    config: dict[str, Any] = yaml.safe_load(output[output.index("service:") :])
    return config


@pytest.mark.parametrize("ci", [False, True], ids=["workstation", "ci"])
def test_ci_deploys_through_the_service_role_with_its_bucket_and_boundary(runnable_package: Package, ci: bool) -> None:
    """CloudFormation acts through the service role (osls passes it as RoleARN of every stack operation), packages go
    to the named bucket, the function's role carries the boundary; unset, Serverless's defaults apply."""
    provider = resolved_config(runnable_package, **(CI_ACCESS_ENV if ci else {}))["provider"]
    expected = CI_ACCESS_ENV if ci else dict.fromkeys(CI_ACCESS_ENV)
    assert provider["iam"]["deploymentRole"] == expected["AWS_CLOUDFORMATION_ROLE_ARN"]
    assert provider["iam"]["role"]["permissionsBoundary"] == expected["AWS_PERMISSIONS_BOUNDARY_ARN"]
    assert provider["deploymentBucketObject"]["name"] == expected["SERVERLESS_DEPLOYMENT_BUCKET"]


@pytest.mark.xdist_group("package-osls")
def test_the_packaged_template_for_ci_uses_the_bucket_and_the_boundary(osls_package: Package, tmp_path: Path) -> None:
    """What CloudFormation receives from CI: no bucket of its own, the code in the named bucket, the boundary on the
    function's role."""
    env = {**project_env(PYTHON_BIN=osls_package.python, **PACKAGE_ENV), **CI_ACCESS_ENV}
    run(["npx", "osls", "package", "--stage", "prod", "--package", str(tmp_path)], osls_package.infra, env, 900)
    template = json.loads((tmp_path / "cloudformation-template-update-stack.json").read_text())
    resources = template["Resources"]
    assert not [name for name, resource in resources.items() if resource["Type"] == "AWS::S3::Bucket"]
    (function,) = [resource for resource in resources.values() if resource["Type"] == "AWS::Lambda::Function"]
    assert function["Properties"]["Code"]["S3Bucket"] == CI_ACCESS_ENV["SERVERLESS_DEPLOYMENT_BUCKET"]
    role = resources["IamRoleLambdaExecution"]["Properties"]
    assert role["PermissionsBoundary"] == CI_ACCESS_ENV["AWS_PERMISSIONS_BOUNDARY_ARN"]
