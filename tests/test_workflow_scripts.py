"""The scripts the generated workflows call, run here against stand-in commands: scripts/release.sh (deploy, migration
by the migrate function, readiness check, rollback of a failing release, a unique release tag) with stand-in npx
(sls), aws, curl and gh behind the project's real `make -C infra` targets;
scripts/template_update.sh against a local template repository and a stand-in gh; `make -C infra ci-access` with a
stand-in aws. The workflows themselves are checked in tests/test_workflows.py and tests/test_artifacts.py."""

from __future__ import annotations

import datetime
import itertools
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import ANY

import pytest
from pytest_cookies.plugin import Cookies

from tests.conftest import GIT, git, project_env, render_only, run, tool
from tests.test_deployment import ci_access_template
from tests.test_docs_languages import PROJECT_TEMPLATE
from tests.test_updates import template_change

SCRIPTS = ("scripts/release.sh", "scripts/template_update.sh")
SHA = "abcdef1234567890abcdef1234567890abcdef12"
# What deploy.yml's deploy step receives besides credentials (values are placeholders; nothing reaches AWS).
DEPLOY_ENV = {
    "GITHUB_ACTIONS": "true",
    "AWS_CLOUDFORMATION_ROLE_ARN": "arn:aws:iam::123456789012:role/cfn",
    "AWS_API_ROLE_ARN": "arn:aws:iam::123456789012:role/api",
    "AWS_MIGRATION_ROLE_ARN": "arn:aws:iam::123456789012:role/migration",
    "SERVERLESS_DEPLOYMENT_BUCKET": "artifacts",
    "DB_HOST": "db.invalid",
    "DB_SECRET_ARN": "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:app-db-AbCdEf",
    "SERVERLESS_ORG": "example-org",
    "JWT_ISSUER_URL": "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_AbCdEf123",
    "JWT_AUDIENCE": "4b1tq8rvd2mdb0example01",
    "READINESS_ATTEMPTS": "2",
    "READINESS_DELAY": "0",
}
# Stand-ins: each logs its arguments; their answers come from STUB_* variables and files in $STUB_DIR: ready (what
# /health/ready answers), deployments (those deployed here), live (the deployment the stack runs), revision (the
# database's) and record (the release record in the deployment bucket). State lasts across runs of one test.
STUBS = {
    "npx": r"""
        printf 'npx %s\n' "$*" >>"$STUB_LOG"
        [[ $1 == sls ]] || exit 90
        case "$2 $3" in
          "deploy list")
            for stamp in ${STUB_DEPLOYMENTS:-} $(cat "$STUB_DIR/deployments" 2>/dev/null); do
              printf 'Timestamp: %s\nFiles:\n  - a.zip\n' "$stamp"
            done ;;
          "rollback --stage")
            if [[ ${STUB_ROLLBACK_RESTORES:-0} == 1 ]]; then echo yes >"$STUB_DIR/ready"; fi
            if [[ ${STUB_ROLLBACK_EXIT:-0} != 0 ]]; then exit "$STUB_ROLLBACK_EXIT"; fi
            echo "$6" >"$STUB_DIR/live" ;;
          "deploy --stage")
            # A new deployment each time, one second after the previous one, and live.
            touch "$STUB_DIR/deployments"
            stamp=$((1700000100000 + 1000 * $(wc -l <"$STUB_DIR/deployments")))
            echo "$stamp" >>"$STUB_DIR/deployments"
            echo "$stamp" >"$STUB_DIR/live" ;;
          "invoke --function")
            # The migrate function's answer; a failed invocation prints its error and the CLI exits 1. The database
            # starts at STUB_DB_REVISION, the code's head is STUB_HEAD; {"read_only": true} only reports.
            revision=$(cat "$STUB_DIR/revision" 2>/dev/null || echo "${STUB_DB_REVISION:-0002}")
            if [[ $* == *read_only* ]]; then
              echo "{\"revision_before\": \"$revision\", \"revision_after\": \"$revision\"}"
              exit 0
            fi
            if [[ ${STUB_MIGRATION_FAILS:-0} == 1 ]]; then
              echo '{"errorMessage": "(1050, \"Table already exists\")", "errorType": "OperationalError"}'
              exit 1
            fi
            echo "${STUB_HEAD:-0002}" >"$STUB_DIR/revision"
            echo "{\"revision_before\": \"$revision\", \"revision_after\": \"${STUB_HEAD:-0002}\"}" ;;
          *) exit 91 ;;
        esac
        """,
    "aws": r"""
        printf 'aws %s\n' "$*" >>"$STUB_LOG"
        case "$*" in
          *StackStatus*)
            if [[ -n ${STUB_STACK_ERROR:-} ]]; then echo "$STUB_STACK_ERROR" >&2; exit 254; fi
            echo UPDATE_COMPLETE ;;
          *HttpApiUrl*)
            if [[ ${STUB_NO_URL:-0} == 1 ]]; then echo None; else echo https://api.example.test; fi ;;
          "cloudformation get-template "*)
            live=$(cat "$STUB_DIR/live" 2>/dev/null || printf '%s\n' ${STUB_DEPLOYMENTS:-} | sort -n | tail -n 1)
            echo "serverless/scripts-check/prod/$live-2023-11-14T22:13:21.000Z/scripts-check.zip" ;;
          "s3api get-object "*)
            if [[ ! -f $STUB_DIR/record ]]; then
              echo 'An error occurred (NoSuchKey) when calling the GetObject operation' >&2
              exit 254
            fi
            cp "$STUB_DIR/record" "${!#}" ;;
          "s3api put-object "*) cp "${!#}" "$STUB_DIR/record" ;;
          *) ;;
        esac
        """,
    "curl": r"""
        printf 'curl %s\n' "$*" >>"$STUB_LOG"
        # A cancelled job: the runner signals the script while it waits for an answer.
        if [[ -n ${STUB_CURL_SIGNAL:-} ]]; then kill -s "$STUB_CURL_SIGNAL" "$PPID"; fi
        if [[ $(cat "$STUB_DIR/ready") == yes ]]; then echo '{"status":"ready"}'; exit 0; fi
        echo 'curl: (22) The requested URL returned error: 503' >&2
        exit 22
        """,
    "gh": r"""
        printf 'gh %s\n' "$*" >>"$STUB_LOG"
        case "$1 $2" in
          "api "*) printf '%s\n' ${STUB_TAGS:-} ;;
          "pr list") printf '%s\n' "${STUB_OPEN_PR:-}" ;;
          "pr create" | "pr edit")
            while (($#)); do
              if [[ $1 == --body-file ]]; then cat "$2" >>"$STUB_DIR/bodies"; fi
              shift
            done ;;
        esac
        """,
}
MISSING_STACK = "An error occurred (ValidationError): Stack with id x does not exist"
# `make -C infra migrate-prod`: the deployed migrate function, invoked through the Serverless CLI.
MIGRATE = "sls invoke --function migrate --stage prod"
READY = "--fail --silent --show-error --max-time 10 https://api.example.test/health/ready"
# The migrate function asked for the database's revision only, before a rollback.
READ_REVISION = 'sls invoke --function migrate --stage prod --data {"read_only": true}'
RECORD_KEY = "serverless/scripts-check/prod/.last-release"


@pytest.fixture(scope="module")
def rendered_project(cookies_session: Cookies) -> Path:
    """A render-only bake (OIDC, Serverless v4 without an org, Secrets Manager), with the requirements.txt and the CA
    bundle (`make -C infra ca-bundle` in the workflow) that packaging checks for."""
    with render_only():
        result = cookies_session.bake(extra_context={"project_slug": "scripts-check"})
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    (project / "requirements.txt").write_text("fastapi\n")
    (project / "infra" / "certs").mkdir(exist_ok=True)
    (project / "infra" / "certs" / "rds-global-bundle.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    return project


@pytest.fixture
def stubs(tmp_path: Path) -> Path:
    """A folder of stand-in commands (put first on PATH) with their log and state files."""
    folder = tmp_path / "stubs"
    (folder / "bin").mkdir(parents=True)
    for name, body in STUBS.items():
        path = folder / "bin" / name
        path.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + "\n".join(line[8:] for line in body.splitlines()))
        path.chmod(0o755)
    (folder / "log").write_text("")
    (folder / "ready").write_text("no\n")
    return folder


def stub_env(stubs: Path, **overrides: str) -> dict[str, str]:
    return project_env(
        PATH=f"{stubs / 'bin'}{os.pathsep}{os.environ['PATH']}",
        STUB_LOG=str(stubs / "log"),
        STUB_DIR=str(stubs),
        **overrides,
    )


def calls(stubs: Path, command: str) -> list[str]:
    """The logged calls of one stand-in, without its name."""
    prefix = f"{command} "
    return [line[len(prefix) :] for line in (stubs / "log").read_text().splitlines() if line.startswith(prefix)]


def script(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", *args], cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def project(rendered_project: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(rendered_project, tmp_path / rendered_project.name))


def deploy_then_release(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """What deploy.yml runs: the deploy job's step, then, only when it passed, the release job's step."""
    deployed = script(project, "scripts/release.sh", "deploy", "prod", env=env)
    if deployed.returncode == 0:
        released = script(project, "scripts/release.sh", "publish", env=env)
        assert released.returncode == 0, released.stdout + released.stderr
    return deployed


def release_env(stubs: Path, **overrides: str) -> dict[str, str]:
    return stub_env(stubs, **{**DEPLOY_ENV, "GITHUB_SHA": SHA, "GITHUB_REPOSITORY": "acme/shop", **overrides})


def today_tags() -> set[str]:
    """Today's tag for SHA, as the script names it (the UTC date could turn over during the test)."""
    now = datetime.datetime.now(datetime.UTC)
    return {f"v{day:%Y.%m.%d}-{SHA[:7]}" for day in (now, now + datetime.timedelta(seconds=30))}


def test_a_failing_readiness_check_rolls_back_and_releases_nothing(project: Path, stubs: Path) -> None:
    summary = stubs / "summary.md"
    env = release_env(
        stubs,
        STUB_DEPLOYMENTS="1700000002000 1700000001000",
        STUB_ROLLBACK_RESTORES="1",
        GITHUB_STEP_SUMMARY=str(summary),
    )
    result = deploy_then_release(project, env)
    assert result.returncode == 1
    assert calls(stubs, "npx") == [
        "sls deploy list --stage prod",
        "sls deploy --stage prod",
        MIGRATE,
        "sls rollback --stage prod --timestamp 1700000002000",
    ]
    assert calls(stubs, "curl").count(READY) == 3
    assert calls(stubs, "gh") == []
    assert "::error::Readiness check failed for the new release" in result.stderr
    restored = "Rolled back the code of scripts-check-prod to deployment 1700000002000 (2023-11-14 22:13:22 UTC)"
    assert restored in result.stderr
    assert "the restored deployment passes the readiness check" in result.stderr
    assert restored in summary.read_text()


def test_a_rollback_that_does_not_help_says_the_cause_is_elsewhere(project: Path, stubs: Path) -> None:
    result = deploy_then_release(project, release_env(stubs, STUB_DEPLOYMENTS="1700000001000"))
    assert result.returncode == 1
    assert calls(stubs, "npx")[-1] == "sls rollback --stage prod --timestamp 1700000001000"
    assert "fails the readiness check too, so the cause is probably outside the code" in result.stderr
    assert calls(stubs, "gh") == []


def test_a_failed_rollback_says_the_new_release_is_still_live(project: Path, stubs: Path) -> None:
    env = release_env(stubs, STUB_DEPLOYMENTS="1700000001000", STUB_ROLLBACK_EXIT="1")
    result = deploy_then_release(project, env)
    assert result.returncode == 1
    assert "the rollback to deployment 1700000001000 failed too: the new release is still live" in result.stderr
    assert calls(stubs, "gh") == []


def test_a_first_deploy_that_fails_the_check_has_nothing_to_restore(project: Path, stubs: Path) -> None:
    result = deploy_then_release(project, release_env(stubs, STUB_STACK_ERROR=MISSING_STACK))
    assert result.returncode == 1
    assert calls(stubs, "npx") == ["sls deploy --stage prod", MIGRATE]
    assert "There is no earlier deployment to restore" in result.stderr
    assert calls(stubs, "gh") == []


def test_a_stack_that_cannot_be_read_stops_before_deploying(project: Path, stubs: Path) -> None:
    result = deploy_then_release(project, release_env(stubs, STUB_STACK_ERROR="AccessDenied"))
    assert result.returncode == 1
    assert calls(stubs, "npx") == []
    assert "nothing was deployed" in result.stderr


def test_ci_without_the_stack_secrets_stops_before_deploying(project: Path, stubs: Path) -> None:
    env = release_env(stubs, AWS_CLOUDFORMATION_ROLE_ARN="", SERVERLESS_DEPLOYMENT_BUCKET="")
    result = deploy_then_release(project, env)
    assert result.returncode == 1
    assert "Missing environment secrets: AWS_CLOUDFORMATION_ROLE_ARN SERVERLESS_DEPLOYMENT_BUCKET" in result.stderr
    assert calls(stubs, "npx") == [] and calls(stubs, "aws") == []


def test_a_passing_check_creates_the_release_once(project: Path, stubs: Path) -> None:
    (stubs / "ready").write_text("yes\n")
    result = deploy_then_release(project, release_env(stubs, STUB_DEPLOYMENTS="1700000001000"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sls rollback" not in "\n".join(calls(stubs, "npx"))
    created = [call for call in calls(stubs, "gh") if call.startswith("release create")]
    assert len(created) == 1
    tag = created[0].split()[2]
    assert tag in today_tags()
    assert created[0] == f"release create {tag} --repo acme/shop --target {SHA} --title {tag} --generate-notes"
    assert calls(stubs, "gh") == [f"api repos/acme/shop/git/matching-refs/tags/{tag} --jq .[].ref", created[0]]


def test_the_deploy_migrates_then_checks_readiness(project: Path, stubs: Path) -> None:
    """Deploy, then the migrate function, then the readiness check: the check sees the new code on the new schema."""
    (stubs / "ready").write_text("yes\n")
    result = script(project, "scripts/release.sh", "deploy", "prod", env=release_env(stubs, STUB_DEPLOYMENTS="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line for line in (stubs / "log").read_text().splitlines() if not line.startswith("aws ")]
    assert steps == [
        "npx sls deploy list --stage prod",
        "npx sls deploy --stage prod",
        f"npx {MIGRATE}",
        f"curl {READY}",
    ]
    assert '"revision_after": "0002"' in result.stdout
    assert "Migration done; readiness check passed" in result.stdout


def test_a_failing_migration_rolls_the_code_back_and_releases_nothing(project: Path, stubs: Path) -> None:
    (stubs / "ready").write_text("yes\n")
    record_release(stubs, "1700000001000", "0002")
    env = release_env(stubs, STUB_DEPLOYMENTS="1700000001000", STUB_MIGRATION_FAILS="1")
    result = deploy_then_release(project, env)
    assert result.returncode == 1
    assert calls(stubs, "npx") == [
        "sls deploy list --stage prod",
        "sls deploy --stage prod",
        MIGRATE,
        # The database is still at the release's revision (the failed migration recorded none), so the code may go back.
        READ_REVISION,
        "sls rollback --stage prod --timestamp 1700000001000",
    ]
    # No readiness check of the new release; one of the restored deployment.
    assert calls(stubs, "curl") == [READY]
    assert "Table already exists" in result.stdout
    assert "::error::The migration failed (make -C infra migrate-prod;" in result.stderr
    assert "Rolled back the code of scripts-check-prod to deployment 1700000001000" in result.stderr
    assert "the restored deployment passes the readiness check" in result.stderr
    assert calls(stubs, "gh") == []


def test_a_failing_first_migration_has_no_code_to_restore(project: Path, stubs: Path) -> None:
    env = release_env(stubs, STUB_STACK_ERROR=MISSING_STACK, STUB_MIGRATION_FAILS="1")
    result = deploy_then_release(project, env)
    assert result.returncode == 1
    assert calls(stubs, "npx") == ["sls deploy --stage prod", MIGRATE]
    assert calls(stubs, "curl") == []
    assert "::error::The migration failed" in result.stderr
    assert "There is no earlier deployment to restore" in result.stderr
    assert calls(stubs, "gh") == []


def record_release(stubs: Path, deployment: str, revision: str) -> None:
    """The release record a passing release left in the deployment bucket."""
    (stubs / "record").write_text(f"deployment={deployment}\nrevision={revision}\ncommit={SHA}\n")


def recorded(stubs: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (stubs / "record").read_text().splitlines())


def test_a_failure_after_a_rolled_back_release_returns_to_the_last_passing_release(project: Path, stubs: Path) -> None:
    """The rollback target is the recorded release, not the newest deployment Serverless lists,
    which after one failed-and-rolled-back release is the failed one."""
    (stubs / "ready").write_text("yes\n")
    passed = script(project, "scripts/release.sh", "deploy", "prod", env=release_env(stubs, STUB_DEPLOYMENTS="1"))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert recorded(stubs) == {"deployment": "1700000100000", "revision": "0002", "commit": SHA, "released": ANY}
    put = f"s3api put-object --bucket artifacts --key {RECORD_KEY} "
    assert any(call.startswith(put) for call in calls(stubs, "aws"))

    failing = release_env(stubs, STUB_DEPLOYMENTS="1", STUB_ROLLBACK_RESTORES="1")
    for deployed in ("1700000101000", "1700000102000"):
        (stubs / "ready").write_text("no\n")
        (stubs / "log").write_text("")
        result = deploy_then_release(project, failing)
        assert result.returncode == 1
        assert calls(stubs, "npx")[-1] == "sls rollback --stage prod --timestamp 1700000100000", deployed
        assert "Readiness check failed" in result.stderr
        assert recorded(stubs)["deployment"] == "1700000100000"
    assert (stubs / "deployments").read_text().split() == ["1700000100000", "1700000101000", "1700000102000"]
    assert calls(stubs, "gh") == []


def test_an_unexpected_error_after_the_deploy_rolls_back_and_says_so(project: Path, stubs: Path) -> None:
    record_release(stubs, "1700000001000", "0002")
    result = deploy_then_release(project, release_env(stubs, STUB_DEPLOYMENTS="1700000001000", STUB_NO_URL="1"))
    assert result.returncode == 1
    assert calls(stubs, "npx")[-1] == "sls rollback --stage prod --timestamp 1700000001000"
    assert "The stack scripts-check-prod has no HttpApiUrl output" in result.stderr
    stopped = "::error::The release stopped unexpectedly while reading the stack's outputs (exit status 1)"
    assert stopped in result.stderr
    assert "Rolled back the code of scripts-check-prod to deployment 1700000001000" in result.stderr
    assert calls(stubs, "gh") == []


def test_a_cancelled_release_says_what_is_live_and_the_rollback_command_restores_the_record(
    project: Path, stubs: Path
) -> None:
    record_release(stubs, "1700000001000", "0002")
    env = release_env(stubs, STUB_DEPLOYMENTS="1700000001000", STUB_CURL_SIGNAL="TERM")
    result = deploy_then_release(project, env)
    assert result.returncode == 1
    assert "sls rollback" not in "\n".join(calls(stubs, "npx"))
    assert (
        "::error::Cancelled (SIGTERM) while checking readiness: scripts-check-prod runs the new code, not released. The"
        " last release on record is still deployment 1700000001000 (2023-11-14 22:13:21 UTC): once the stack is"
        " stable, scripts/release.sh rollback prod restores it"
    ) in result.stderr
    assert calls(stubs, "gh") == []

    (stubs / "ready").write_text("yes\n")
    restored = script(project, "scripts/release.sh", "rollback", "prod", env=release_env(stubs))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert calls(stubs, "npx")[-2:] == [READ_REVISION, "sls rollback --stage prod --timestamp 1700000001000"]
    assert "passes the readiness check" in restored.stdout
    again = script(project, "scripts/release.sh", "rollback", "prod", env=release_env(stubs))
    assert again.returncode == 0 and "nothing to roll back" in again.stdout


def test_a_rollback_across_a_migration_is_refused_unless_allowed(project: Path, stubs: Path) -> None:
    """Old code is not put on a schema migrated past it, unless the operator says the migration
    only added (expand/contract)."""
    record_release(stubs, "1700000001000", "0002")
    env = release_env(stubs, STUB_DEPLOYMENTS="1700000001000", STUB_HEAD="0003", STUB_ROLLBACK_RESTORES="1")
    result = deploy_then_release(project, env)
    assert result.returncode == 1
    assert "sls rollback" not in "\n".join(calls(stubs, "npx"))
    assert (
        "Not rolled back: the database is at revision 0003, and deployment 1700000001000 (2023-11-14 22:13:21 UTC)"
        " ran on revision 0002"
    ) in result.stderr
    assert "ALLOW_ROLLBACK_ACROSS_MIGRATION=1 scripts/release.sh rollback prod" in result.stderr
    assert calls(stubs, "gh") == []

    refused = script(project, "scripts/release.sh", "rollback", "prod", env=env)
    assert refused.returncode == 1 and "Not rolled back: the database is at revision 0003" in refused.stderr
    assert calls(stubs, "npx")[-1] == READ_REVISION

    allowing = {**env, "ALLOW_ROLLBACK_ACROSS_MIGRATION": "1"}
    allowed = script(project, "scripts/release.sh", "rollback", "prod", env=allowing)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert calls(stubs, "npx")[-1] == "sls rollback --stage prod --timestamp 1700000001000"
    assert "Rolling back although the database is at revision 0003" in allowed.stdout


def test_a_commit_released_again_the_same_day_gets_the_next_free_tag(project: Path, stubs: Path) -> None:
    tags = " ".join(f"refs/tags/{tag} refs/tags/{tag}.2" for tag in sorted(today_tags()))
    result = script(project, "scripts/release.sh", "publish", env=release_env(stubs, STUB_TAGS=tags))
    assert result.returncode == 0, result.stderr
    (created,) = [call for call in calls(stubs, "gh") if call.startswith("release create")]
    assert created.split()[2] in {f"{tag}.3" for tag in today_tags()}


@pytest.mark.parametrize("args", [[], ["deploy"], ["publish", "extra"], ["unknown"]])
def test_release_script_usage_errors_exit_2(project: Path, stubs: Path, args: list[str]) -> None:
    result = script(project, "scripts/release.sh", *args, env=release_env(stubs))
    assert result.returncode == 2 and "scripts/release.sh deploy STAGE" in result.stderr


def test_the_scripts_pass_shellcheck() -> None:
    run([tool("shellcheck"), *SCRIPTS], PROJECT_TEMPLATE)


def test_the_scripts_are_copied_unrendered_and_executable(rendered_project: Path) -> None:
    for relative in SCRIPTS:
        baked = rendered_project / relative
        assert baked.read_bytes() == (PROJECT_TEMPLATE / relative).read_bytes()
        assert os.access(baked, os.X_OK)


def ci_access_parameters(project: Path) -> set[str]:
    """The Parameters infra/ci-access.yml declares."""
    return set(ci_access_template(project)["Parameters"])


def parameter_names(deploy_call: str) -> list[str]:
    """The parameter names an `aws cloudformation deploy` call passes in --parameter-overrides."""
    words = deploy_call.split(" --parameter-overrides ", 1)[1].split()
    return [word.split("=", 1)[0] for word in itertools.takewhile(lambda word: not word.startswith("--"), words)]


def test_make_ci_access_creates_the_stack_and_prints_its_outputs(rendered_project: Path, stubs: Path) -> None:
    refused = subprocess.run(
        ["make", "-C", "infra", "ci-access"], cwd=rendered_project, env=stub_env(stubs), capture_output=True, text=True
    )
    assert refused.returncode != 0 and "Set REPOSITORY=OWNER/REPO" in refused.stdout + refused.stderr
    assert calls(stubs, "aws") == []
    run(["make", "-C", "infra", "ci-access", "REPOSITORY=acme/shop"], rendered_project, stub_env(stubs))
    deployed, described = calls(stubs, "aws")
    assert deployed == (
        "cloudformation deploy --region ap-northeast-2 --template-file ci-access.yml --stack-name "
        "scripts-check-ci-access-prod --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset "
        "--parameter-overrides Stage=prod GitHubRepository=acme/shop"
    )
    assert described.startswith("cloudformation describe-stacks --region ap-northeast-2 --stack-name scripts-check-")
    provider = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    run(
        ["make", "-C", "infra", "ci-access", "REPOSITORY=acme/shop", f"OIDC_PROVIDER_ARN={provider}"],
        rendered_project,
        stub_env(stubs),
    )
    assert calls(stubs, "aws")[2].endswith(f"GitHubRepository=acme/shop GitHubOidcProviderArn={provider}")
    # With every setting the stack's header lists, each name make passes must be one the stack declares
    # (CloudFormation refuses any other).
    secret = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:scripts-check/prod/db-AbCdEf"
    key = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    settings = [f"DB_SECRET_ARN={secret}", f"DB_MIGRATION_SECRET_ARN={secret}", f"DB_SECRET_KMS_KEY_ARN={key}"]
    run(
        ["make", "-C", "infra", "ci-access", "REPOSITORY=acme/shop", *settings, "VPC=true"],
        rendered_project,
        stub_env(stubs),
    )
    deploys = [call for call in calls(stubs, "aws") if call.startswith("cloudformation deploy ")]
    assert len(deploys) == 3
    for deploy in deploys:
        assert set(parameter_names(deploy)) <= ci_access_parameters(rendered_project), deploy


def test_make_ci_access_with_access_keys_needs_no_repository(alternative_project: Path, stubs: Path) -> None:
    run(["make", "-C", "infra", "ci-access"], alternative_project, stub_env(stubs))
    assert calls(stubs, "aws")[0].endswith("--parameter-overrides Stage=prod")
    assert set(parameter_names(calls(stubs, "aws")[0])) <= ci_access_parameters(alternative_project)


# Template updates as pull requests: cruft update against a local template repository, gh stood in for. The workflow's
# two jobs run each in its own fresh clone of origin's main and share only the artifact folder.
# The update's check (lock, install, make test) stands in as one pytest summary line here; a project baked at an older
# commit runs the real one in tests/test_updates_from_older_bakes.py.
UPDATE_ENV = {"CHALLENGE_BACKEND_SKIP_UV": "1", "CHECK": "echo '====== 12 passed in 0.50s ======'"}
# Hooks git could run while a commit is made and pushed; in the pushing job's clone each would log its name.
HOOKS = ("pre-commit", "commit-msg", "post-commit", "post-checkout", "pre-push", "reference-transaction")
PR_LIST = "pr list --head template-update --base main --state open --json number --jq .[0].number // empty"


@pytest.fixture
def updatable(template_repo: Path, tmp_path: Path) -> Iterator[Path]:
    """A project from `cruft create`, committed, whose `origin` is a local bare repository."""
    run(
        [tool("cruft"), "create", "--no-input", str(template_repo), "--output-dir", str(tmp_path / "projects")],
        tmp_path,
        project_env(**UPDATE_ENV),
    )
    project = tmp_path / "projects" / "challenge-backend"
    git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Generated from the template")
    run([*GIT, "init", "--quiet", "--bare", str(tmp_path / "origin.git")], tmp_path)
    git(project, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(project, "push", "--quiet", "origin", "main")
    yield project


def job_checkout(project: Path, folder: Path) -> Path:
    """A fresh clone of origin's main, as actions/checkout gives each job."""
    origin = git(project, "remote", "get-url", "origin").strip()
    run([*GIT, "clone", "--quiet", "--branch", "main", origin, str(folder)], project)
    return folder


def update(project: Path, stubs: Path, **overrides: str) -> str:
    """One workflow run: apply (no token) in one clone writes the artifact folder, propose reads it in another whose
    git hooks would log to $STUB_DIR/hooks; then origin is fetched into project."""
    env = stub_env(stubs, CRUFT=tool("cruft"), **(UPDATE_ENV | overrides))
    artifact = str(stubs / "artifact")
    workspace = stubs / f"run-{len(list(stubs.glob('run-*'))) + 1}"
    applying = job_checkout(project, workspace / "apply")
    pushing = job_checkout(project, workspace / "pull-request")
    for hook in HOOKS:
        path = pushing / ".git" / "hooks" / hook
        path.write_text(f'#!/bin/sh\necho {hook} >>"$STUB_DIR/hooks"\n')
        path.chmod(0o755)
    output = run(["bash", "scripts/template_update.sh", "apply", artifact], applying, env)
    output += run(["bash", "scripts/template_update.sh", "propose", artifact], pushing, env)
    git(project, "fetch", "--quiet", "--prune", "origin")
    return output


def pull_request_calls(template_repo: Path, stubs: Path, open_pr: str = "") -> list[str]:
    """One run's gh calls, whole: git credentials for the push, the open pull request looked up, then created or (with
    open_pr) edited, titled with the recorded and the new template commit."""
    recorded = git(template_repo, "rev-list", "--max-parents=0", "HEAD").strip()
    head = git(template_repo, "rev-parse", "HEAD").strip()
    title = f"Update from the template ({recorded[:7]} -> {head[:7]})"
    change = f"pr edit {open_pr}" if open_pr else "pr create --head template-update --base main"
    return ["auth setup-git", PR_LIST, f"{change} --title {title} --body-file {stubs / 'artifact' / 'pull-request.md'}"]


def origin_branches(project: Path) -> list[str]:
    refs = git(project, "ls-remote", "--heads", "origin")
    return sorted(line.split("refs/heads/", 1)[1] for line in refs.splitlines())


@pytest.mark.slow
@pytest.mark.xdist_group("updates")
def test_a_template_change_becomes_one_pull_request(updatable: Path, template_repo: Path, stubs: Path) -> None:
    """Text and binary files arrive intact on one commit on top of main, by the bot, with no git hook run."""
    logo = bytes(range(256)) * 4
    (template_repo / "{{cookiecutter.project_slug}}" / "logo.bin").write_bytes(logo)
    git(template_repo, "add", "--all")
    template_change(template_repo, "CLAUDE.ko.md", None, "- Rule added by template change B.\n", "B")
    output = update(updatable, stubs)
    assert origin_branches(updatable) == ["main", "template-update"]
    claude = git(updatable, "show", "origin/template-update:CLAUDE.md")
    assert "- Rule added by template change B." in claude
    pushed_logo = subprocess.run(
        [*GIT, "show", "origin/template-update:logo.bin"], cwd=updatable, capture_output=True, check=True
    ).stdout
    assert pushed_logo == logo
    head = git(template_repo, "rev-parse", "HEAD").strip()
    assert f'"commit": "{head}"' in git(updatable, "show", "origin/template-update:.cruft.json")
    parent, author = git(updatable, "log", "-1", "--format=%P%n%an", "origin/template-update").splitlines()
    assert parent == git(updatable, "rev-parse", "origin/main").strip() and author == "github-actions[bot]"
    assert calls(stubs, "gh") == pull_request_calls(template_repo, stubs)
    body = (stubs / "bodies").read_text()
    assert "No conflicts." in body and head in body
    assert "**Tests** of the updated project: passed (12 passed in 0.50s)" in body
    assert "New answers" not in body and "no longer asked" not in body and "Migrations from the template" not in body
    assert "Opened a pull request" in output
    assert not (stubs / "hooks").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("updates")
def test_the_pull_request_lists_the_answers_the_update_added_with_the_values_applied(
    updatable: Path, template_repo: Path, stubs: Path
) -> None:
    """A project made before an answer existed gets its default from cruft; the description names the answer, that
    value, how to choose another, and where the template's upgrade notes are."""
    config = template_repo / "cookiecutter.json"
    answers = json.loads(config.read_text())
    config.write_text(json.dumps({**answers, "tracing": ["off", "xray"]}, indent=2))
    git(template_repo, "commit", "--quiet", "--all", "-m", "B asks a new question")
    update(updatable, stubs)
    body = (stubs / "bodies").read_text()
    assert "**New answers.**" in body and '- `tracing`: `"off"`' in body
    assert "--variables-to-update" in body
    head = git(template_repo, "rev-parse", "HEAD").strip()
    assert f"`CHANGELOG.md` in {template_repo} at `{head}`" in body
    assert '"tracing": "off"' in git(updatable, "show", "origin/template-update:.cruft.json")


@pytest.mark.slow
@pytest.mark.xdist_group("updates")
def test_an_update_of_the_update_script_is_pushed_but_not_run_with_the_token(
    updatable: Path, template_repo: Path, stubs: Path
) -> None:
    """The update rewrites scripts/template_update.sh so that its propose leaves a mark: the pushing job runs the base
    branch's script, and its work tree never holds a file of the update."""
    template_change(
        template_repo,
        "scripts/template_update.sh",
        "  gh auth setup-git\n",
        '  touch "$STUB_DIR/patched-script-ran"\n  gh auth setup-git\n',
        "B changes the update script",
    )
    update(updatable, stubs)
    pushed = git(updatable, "show", "origin/template-update:scripts/template_update.sh")
    assert 'touch "$STUB_DIR/patched-script-ran"' in pushed
    assert not (stubs / "patched-script-ran").exists()
    assert git(stubs / "run-1" / "pull-request", "status", "--porcelain") == ""
    assert calls(stubs, "gh") == pull_request_calls(template_repo, stubs)


@pytest.mark.slow
@pytest.mark.xdist_group("updates")
def test_a_current_project_gets_no_branch_and_no_pull_request(updatable: Path, stubs: Path) -> None:
    output = update(updatable, stubs)
    assert "no branch, no pull request" in output
    assert (stubs / "artifact" / "update.patch").read_bytes() == b""
    assert origin_branches(updatable) == ["main"]
    assert calls(stubs, "gh") == []


@pytest.mark.slow
@pytest.mark.xdist_group("updates")
def test_conflicts_are_committed_visible_and_a_rerun_refreshes_the_open_pull_request(
    updatable: Path, template_repo: Path, stubs: Path
) -> None:
    claude = updatable / "CLAUDE.md"
    first_rule = next(line for line in claude.read_text().splitlines() if line.startswith("1. "))
    claude.write_text(claude.read_text().replace(first_rule, "1. Local team rule."))
    git(updatable, "commit", "--quiet", "--all", "-m", "Local rule")
    git(updatable, "push", "--quiet", "origin", "main")
    template_change(template_repo, "CLAUDE.ko.md", first_rule, "1. Template rule from change B.", "B conflicts")

    update(updatable, stubs)
    on_branch = git(updatable, "show", "origin/template-update:CLAUDE.md")
    assert "<<<<<<<" in on_branch and "1. Local team rule." in on_branch and "Template rule from change B" in on_branch
    assert "**Conflicts to resolve.**" in (stubs / "bodies").read_text()
    assert "- `CLAUDE.md`" in (stubs / "bodies").read_text()
    assert "**Tests** of the updated project: not run: resolve the conflicts first" in (stubs / "bodies").read_text()
    pushed = git(updatable, "rev-parse", "origin/template-update").strip()

    # The next scheduled run, with the pull request still open and nothing new: refreshed, not pushed again.
    output = update(updatable, stubs, STUB_OPEN_PR="7")
    assert "already holds this update; not pushed again" in output
    assert git(updatable, "rev-parse", "origin/template-update").strip() == pushed
    assert calls(stubs, "gh") == [
        *pull_request_calls(template_repo, stubs),
        *pull_request_calls(template_repo, stubs, open_pr="7"),
    ]


@pytest.mark.slow
@pytest.mark.xdist_group("updates")
def test_failing_tests_of_the_update_are_said_in_the_pull_request(
    updatable: Path, template_repo: Path, stubs: Path
) -> None:
    """The pull request is still opened (the team sees the update and why it fails), and the check's output is in the
    apply job's log."""
    template_change(template_repo, "CLAUDE.ko.md", None, "- Rule added by template change B.\n", "B")
    output = update(updatable, stubs, CHECK="echo '=== 1 failed, 11 passed in 0.70s ==='; false")
    assert "**Tests** of the updated project: failed (1 failed, 11 passed in 0.70s)" in (stubs / "bodies").read_text()
    assert "The check failed; its output:" in output and origin_branches(updatable) == ["main", "template-update"]
