"""Deployment and tooling files checked by the tools that consume them: GitHub workflow and compose schemas,
hadolint, pre-commit's own validator; plus the parsed structure the project relies on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_cookies.plugin import Cookies

from tests.conftest import LINT_COMMANDS, lint_stack_of, project_env, run, tool

WORKFLOWS = ("ci.yml", "deploy.yml")


@pytest.fixture(params=["default", "alternative"])
def project(request: pytest.FixtureRequest) -> Path:
    name = "default_project" if request.param == "default" else "alternative_project"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def linters(project: Path) -> set[str]:
    """The tool names of the project's lint stack, e.g. "black" or "ruff format" (commands without flags or paths)."""
    return {
        " ".join(word for word in command if not word.startswith("-") and word != ".")
        for command in LINT_COMMANDS[lint_stack_of(project)]
    }


def load_workflow(project: Path, name: str) -> dict[Any, Any]:
    # PyYAML reads the bare key `on` as True (YAML 1.1); GitHub reads it as the string "on".
    data: dict[Any, Any] = yaml.safe_load((project / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def step_names(job: dict[str, Any]) -> list[str]:
    return [step.get("name") or step.get("uses", "") for step in job["steps"]]


def test_workflows_match_the_github_schema(project: Path) -> None:
    files = [str(project / ".github" / "workflows" / name) for name in WORKFLOWS]
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files], project)


def test_ci_runs_linters_and_tests_against_mysql_on_pull_requests(project: Path) -> None:
    workflow = load_workflow(project, "ci.yml")
    assert "pull_request" in workflow["on"]
    assert workflow["permissions"] == {"contents": "read"}
    job = workflow["jobs"]["test"]
    assert job["timeout-minutes"] <= 30
    assert job["services"]["mysql"]["image"].startswith("mysql:8")
    assert job["env"]["TEST_REQUIRE_DATABASE_URL"] == "1"
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    for expected in ("uv sync --locked", "pytest", *linters(project)):
        assert expected in commands


def test_ci_reports_template_drift_without_blocking(project: Path) -> None:
    job = load_workflow(project, "ci.yml")["jobs"]["template-drift"]
    assert job["continue-on-error"] is True
    assert any(step.get("run") == "uvx cruft check" for step in job["steps"])


def test_deploy_tests_migrates_deploys_checks_readiness_then_releases(project: Path) -> None:
    workflow = load_workflow(project, "deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert workflow["jobs"]["test"] == {"uses": "./.github/workflows/ci.yml"}
    assert "workflow_call" in load_workflow(project, "ci.yml")["on"]
    job = workflow["jobs"]["deploy"]
    assert job["needs"] == "test"
    assert job["timeout-minutes"] <= 60
    names = step_names(job)
    order = [names.index(name) for name in ("Migrate the database", "Deploy", "Readiness check", "Release")]
    assert order == sorted(order)
    setup_python = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python"))
    assert setup_python["with"]["python-version"] == (project / ".python-version").read_text().strip()
    assert "$url/health/ready" in job["steps"][names.index("Readiness check")]["run"]
    version_step = next(step for step in job["steps"] if step.get("id") == "version")
    assert "date -u +%Y.%m.%d" in version_step["run"] and "GITHUB_SHA::7" in version_step["run"]
    release = job["steps"][names.index("Release")]["run"]
    assert "${{ steps.version.outputs.tag }}" in release


def test_deploy_credentials_follow_the_answer(default_project: Path, alternative_project: Path) -> None:
    keys = load_workflow(default_project, "deploy.yml")
    assert keys["jobs"]["deploy"]["env"]["AWS_ACCESS_KEY_ID"] == "${{ secrets.AWS_ACCESS_KEY_ID }}"
    assert keys["jobs"]["deploy"]["env"]["SERVERLESS_ACCESS_KEY"] == "${{ secrets.SERVERLESS_ACCESS_KEY }}"
    assert "id-token" not in keys["permissions"]

    oidc = load_workflow(alternative_project, "deploy.yml")
    assert oidc["permissions"]["id-token"] == "write"
    env = oidc["jobs"]["deploy"]["env"]
    assert "AWS_ACCESS_KEY_ID" not in env and "SERVERLESS_ACCESS_KEY" not in env
    assume = next(
        step for step in oidc["jobs"]["deploy"]["steps"] if "configure-aws-credentials" in step.get("uses", "")
    )
    assert assume["with"]["role-to-assume"] == "${{ secrets.AWS_DEPLOY_ROLE_ARN }}"


def test_dockerfile_passes_hadolint(default_project: Path) -> None:
    run([tool("hadolint"), "Dockerfile"], default_project)


def test_dockerfile_is_multi_stage_non_root_with_healthcheck(default_project: Path) -> None:
    dockerfile = (default_project / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM python:3\.12-slim", dockerfile, flags=re.MULTILINE)) == 2
    assert "uv sync --locked --no-dev" in dockerfile and "UV_COMPILE_BYTECODE=1" in dockerfile
    assert re.search(r"^USER 10001:10001$", dockerfile, flags=re.MULTILINE)
    assert "HEALTHCHECK" in dockerfile
    assert 'CMD ["uvicorn", "main:app"' in dockerfile


def test_dockerfile_and_workflows_follow_the_python_version(cookies: Cookies, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHALLENGE_BACKEND_SKIP_UV", "1")
    result = cookies.bake(extra_context={"python_version": "3.13"})
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    dockerfile = (project / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM python:3\.13-slim", dockerfile, flags=re.MULTILINE)) == 2
    assert "3.12" not in dockerfile
    for workflow in ("ci.yml", "deploy.yml"):
        assert "3.12" not in (project / ".github" / "workflows" / workflow).read_text(), workflow
    assert load_workflow(project, "deploy.yml")["jobs"]["deploy"]["env"]["UV_PYTHON"] == "3.13"


def test_compose_matches_the_compose_schema(default_project: Path) -> None:
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"], default_project)


def test_compose_waits_for_a_healthy_mysql(default_project: Path) -> None:
    compose = yaml.safe_load((default_project / "docker-compose.yml").read_text())
    assert compose["services"]["app"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert compose["services"]["db"]["image"].startswith("mysql:8")
    assert "healthcheck" in compose["services"]["db"]
    assert "db-data" in compose["volumes"]


def test_pre_commit_config_is_valid(project: Path) -> None:
    run([tool("pre-commit"), "validate-config", ".pre-commit-config.yaml"], project)


def test_pre_commit_hooks_cover_the_linters_and_requirements(project: Path) -> None:
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    hook_names = {hook.get("name", hook["id"]) for repo in config["repos"] for hook in repo["hooks"]}
    hook_ids = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert linters(project) <= hook_names
    assert {"requirements-txt", "trailing-whitespace"} <= hook_ids


def test_requirements_txt_is_what_the_pre_commit_hook_writes(default_project: Path, tmp_path: Path) -> None:
    config = yaml.safe_load((default_project / ".pre-commit-config.yaml").read_text())
    hook = next(hook for repo in config["repos"] for hook in repo["hooks"] if hook["id"] == "requirements-txt")
    command = hook["entry"].replace("requirements.txt", str(tmp_path / "requirements.txt")).split()
    run(command, default_project, project_env())
    assert (tmp_path / "requirements.txt").read_text() == (default_project / "requirements.txt").read_text()


def env_example_names(project: Path) -> set[str]:
    """Variables in .env.example, including the commented-out optional ones."""
    text = (project / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def variables_read_by_the_project(project: Path) -> set[str]:
    """Settings fields (read from the environment in upper case), ${env:X} in serverless.yml, Makefile variables."""
    settings = (project / "app" / "common" / "settings.py").read_text()
    body = settings.split("class Settings", 1)[1].split("\n\n\ndef ", 1)[0]
    fields = {name.upper() for name in re.findall(r"^    ([a-z_]+): ", body, flags=re.MULTILINE)}
    serverless = set(re.findall(r"\$\{env:([A-Z_]+)", (project / "infra" / "serverless.yml").read_text()))
    makefile = (project / "infra" / "Makefile").read_text()
    checked = set(re.findall(r"for name in ([A-Z_ ]+); do", makefile)[0].split())
    return fields | serverless | checked


def test_env_example_lists_exactly_what_the_app_and_infra_read(project: Path) -> None:
    assert env_example_names(project) == variables_read_by_the_project(project)
