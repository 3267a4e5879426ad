"""The Serverless package, proven with the real tools offline: npm ci from the committed lock, `make package` with
osls, the zip's contents, the unzipped package answering an API Gateway event under the chosen Python, and cfn-lint
on the generated CloudFormation."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_cookies.plugin import Cookies

from tests.conftest import project_env, require_commands, run, tool

pytestmark = pytest.mark.slow

# The Lambda environment a deployed function gets (values are placeholders: /health never touches the database).
LAMBDA_ENV = {"ENVIRONMENT": "dev", "DB_HOST": "db.invalid", "DB_PASSWORD": "placeholder"}  # nosec B105
# What `make package` needs from the deploying shell (SERVERLESS_ORG only matters to the v4 flavour).
PACKAGE_ENV = {**LAMBDA_ENV, "SERVERLESS_ORG": "example-org"}
OSLS = "osls@4.3.1"
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


@dataclass(frozen=True)
class Package:
    """A packaged project: its infra folder and the zip Serverless built."""

    infra: Path
    zip_path: Path
    python: str
    python_version: str


def find_python(version: str) -> str:
    """The interpreter of the project's Python version (it must have pip: serverless-python-requirements uses it)."""
    result = subprocess.run(["uv", "python", "find", "--system", version], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"Python {version} not found by uv: {result.stderr.strip()}", pytrace=False)
    return result.stdout.strip()


def copy_project(source: Path, destination: Path) -> Path:
    """Copy a baked project without its virtual environment, so packaging cannot touch the shared bake."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".venv", "node_modules"))
    return destination


def build_package(project: Path, flavour: str, python_version: str) -> Package:
    """npm ci from the committed lock, then `make package` (with osls for both flavours: v4's CLI needs a login)."""
    require_commands("npm", "make", install_hint="apt-get install nodejs npm make")
    infra = project / "infra"
    npm = ["npm", "--no-audit", "--no-fund", "--loglevel=error"]
    run([*npm, "ci"], infra)
    make = ["make", "package"]
    if flavour == "v4":
        # Serverless v4 downloads its binary and needs an account; package the same file with osls, minus `org`
        # (v4's dashboard key, which osls rejects).
        config = infra / "serverless.yml"
        config.write_text("".join(line for line in config.read_text().splitlines(True) if not line.startswith("org:")))
        run([*npm, "install", "--no-save", OSLS], infra)
        make.append("SLS=npx osls")
    python = find_python(python_version)
    run(make, infra, project_env(PYTHON_BIN=python, **PACKAGE_ENV), timeout=900)
    zips = list((infra / ".serverless").glob("*.zip"))
    assert len(zips) == 1, zips
    return Package(infra, zips[0], python, python_version)


@pytest.fixture(scope="session")
def v4_package(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Package:
    project = copy_project(default_project, tmp_path_factory.mktemp("v4") / default_project.name)
    return build_package(project, "v4", "3.12")


@pytest.fixture(scope="session")
def osls_package(cookies_session: Cookies, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The osls flavour on the other Python version the template offers, so both runtimes are packaged and run."""
    context = {"serverless_flavour": "osls", "project_slug": "osls-backend", "python_version": "3.13"}
    result = cookies_session.bake(extra_context=context)
    assert result.exit_code == 0, result.exception
    project = copy_project(Path(result.project_path), tmp_path_factory.mktemp("osls") / "osls-backend")
    return build_package(project, "osls", "3.13")


@pytest.fixture(
    params=[
        pytest.param("v4", marks=pytest.mark.xdist_group("package-v4")),
        pytest.param("osls", marks=pytest.mark.xdist_group("package-osls")),
    ]
)
def package(request: pytest.FixtureRequest) -> Package:
    return request.getfixturevalue(f"{request.param}_package")  # type: ignore[no-any-return]


def test_zip_has_the_app_at_its_root_with_dependencies(package: Package, summary: list[str]) -> None:
    with zipfile.ZipFile(package.zip_path) as archive:
        names = archive.namelist()
        unzipped = sum(info.file_size for info in archive.infolist())
    missing = [entry for entry in REQUIRED_ENTRIES if entry not in names]
    assert missing == []
    tag = "cpython-" + package.python_version.replace(".", "")
    assert f"__pycache__/main.{tag}.pyc" in names and f"app/__pycache__/__init__.{tag}.pyc" in names
    zipped = package.zip_path.stat().st_size
    summary.append(
        f"{package.infra.parent.name} package: {zipped / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped, "
        f"{len(names)} files"
    )


def test_zip_ships_runtime_code_only(package: Package) -> None:
    with zipfile.ZipFile(package.zip_path) as archive:
        names = archive.namelist()
    assert [name for name in names if name.startswith(FORBIDDEN_PREFIXES)] == []
    assert FORBIDDEN_FILES.isdisjoint(names)
    assert [name for name in names if name.startswith(("fastapi/", "sqlalchemy/")) and name.endswith(".py")] == []
    assert [name for name in names if "/tests/" in name or name.endswith(".pyi")] == []


def test_unzipped_package_answers_an_http_api_event(package: Package, tmp_path: Path, summary: list[str]) -> None:
    """The zip, unpacked into a fresh read-only folder, serves GET /health through main.handler, as Lambda does."""
    with zipfile.ZipFile(package.zip_path) as archive:
        archive.extractall(tmp_path / "task")
    task = tmp_path / "task"
    for path in [task, *task.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/health",
        "rawQueryString": "",
        "headers": {"host": "api.example.com"},
        "requestContext": {
            "http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1"},
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
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
    result = json.loads(run([package.python, "-S", "-c", script], task, env).strip().splitlines()[-1])
    assert result["response"]["statusCode"] == 200
    assert result["response"]["body"] == '{"status":"ok"}'
    assert result["sources"] > 0 and result["stale"] == []
    assert result["outside"] == []
    summary.append(
        f"{package.infra.parent.name} unzipped package: GET /health via main.handler -> 200 "
        f"(Python {result['version']})"
    )
    for path in [task, *task.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def test_cloudformation_passes_cfn_lint(package: Package, summary: list[str]) -> None:
    template = package.infra / ".serverless" / "cloudformation-template-update-stack.json"
    # W3005 (redundant DependsOn) is what Serverless itself generates for the HTTP API integration; not ours to fix.
    run([tool("cfn-lint"), str(template), "--ignore-checks", "W3005"], package.infra)
    summary.append(f"{package.infra.parent.name} cfn-lint {template.name}: passed")


def test_runtime_matches_the_chosen_python(package: Package) -> None:
    template = json.loads((package.infra / ".serverless" / "cloudformation-template-update-stack.json").read_text())
    functions = [res for res in template["Resources"].values() if res["Type"] == "AWS::Lambda::Function"]
    assert [function["Properties"]["Runtime"] for function in functions] == [f"python{package.python_version}"]
    assert [function["Properties"]["Handler"] for function in functions] == ["main.handler"]


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
