"""Deployment and tooling files checked by the tools that consume them: GitHub workflow and compose schemas,
hadolint, pre-commit's own validator; plus the parsed structure the project relies on."""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_cookies.plugin import Cookies

from tests.conftest import LINT_COMMANDS, TEMPLATE_ROOT, default_context, lint_stack_of, project_env, run, tool
from tests.template_files import render_template_file

WORKFLOWS = ("ci.yml", "deploy.yml", "template-update.yml")


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
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", ".github/dependabot.yml"], project)


def test_ci_runs_linters_and_tests_against_mysql_on_pull_requests(project: Path) -> None:
    workflow = load_workflow(project, "ci.yml")
    assert "pull_request" in workflow["on"]
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["test"]
    assert job["permissions"] == {"contents": "read"}
    assert job["timeout-minutes"] <= 30
    assert job["services"]["mysql"]["image"].startswith("mysql:8")
    # The suite connects as the app's ordinary user; root only for the tests that create users as the migration does.
    assert job["env"]["TEST_DATABASE_URL"].startswith("mysql+aiomysql://app:")
    root_password = job["services"]["mysql"]["env"]["MYSQL_ROOT_PASSWORD"]
    assert job["env"]["TEST_DATABASE_ADMIN_URL"].startswith(f"mysql+aiomysql://root:{root_password}@")
    assert job["env"]["TEST_REQUIRE_DATABASE_URL"] == "1"
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    for expected in ("uv sync --locked", "pytest", *linters(project)):
        assert expected in commands


def test_template_updates_come_as_a_pull_request_instead_of_a_drift_report(project: Path) -> None:
    assert "template-drift" not in load_workflow(project, "ci.yml")["jobs"]
    workflow = load_workflow(project, "template-update.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    runs = {job_id: [step["run"] for step in job["steps"] if "run" in step] for job_id, job in workflow["jobs"].items()}
    assert runs == {
        "apply": ['bash scripts/template_update.sh apply "$RUNNER_TEMP/template-update"'],
        "pull-request": ['bash scripts/template_update.sh propose "$RUNNER_TEMP/template-update"'],
    }


def test_deploy_tests_deploys_migrates_with_rollback_then_releases_in_its_own_job(project: Path) -> None:
    workflow = load_workflow(project, "deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert workflow["jobs"]["test"]["uses"] == "./.github/workflows/ci.yml"
    assert "workflow_call" in load_workflow(project, "ci.yml")["on"]
    job = workflow["jobs"]["deploy"]
    assert job["needs"] == "test"
    assert job["environment"] == "prod"
    assert "default_branch" in job["if"]
    assert job["timeout-minutes"] <= 60
    names = step_names(job)
    # The runner never migrates: the deploy step invokes the migrate function (scripts/release.sh).
    deploy_step = "Deploy, migrate, check readiness, roll back a failing release"
    order = [names.index(name) for name in ("Install", "Database CA bundle", deploy_step)]
    assert order == sorted(order)
    assert not [name for name in names if "igrat" in name and name != deploy_step]
    setup_python = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python"))
    assert setup_python["with"]["python-version"] == (project / ".python-version").read_text().strip()
    assert job["steps"][names.index(deploy_step)]["run"] == "bash scripts/release.sh deploy prod"
    release = workflow["jobs"]["release"]
    assert release["needs"] == "deploy" and "if" not in release
    assert [step.get("run") for step in release["steps"] if "run" in step] == ["bash scripts/release.sh publish"]


def test_deploy_credentials_follow_the_answer(default_project: Path, alternative_project: Path) -> None:
    """The AWS credentials are configured by the step right before the deploy step, after every install."""
    for project, expected in (
        (default_project, {"role-to-assume": "${{ secrets.AWS_DEPLOY_ROLE_ARN }}"}),
        (
            alternative_project,
            {
                "aws-access-key-id": "${{ secrets.AWS_ACCESS_KEY_ID }}",
                "aws-secret-access-key": "${{ secrets.AWS_SECRET_ACCESS_KEY }}",
            },
        ),
    ):
        job = load_workflow(project, "deploy.yml")["jobs"]["deploy"]
        steps = job["steps"]
        position = next(i for i, step in enumerate(steps) if "configure-aws-credentials" in step.get("uses", ""))
        assert {key: value for key, value in steps[position]["with"].items() if key != "aws-region"} == expected
        assert steps[position + 1]["run"] == "bash scripts/release.sh deploy prod"
        assert position + 2 == len(steps)
        assert ("id-token" in job["permissions"]) is (project == default_project)


def test_dockerfile_passes_hadolint(default_project: Path) -> None:
    run([tool("hadolint"), "Dockerfile"], default_project)


def test_dockerfile_is_multi_stage_non_root_with_healthcheck(default_project: Path) -> None:
    dockerfile = (default_project / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM python:3\.12-slim", dockerfile, flags=re.MULTILINE)) == 2
    assert "uv sync --locked --no-dev" in dockerfile and "UV_COMPILE_BYTECODE=1" in dockerfile
    assert re.search(r"^USER 10001:10001$", dockerfile, flags=re.MULTILINE)
    assert "HEALTHCHECK" in dockerfile
    assert 'CMD ["uvicorn", "main:app"' in dockerfile


def runtime_stage(dockerfile: str) -> str:
    """The Dockerfile's last stage: what the image runs."""
    return dockerfile.rsplit("\nFROM ", 1)[1]


def test_the_image_code_belongs_to_root(default_project: Path) -> None:
    """The runtime user (USER 10001, checked above) can run the code but not change it."""
    stage = runtime_stage((default_project / "Dockerfile").read_text())
    copies = re.findall(r"^COPY .*$", stage, flags=re.MULTILINE)
    assert copies == ["COPY --from=builder /app /app"], copies


def image_environment(dockerfile: str) -> dict[str, str]:
    """The variables the runtime stage's ENV lines set (PATH left out: it extends the base image's)."""
    variables: dict[str, str] = {}
    for line in re.findall(r"^ENV (.*)$", runtime_stage(dockerfile), flags=re.MULTILINE):
        variables.update(word.partition("=")[::2] for word in shlex.split(line))
    variables.pop("PATH", None)
    return variables


def test_an_image_run_without_settings_refuses_to_start(default_project: Path) -> None:
    """Started with only what the image sets, the app fails closed (a deployed stage missing its database) instead of
    running as local with docs and unverified TLS."""
    env = image_environment((default_project / "Dockerfile").read_text())
    assert env.get("ENVIRONMENT") not in {None, "local", "test"}, env
    outside = {key: value for key, value in project_env().items() if key != "ENVIRONMENT" and not key.startswith("DB_")}
    started = subprocess.run(
        ["uv", "run", "--frozen", "python", "-c", "import main"],
        cwd=default_project,
        env={**outside, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode != 0 and "DB_HOST" in started.stderr, started.stderr


def test_the_docker_context_leaves_out_every_env_file(default_project: Path) -> None:
    patterns = (default_project / ".dockerignore").read_text().splitlines()
    for name in (".env", ".env.local", ".env.prod", ".env.example"):
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


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
    assert load_workflow(project, "ci.yml")["jobs"]["test"]["env"]["UV_PYTHON"] == "3.13"
    deploy_steps = load_workflow(project, "deploy.yml")["jobs"]["deploy"]["steps"]
    pythons = [step["with"]["python-version"] for step in deploy_steps if "setup-python" in step.get("uses", "")]
    assert pythons == ["3.13"]


def test_compose_matches_the_compose_schema(default_project: Path, tmp_path: Path) -> None:
    """The file as written, and as compose sees it once its variables are resolved."""
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"], default_project)
    resolved = tmp_path / "docker-compose.yml"
    resolved.write_text(interpolate((default_project / "docker-compose.yml").read_text(), {"DB_PASSWORD": "x"}))
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(resolved)], tmp_path)


# Compose's interpolation: $$, $NAME, ${NAME} and ${NAME<op><word>} with the operators of the compose specification.
INTERPOLATION = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
EXPRESSION = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<word>.*))?", flags=re.DOTALL)


class MissingVariable(Exception):
    """A required variable (${NAME:?message}) is unset or empty; compose stops with the message."""


def interpolate(text: str, environ: dict[str, str]) -> str:
    """The compose file as `docker compose config` resolves it against these variables."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        expression = EXPRESSION.fullmatch(match.group("braced") or match.group("named") or "")
        assert expression, match.group(0)
        name, operator, word = expression.group("name", "operator", "word")
        value = environ.get(name)
        missing = value is None or (value == "" and bool(operator) and operator.startswith(":"))
        if operator in {":-", "-"}:
            return word if missing else str(value)
        if operator in {":?", "?"}:
            if missing:
                raise MissingVariable(f"{name}: {word}")
            return str(value)
        if operator in {":+", "+"}:
            return "" if missing else word
        return value or ""

    return INTERPOLATION.sub(replace, text)


def test_the_interpolation_model_follows_the_compose_specification() -> None:
    environ = {"SET": "v", "EMPTY": ""}
    assert interpolate("$$SET ${SET} $SET ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} ${SET:+r} ${EMPTY+r}", environ) == (
        "$SET v v d d  r r"
    )
    with pytest.raises(MissingVariable, match="EMPTY: needed"):
        interpolate("${EMPTY:?needed}", environ)
    assert interpolate("${EMPTY?needed}", environ) == ""


def required_variables(compose: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", compose))


def test_compose_stops_without_a_database_password(default_project: Path) -> None:
    """No default password: unset, empty (as in a fresh copy of .env.example) or set, only the last one resolves."""
    compose = (default_project / "docker-compose.yml").read_text()
    assert required_variables(compose) == {"DB_PASSWORD"}
    env_example = dict(
        line.split("=", 1) for line in (default_project / ".env.example").read_text().splitlines() if "=" in line
    )
    for environ in ({}, env_example):
        with pytest.raises(MissingVariable, match="DB_PASSWORD: set DB_PASSWORD in .env"):
            interpolate(compose, {key: value for key, value in environ.items() if not key.startswith("#")})
    resolved = yaml.safe_load(interpolate(compose, {"DB_PASSWORD": "from-env"}))
    assert resolved["services"]["app"]["environment"]["DB_PASSWORD"] == "from-env"
    assert resolved["services"]["db"]["environment"]["MYSQL_PASSWORD"] == "from-env"


def test_compose_with_root_answered_as_the_user_still_requires_the_password() -> None:
    compose = render_template_file("docker-compose.yml", {**default_context(), "db_user": "root"})
    assert required_variables(compose) == {"DB_PASSWORD"}
    database = yaml.safe_load(interpolate(compose, {"DB_PASSWORD": "x"}))["services"]["db"]["environment"]
    assert database["MYSQL_ROOT_PASSWORD"] == "x" and "MYSQL_USER" not in database


def test_compose_publishes_on_loopback_with_an_app_user_and_no_known_root_password(default_project: Path) -> None:
    compose = yaml.safe_load(interpolate((default_project / "docker-compose.yml").read_text(), {"DB_PASSWORD": "x"}))
    ports = [port for service in compose["services"].values() for port in service.get("ports", [])]
    assert ports and all(port.startswith("127.0.0.1:") for port in ports)
    database = compose["services"]["db"]["environment"]
    assert database["MYSQL_USER"] == compose["services"]["app"]["environment"]["DB_USER"] == "app"
    assert database["MYSQL_RANDOM_ROOT_PASSWORD"] == "yes" and "MYSQL_ROOT_PASSWORD" not in database


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
    """The hook's entry, run on a copy of the bake without requirements.txt, writes what the post-gen hook wrote."""
    config = yaml.safe_load((default_project / ".pre-commit-config.yaml").read_text())
    hook = next(hook for repo in config["repos"] for hook in repo["hooks"] if hook["id"] == "requirements-txt")
    assert hook["entry"] == "make requirements"
    copy = tmp_path / default_project.name
    shutil.copytree(default_project, copy, ignore=shutil.ignore_patterns(".venv", "requirements.txt"))
    run(["bash", "-c", hook["entry"]], copy, project_env())
    assert (copy / "requirements.txt").read_text() == (default_project / "requirements.txt").read_text()


# The one spelling of the export; everything else runs `make requirements`.
EXPORT_COMMAND = "export --frozen --no-default-groups --no-hashes --no-emit-project --no-header"


def test_the_requirements_export_is_written_only_in_the_makefile(project: Path) -> None:
    """The post-gen hook, pre-commit, CI and the docs run `make requirements`, so the flags cannot drift apart."""
    writers = [
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file()
        and not {".venv", "node_modules", ".serverless"} & set(path.relative_to(project).parts)
        and EXPORT_COMMAND in path.read_text(errors="replace")
    ]
    assert writers == ["Makefile"]
    ci_steps = load_workflow(project, "ci.yml")["jobs"]["test"]["steps"]
    check = next(step["run"] for step in ci_steps if "requirements.txt" in step.get("name", ""))
    assert check.split("\n")[:2] == ["make requirements", "git diff --exit-code requirements.txt"]
    for source in (TEMPLATE_ROOT / "README.md", TEMPLATE_ROOT / "hooks" / "post_gen_project.py"):
        assert EXPORT_COMMAND not in source.read_text(), source


def env_example_names(project: Path) -> set[str]:
    """Variables in .env.example, including the commented-out optional ones."""
    text = (project / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def variables_read_by_the_project(project: Path) -> set[str]:
    """Settings fields (read from the environment in upper case), ${env:X} in serverless.yml, Makefile variables."""
    settings = (project / "app" / "common" / "settings.py").read_text()
    body = settings.split("class Settings", 1)[1].split("\n\n\ndef ", 1)[0]
    fields = {name.upper() for name in re.findall(r"^    ([a-z_]+): ", body, flags=re.MULTILINE)}
    # GITHUB_ACTIONS is the runner's own, never a setting.
    serverless = set(re.findall(r"\$\{env:([A-Z][A-Z0-9_]*)", (project / "infra" / "serverless.yml").read_text())) - {
        "GITHUB_ACTIONS"
    }
    makefile = (project / "infra" / "Makefile").read_text()
    checked = set(re.findall(r"for name in ([A-Z_ ]+); do", makefile)[0].split())
    return fields | serverless | checked


def test_env_example_lists_exactly_what_the_app_and_infra_read(project: Path) -> None:
    assert env_example_names(project) == variables_read_by_the_project(project)
