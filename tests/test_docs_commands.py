"""Every command the generated README.md and CLAUDE.md give is accounted for: run here, proven by another test, or
impossible on this machine for a stated reason. A new command in the docs fails the suite until it is classified."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import default_context, project_env, run
from tests.local_services import free_port
from tests.template_files import render_template_file

pytestmark = pytest.mark.slow

# Commands executed by test_runnable_documented_commands_work, in a copy of each bake.
RUN_HERE = {
    "make install",
    "make migrate",
    'uv run alembic revision --autogenerate -m "add orders table"',
    "make test",
    "make lint",
    "make requirements",
    "make help",
    "make format",
    # The first writes LOCAL_TOKEN_KEY to the copy's .env; the suite after it must not read it (its conftest).
    "make token",
    'TOKEN=$(make -s token sub=alice scopes="challenge/write")',
}
# The README's calls with a `make token` token to `make run`: test_make_run_serves_health makes the same calls.
LOCAL_TOKEN_CALLS = "test_make_run_serves_health (a token from make token, against make run)"
# Commands proven elsewhere in the suite.
PROVEN_ELSEWHERE = {
    "make run": "test_make_run_serves_health",
    "make -C infra install": "tests/test_packaging.py (npm ci from the lock)",
    "make -C infra package": "tests/test_packaging.py (make package, unzip and invoke)",
    "make module name=orders": "the generated suite's tests/test_new_module.py",
    "make -C infra ci-access REPOSITORY=OWNER/REPO": "tests/test_ci_access.py (with a stand-in aws)",
    "make -C infra ci-access": "tests/test_ci_access.py (with a stand-in aws)",
    "make -C infra database-dev": "tests/test_database_stack.py (with a stand-in aws)",
    "make -C infra database-prod": "tests/test_database_stack.py (with a stand-in aws)",
    "make jobs": "the generated suite's tests/test_jobs.py (the listing of scripts/jobs.py)",
    "make -C infra queue-endpoint VPC_ID=vpc-... SUBNET_IDS=subnet-...,subnet-... SECURITY_GROUP_ID=sg-...": (
        "tests/test_background_jobs.py (with a stand-in aws)"
    ),
    "ALLOW_ROLLBACK_ACROSS_MIGRATION=1 scripts/release.sh rollback prod": "tests/test_release_script.py (stand-ins)",
    'uvx --from cruft==2.16.0 --with "typer<0.26" cruft update': "tests/test_updates.py (shows a template change)",
    'curl -i -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d \'{"title": '
    '"First"}\' http://127.0.0.1:8000/challenges': LOCAL_TOKEN_CALLS,
    'curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/challenges': LOCAL_TOKEN_CALLS,
}
# Commands this machine cannot run, and why.
NOT_HERE = {
    "make -C infra deploy-dev": "needs AWS credentials (refusal without settings: test_makefile_refuses_to_run_*)",
    "make -C infra deploy-prod": "needs AWS credentials",
    "make -C infra remove-dev": "needs AWS credentials",
    "make -C infra migrate-dev": "invokes the deployed migrate function (the function itself: test_production_package)",
    "make -C infra migrate-prod": "invokes the deployed migrate function",
    "make -C infra ca-bundle": "needs the network (AWS's trust store); test_production_package puts a test CA there",
    "aws cloudformation deploy --region ap-northeast-2 --template-file infra/secrets-endpoint.yml --stack-name "
    "secrets-manager-endpoint --parameter-overrides VpcId=vpc-... SubnetIds=subnet-...,subnet-... "
    "FunctionSecurityGroupId=sg-...": "needs AWS credentials",
    "aws sqs start-message-move-task --source-arn arn:aws:sqs:ap-northeast-2:ACCOUNT_ID:challenge-backend-prod-jobs-"
    "dead-letter --destination-arn arn:aws:sqs:ap-northeast-2:ACCOUNT_ID:challenge-backend-prod-jobs": (
        "needs a deployed stage's dead-letter queue"
    ),
    "docker compose up --build --detach": "no Docker engine here (hadolint and the compose schema check the files)",
    "docker compose exec app alembic upgrade heads": "no Docker engine here (alembic runs on MariaDB elsewhere)",
    "aws cloudformation deploy --region ap-northeast-2 --template-file infra/cognito.yml "
    "--stack-name challenge-backend-auth --parameter-overrides Stage=dev DomainPrefix=challenge-backend-auth": (
        "needs AWS credentials (cfn-lint and checkov check the file)"
    ),
    "aws cloudformation deploy --region ap-northeast-2 --template-file infra/cognito.yml "
    "--stack-name alt-backend-auth --parameter-overrides Stage=dev DomainPrefix=alt-backend-auth": (
        "needs AWS credentials"
    ),
    "aws cloudformation deploy --region ap-northeast-2 --template-file infra/cognito.yml "
    "--stack-name challenge-backend-auth-prod --parameter-overrides Stage=prod "
    "DomainPrefix=challenge-backend-auth-prod CallbackUrls=https://app.example.com/callback": (
        "needs AWS credentials (the prod rule: test_the_cognito_stack_refuses_the_localhost_callback_in_prod)"
    ),
    "aws cloudformation deploy --region ap-northeast-2 --template-file infra/cognito.yml "
    "--stack-name alt-backend-auth-prod --parameter-overrides Stage=prod "
    "DomainPrefix=alt-backend-auth-prod CallbackUrls=https://app.example.com/callback": "needs AWS credentials",
    "aws cloudformation describe-stacks --region ap-northeast-2 --stack-name challenge-backend-auth "
    '--query "Stacks[0].Outputs" --output table': "needs AWS credentials",
    "aws cloudformation describe-stacks --region ap-northeast-2 --stack-name alt-backend-auth "
    '--query "Stacks[0].Outputs" --output table': "needs AWS credentials",
    "aws cognito-idp describe-user-pool-client --region ap-northeast-2 --user-pool-id USER_POOL_ID "
    "--client-id MACHINE_CLIENT_ID --query UserPoolClient.ClientSecret --output text": "needs AWS credentials",
    'curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials -d '
    'scope="challenge/write" "$TOKEN_ENDPOINT"': "needs a deployed Cognito user pool",
    'curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials -d scope="orders/read '
    'orders/write" "$TOKEN_ENDPOINT"': "needs a deployed Cognito user pool",
    'curl -i "$API_URL/health"': "needs a deployed stage (the packaged function: test_production_package.py)",
    'curl -i "$API_URL/challenges"': "needs a deployed stage (401 without claims: test_production_package.py)",
    'curl -i "$API_URL/orders"': "needs a deployed stage",
    'curl -i -H "Authorization: Bearer $TOKEN" "$API_URL/challenges"': "needs a deployed stage",
    'curl -i -H "Authorization: Bearer $TOKEN" "$API_URL/orders"': "needs a deployed stage",
    'curl -i -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d \'{"title": '
    '"First"}\' "$API_URL/challenges"': "needs a deployed stage (a scoped write: test_production_package.py)",
}


def documented_commands(project: Path) -> set[str]:
    """Shell lines from the README's bash blocks and the backticked commands of CLAUDE.md."""
    readme = (project / "README.md").read_text()
    commands = set()
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL):
        for line in block.splitlines():
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("export "):  # exports only set placeholders for the next lines
                commands.add(command)
    claude = (project / "CLAUDE.md").read_text()
    commands.update(re.findall(r"`((?:uv|cd|make|docker) [^`]*)`", claude))
    return commands


@pytest.mark.parametrize("bake", ["default_project", "alternative_project"])
def test_every_documented_command_is_classified(request: pytest.FixtureRequest, bake: str) -> None:
    project: Path = request.getfixturevalue(bake)
    known = RUN_HERE | set(PROVEN_ELSEWHERE) | set(NOT_HERE)
    assert documented_commands(project) - known == set()


# No session bake answers background_jobs=yes; its documents add commands of their own, for both database answers.
JOB_BAKES = {"aurora": {}, "existing": {"database": "existing", "db_credentials": "secrets_manager"}}


@pytest.mark.parametrize("database", JOB_BAKES)
def test_every_documented_command_of_a_background_jobs_bake_is_classified(tmp_path: Path, database: str) -> None:
    """The documents of a background_jobs=yes bake, rendered without baking (their commands are the same in either
    language: tests/test_docs_languages.py)."""
    answers = default_context(background_jobs="yes", **JOB_BAKES[database])
    for document in ("README", "CLAUDE"):
        text = render_template_file(f"{document}.{answers['language']}.md", answers)
        (tmp_path / f"{document}.md").write_text(text, encoding="utf-8")
    documented = documented_commands(tmp_path)
    assert "make jobs" in documented  # the jobs' documents were rendered, not the default's
    assert documented - (RUN_HERE | set(PROVEN_ELSEWHERE) | set(NOT_HERE)) == set()


@pytest.mark.parametrize("bake", ["default_project", "alternative_project"])
def test_documented_commands_run_from_the_project_root(request: pytest.FixtureRequest, bake: str) -> None:
    """No command changes directory, so a README block pasted whole into one shell runs in order (a second
    `cd infra && ...` would fail); infra targets run as `make -C infra <target>`."""
    project: Path = request.getfixturevalue(bake)
    assert [command for command in documented_commands(project) if re.search(r"(?:^|&&|;)\s*cd ", command)] == []


# Order of the runnable commands: install, migrate, write a new revision, then the rest (tests and the check-only
# linters, which so see the revision as Alembic wrote it), and the fixing linters last.
FIRST = ("make install", "make migrate", "uv run alembic revision")
FIXERS = ("make format",)


def run_order(command: str) -> int:
    for position, prefix in enumerate(FIRST):
        if command.startswith(prefix):
            return position
    return len(FIRST) + command.startswith(FIXERS)


@pytest.mark.parametrize("bake", ["default_project", "alternative_project"])
def test_runnable_documented_commands_work(request: pytest.FixtureRequest, bake: str, tmp_path: Path) -> None:
    """Every runnable command of the README and CLAUDE.md, on a copy of the bake (they write files). The new
    revision is written before the check-only linters run, so it must pass them as Alembic wrote it (post-write
    hooks)."""
    baked: Path = request.getfixturevalue(bake)
    project = tmp_path / baked.name
    shutil.copytree(baked, project, ignore=shutil.ignore_patterns(".venv"), symlinks=True)
    documented = documented_commands(baked)
    assert len(documented & RUN_HERE) >= 5, documented  # a renamed code fence must not empty the list
    env = project_env(ENVIRONMENT="local", SQLITE_PATH=str(tmp_path / "local.db"))
    ordered = sorted(RUN_HERE & documented, key=run_order)
    revision = next(index for index, command in enumerate(ordered) if "alembic revision" in command)
    check_only = ordered.index("make lint")
    assert ordered[0] == "make install" and revision < check_only and ordered[-1].startswith(FIXERS), ordered
    for command in ordered:
        run(["bash", "-c", command], project, env)
    shipped = len(list((baked / "migrations" / "versions").glob("*.py")))
    assert len(list((project / "migrations" / "versions").glob("*.py"))) == shipped + 1  # plus the new (empty) one


def answer(
    server: subprocess.Popen[bytes], url: str, headers: dict[str, str], deadline: float, body: bytes | None = None
) -> tuple[int, bytes]:
    """The status and body of a GET (a POST with body) to the server `make run` started, asked again while it is not
    listening (starting, or restarting after a reload) until the deadline."""
    while True:
        try:
            request = urllib.request.Request(url, data=body, headers=headers)
            with urllib.request.urlopen(request, timeout=5) as response:  # nosec B310
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(0.2)


def start_make_run(project: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`make run PORT=port` in project, its output collected for stop_make_run."""
    return subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # make, uv, the reloader and its worker in one group, stopped together
    )


def stop_make_run(server: subprocess.Popen[bytes]) -> str:
    """Stop what start_make_run started (its whole process group, killed if SIGTERM is not enough); its output."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        return server.communicate(timeout=30)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        return server.communicate()[0].decode(errors="replace")


def test_make_run_serves_health(default_project: Path, tmp_path: Path) -> None:
    """The README's `make run` on a fresh bake migrates the embedded SQLite file, then serves /health on PORT with
    uvicorn's reloader, and the example module to a token from `make token`, which holds every scope unless `scopes=`
    is given, even empty; `make help` lists both. The key is given in the environment: `make run` would write one to
    the shared bake's .env otherwise."""
    help_text = run(["make", "help"], default_project)
    assert "make run" in help_text and "make token" in help_text
    port = free_port()
    database = tmp_path / "local.db"
    env = project_env(ENVIRONMENT="local", SQLITE_PATH=str(database), LOCAL_TOKEN_KEY="k" * 32)
    server = start_make_run(default_project, port, env)
    try:
        deadline = time.monotonic() + 60
        health = answer(server, f"http://127.0.0.1:{port}/health", {}, deadline)
        assert health == (200, b'{"status":"ok"}')
        challenges = f"http://127.0.0.1:{port}/challenges"
        assert answer(server, challenges, {}, deadline)[0] == 401
        token = run(["make", "-s", "token", "sub=alice"], default_project, env).strip()
        assert answer(server, challenges, {"Authorization": f"Bearer {token}"}, deadline)[0] == 200
        unscoped = run(["make", "-s", "token", "sub=bob", "scopes="], default_project, env).strip()
        for bearer, status in ((unscoped, 403), (token, 201)):
            headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}
            assert answer(server, challenges, headers, deadline, body=b'{"title": "First"}')[0] == status
    finally:
        output = stop_make_run(server)
    assert "Started reloader process" in output and "Application startup complete" in output
    with contextlib.closing(sqlite3.connect(database)) as connection:  # migrated before serving
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() != []


def test_make_run_serves_a_setting_changed_in_dot_env_after_its_reload(default_project: Path, tmp_path: Path) -> None:
    """The settings are read from .env once per process: `make run` restarts the app when .env changes, so the new
    value (here the API's title, APP_NAME) is served without a restart by hand. Runs in a copy, since it writes
    .env."""
    project = tmp_path / default_project.name
    shutil.copytree(default_project, project, ignore=shutil.ignore_patterns(".venv"), symlinks=True)
    port = free_port()
    env = project_env(ENVIRONMENT="local", SQLITE_PATH=str(tmp_path / "local.db"), LOCAL_TOKEN_KEY="k" * 32)
    document = f"http://127.0.0.1:{port}/openapi.json"
    changed_title = "Title from a changed .env"
    server = start_make_run(project, port, env)
    try:
        deadline = time.monotonic() + 90  # the copy's first `uv run` creates its .venv
        assert json.loads(answer(server, document, {}, deadline)[1])["info"]["title"] != changed_title
        (project / ".env").write_text(f"APP_NAME={changed_title}\n", encoding="utf-8")
        deadline = time.monotonic() + 30
        titles = []
        while changed_title not in titles and time.monotonic() < deadline:
            titles.append(json.loads(answer(server, document, {}, deadline)[1])["info"]["title"])
            time.sleep(0.2)
    finally:
        output = stop_make_run(server)
    assert titles[-1] == changed_title, output
    assert "WatchFiles detected changes in '.env'" in output
