"""Real bakes with pytest-cookies: the default project is complete and rendered, bad answers leave nothing behind,
and the post-gen hook keeps the project when uv cannot run."""

from __future__ import annotations

import json
import py_compile
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from cfnlint.decode import cfn_yaml
from pytest_cookies.plugin import Cookies, Result

from tests.baked_files import UNRENDERED, VARIANT_FILES, project_files, strip_github_expressions
from tests.conftest import default_context

# Every file of the reference layout (shared/reference/challenge-backend.md) plus what the template adds.
REFERENCE_FILES = [
    "main.py",
    "__init__.py",
    "app/__init__.py",
    "app/api/__init__.py",
    "app/common/__init__.py",
    "app/common/enums.py",
    "app/database/__init__.py",
    "app/database/config.py",
    "app/database/constant.py",
    "app/database/dependency.py",
    "app/registry.py",
    "app/module/__init__.py",
    "infra/serverless.yml",
    "infra/package.json",
    "infra/package-lock.json",
    "infra/Makefile",
    "infra/deploy-settings.js",
    "infra/database.yml",
    "Makefile",
    "scripts/new_module.py",
    "scaffold/module/router.py.tmpl",
    "scaffold/tests/test_module.py.tmpl",
    ".pre-commit-config.yaml",
    "Dockerfile",
    "docker-compose.yml",
    "pyproject.toml",
    "requirements.txt",
    "uv.lock",
    "CLAUDE.md",
    "README.md",
    ".env.example",
    ".gitignore",
    ".dockerignore",
    "tests/conftest.py",
    ".github/workflows/ci.yml",
    ".github/workflows/deploy.yml",
    ".github/workflows/template-update.yml",
    ".github/dependabot.yml",
    "scripts/release.sh",
    "scripts/template_update.sh",
    "infra/ci-access.yml",
    "alembic.ini",
    "migrations/env.py",
]
DEV_ONLY_PACKAGES = {"pytest", "black", "isort", "flake8", "mypy", "bandit", "httpx", "uvicorn"}


def test_default_bake_succeeds(default_bake: Result) -> None:
    assert default_bake.exit_code == 0
    assert default_bake.exception is None
    assert Path(default_bake.project_path).name == "challenge-backend"


@pytest.mark.parametrize("relative", REFERENCE_FILES)
def test_default_bake_has_every_reference_file(default_project: Path, relative: str) -> None:
    assert (default_project / relative).is_file()


def test_no_unrendered_template_syntax(default_project: Path) -> None:
    leftovers = []
    for path in project_files(default_project):
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(strip_github_expressions(text).splitlines(), start=1):
            if UNRENDERED.search(line):
                leftovers.append(f"{path.relative_to(default_project)}:{number}: {line.strip()}")
    assert leftovers == []


def test_github_expressions_survive_rendering(default_project: Path) -> None:
    workflow = (default_project / ".github/workflows/deploy.yml").read_text()
    assert "${{ secrets.AWS_DEPLOY_ROLE_ARN }}" in workflow
    assert "${{ github.token }}" in workflow
    update = (default_project / ".github/workflows/template-update.yml").read_text()
    assert "${{ secrets.TEMPLATE_UPDATE_TOKEN || github.token }}" in update


def test_all_python_compiles(default_project: Path, tmp_path: Path) -> None:
    for path in project_files(default_project):
        if path.suffix == ".py":
            py_compile.compile(str(path), cfile=str(tmp_path / "out.pyc"), doraise=True)


def test_structured_files_parse(default_project: Path) -> None:
    for path in project_files(default_project):
        if path.suffix in {".yml", ".yaml"}:
            text = path.read_text()
            # CloudFormation templates use short-form tags (!Ref, !Sub) that only its own loader knows.
            load = cfn_yaml.loads if "AWSTemplateFormatVersion" in text else yaml.safe_load
            assert load(text) is not None, path
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".toml" or path.name == "uv.lock":
            tomllib.loads(path.read_text())


def test_uv_lock_and_synced_venv_exist(default_project: Path) -> None:
    assert (default_project / "uv.lock").stat().st_size > 0
    assert (default_project / ".venv" / "bin" / "python").exists()
    assert list((default_project / ".venv").glob("lib/python3.12/site-packages/fastapi"))


def test_requirements_hold_runtime_dependencies_only(default_project: Path) -> None:
    lines = (default_project / "requirements.txt").read_text().splitlines()
    pins = {line.split("==")[0].lower() for line in lines if line and not line.startswith((" ", "#"))}
    assert {"fastapi", "mangum", "sqlalchemy", "aiomysql", "pydantic-settings"} <= pins
    assert pins.isdisjoint(DEV_ONLY_PACKAGES)
    assert all("==" in line for line in lines if line and not line.startswith((" ", "#")))


def test_git_is_not_initialised_by_default(default_project: Path) -> None:
    assert not (default_project / ".git").exists()


def test_handler_is_mangum_with_lifespan_off(default_project: Path) -> None:
    source = (default_project / "main.py").read_text()
    assert 'handler = Mangum(app, lifespan="off")' in source
    assert "handler: main.handler" in (default_project / "infra/serverless.yml").read_text()


# ---- invalid answers ------------------------------------------------------------------------------------------------

INVALID_ANSWERS = [
    ("project_slug", "Challenge Backend", "lowercase letters, digits and single hyphens"),
    ("project_slug", "-leading", "starting with a letter"),
    ("project_slug", "double--hyphen", "single hyphens"),
    ("project_slug", "x" * 41, "2-40"),
    ("project_name", "", "must not be empty"),
    ("project_name", "two\nlines", "single line"),
    ("author_email", "not-an-email", "e-mail address"),
    ("aws_region", "ap-northeast-9", "AWS region where Lambda runs"),
    ("default_stage", "Prod", "lowercase letters and digits"),
    ("db_name", "bad-name", "letters, digits and underscores"),
    ("db_name", "12345", "not digits only"),
    ("db_name", "x" * 65, "1-64"),
    ("db_user", "u" * 33, "1-32"),
    ("db_user", "1234", "not digits only"),
    ("default_stage", "s" * 17, "1-16"),
    ("serverless_org", "o" * 40, "up to 39"),
    ("description", "d" * 201, "at most 200"),
    ("author_name", "a" * 101, "at most 100"),
    ("db_host", "bad host", "host name"),
    ("db_host", "999.1.1.1", "IPv4 address"),
    ("db_host", "10.0.1", "IPv4 address"),
    ("db_port", "70000", "1 to 65535"),
    ("db_port", "abc", "whole number"),
    ("db_port", "0", "1 to 65535"),
    ("serverless_org", "Has Space", "lowercase letters, digits and hyphens"),
]


@pytest.mark.parametrize(
    ("name", "value", "allowed"), INVALID_ANSWERS, ids=[f"{name}:{value[:12]!r}" for name, value, _ in INVALID_ANSWERS]
)
def test_invalid_answer_is_rejected_with_a_clear_message(
    cookies: Cookies, capfd: pytest.CaptureFixture[str], tmp_path: Path, name: str, value: str, allowed: str
) -> None:
    result = cookies.bake(extra_context={name: value})
    assert result.exit_code != 0
    assert result.exception is not None and type(result.exception).__name__ == "FailedHookException"
    error = capfd.readouterr().err
    assert f"{name}: invalid value {value!r}" in error
    assert allowed in error
    # pytest-cookies bakes into <tmp_path>/cookies/bake00: nothing may be left there.
    assert list((tmp_path / "cookies" / "bake00").iterdir()) == []


@pytest.mark.parametrize(
    ("name", "value"), [("python_version", "3.11"), ("language", "fr"), ("lambda_architecture", "amd64")]
)
def test_choice_outside_its_list_is_rejected_before_rendering(
    cookies: Cookies, tmp_path: Path, name: str, value: str
) -> None:
    """Cookiecutter itself refuses a value that is not one of a list variable's choices, naming both."""
    result = cookies.bake(extra_context={name: value})
    assert result.exit_code != 0
    assert f"{value} provided for choice variable {name}" in str(result.exception)
    assert not (tmp_path / "cookies" / "bake00").exists() or not any((tmp_path / "cookies" / "bake00").iterdir())


# ---- post-gen without uv --------------------------------------------------------------------------------------------


def test_bake_without_uv_on_path_keeps_the_project(
    cookies: Cookies, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty_bin = tmp_path / "empty-bin"  # hooks run with cookiecutter's own interpreter; nothing else is needed
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    result = cookies.bake()
    assert result.exit_code == 0
    project = Path(result.project_path)
    assert (project / "main.py").is_file() and not (project / "uv.lock").exists()
    error = capfd.readouterr().err
    assert "uv was not found on PATH" in error
    assert "uv lock" in error and "uv sync --frozen" in error
    assert "Traceback" not in error


@pytest.mark.parametrize("how", ["answer", "environment"])
def test_bake_with_uv_opt_out_keeps_the_project(
    cookies: Cookies, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    extra = {"run_uv_sync": "no"} if how == "answer" else {}
    if how == "environment":
        monkeypatch.setenv("CHALLENGE_BACKEND_SKIP_UV", "1")
    result = cookies.bake(extra_context=extra)
    assert result.exit_code == 0
    assert not (Path(result.project_path) / ".venv").exists()
    error = capfd.readouterr().err
    assert "Skipped the uv steps" in error and "uv lock" in error


@pytest.mark.parametrize(("option", "removed"), [("use_docker", "Dockerfile"), ("use_github_actions", ".github")])
def test_disabled_option_removes_its_files(
    cookies: Cookies, monkeypatch: pytest.MonkeyPatch, option: str, removed: str
) -> None:
    monkeypatch.setenv("CHALLENGE_BACKEND_SKIP_UV", "1")
    result = cookies.bake(extra_context={option: "no"})
    assert result.exit_code == 0
    assert not (Path(result.project_path) / removed).exists()


def test_git_init_opt_in_creates_a_repository(cookies: Cookies, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHALLENGE_BACKEND_SKIP_UV", "1")
    result = cookies.bake(extra_context={"git_init": "yes"})
    assert (Path(result.project_path) / ".git").is_dir()


def test_korean_is_the_default_language(default_project: Path) -> None:
    assert default_context()["language"] == "ko"
    assert "허용 값" in (default_project / "app/common/messages.py").read_text()


# ---- names and variants ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bake", "korean", "serverless_package"),
    [("default_project", True, "serverless"), ("alternative_project", False, "osls")],
)
def test_variants_follow_the_answers_and_leave_no_variant_file(
    request: pytest.FixtureRequest, bake: str, korean: bool, serverless_package: str
) -> None:
    project: Path = request.getfixturevalue(bake)
    assert [variant for variant in VARIANT_FILES if (project / variant).exists()] == []
    for document in ("README.md", "CLAUDE.md"):
        assert bool(re.search(r"[\uac00-\ud7a3]", (project / document).read_text())) is korean, document
    locked = json.loads((project / "infra" / "package-lock.json").read_text())["packages"][""]["devDependencies"]
    assert serverless_package in locked
    assert locked == json.loads((project / "infra" / "package.json").read_text())["devDependencies"]


@pytest.mark.parametrize(
    ("project_name", "slug"),
    [("챌린지 백엔드", "caelrinji-baegendeu"), ('O\'Reilly "Quotes" API', "o-reilly-quotes-api")],
    ids=["korean", "punctuated"],
)
def test_names_in_any_script_bake_with_a_valid_slug(
    cookies: Cookies, monkeypatch: pytest.MonkeyPatch, project_name: str, slug: str
) -> None:
    """The default slug is cookiecutter's slugify of the name, so the folder, the package and the Serverless service
    get a valid name, and the name itself is kept where people read it."""
    monkeypatch.setenv("CHALLENGE_BACKEND_SKIP_UV", "1")
    result = cookies.bake(extra_context={"project_name": project_name})
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    assert project.name == slug
    assert tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"] == slug
    assert yaml.safe_load((project / "infra" / "serverless.yml").read_text())["service"] == slug
    assert (project / "README.md").read_text().startswith(f"# {project_name}\n")


def test_project_files_leave_out_what_the_projects_tools_write(tmp_path: Path) -> None:
    """A bake that other tests share gains bytecode, caches and local data while they run; none of it is rendered."""
    written = ["app/__pycache__/main.cpython-313.pyc", ".mypy_cache/x.json", "local.db", ".env", ".venv/bin/python"]
    rendered = ["app/main.py", ".env.example", "infra/serverless.yml"]
    for relative in written + rendered:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"\xcb\r\r\n")
    assert sorted(path.relative_to(tmp_path).as_posix() for path in project_files(tmp_path)) == sorted(rendered)
