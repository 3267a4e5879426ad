"""scripts/release.sh, run against stand-in commands (tests/stand_ins.py): deploy, migration by the migrate
function, readiness check, rollback of a failing release, a unique release tag, with stand-in npx (sls), aws, curl and
gh behind the project's real `make -C infra` targets; each test asserts every call the stand-ins received, in order.
Both generated scripts pass shellcheck and are copied unrendered. The workflows that call them are checked in
tests/test_workflows.py and tests/test_artifacts.py."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from pathlib import Path
from unittest.mock import ANY

import pytest

from tests.conftest import run, tool
from tests.stand_ins import calls, stand_in_calls, stub_env
from tests.template_files import PROJECT_TEMPLATE

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

MISSING_STACK = "An error occurred (ValidationError): Stack with id x does not exist"

# `make -C infra migrate-prod`: the deployed migrate function, invoked through the Serverless CLI.
MIGRATE = "sls invoke --function migrate --stage prod"

READY = "--fail --silent --show-error --max-time 10 https://api.example.test/health/ready"

# The migrate function asked for the database's revision only, before a rollback.
READ_REVISION = 'sls invoke --function migrate --stage prod --data {"read_only": true}'

RECORD_KEY = "serverless/scripts-check/prod/.last-release"
# The calls of scripts/release.sh to the stand-ins (tests/stand_ins.py), as they log them.
STACK_STATUS = (
    "aws cloudformation describe-stacks --stack-name scripts-check-prod --query Stacks[0].StackStatus --output text"
)
API_URL = (
    "aws cloudformation describe-stacks --stack-name scripts-check-prod "
    "--query Stacks[0].Outputs[?OutputKey=='HttpApiUrl'].OutputValue --output text"
)
LIVE_DEPLOYMENT = (
    "aws cloudformation get-template --stack-name scripts-check-prod "
    "--query TemplateBody.Resources.ApiLambdaFunction.Properties.Code.S3Key --output text"
)
READ_RECORD = f"aws s3api get-object --bucket artifacts --key {RECORD_KEY} TMPFILE"
WRITE_RECORD = f"aws s3api put-object --bucket artifacts --key {RECORD_KEY} --body TMPFILE"
DEPLOYMENTS = "npx sls deploy list --stage prod"
DEPLOY = "npx sls deploy --stage prod"
CHECK = f"curl {READY}"
LOOKUP_TAG = "api repos/acme/shop/git/matching-refs/tags/"
# A deploy with a stack to restore: the deployments listed, the new one deployed and its URL read.
DEPLOYED = [DEPLOYMENTS, DEPLOY, API_URL]
DEPLOY_AND_MIGRATE = [*DEPLOYED, f"npx {MIGRATE}"]
# A release on record: its deployment is what a rollback restores, so the stack's live one is not read first.
RECORDED_DEPLOY = [STACK_STATUS, READ_RECORD, *DEPLOYED]
# No release on record: the deployment the stack runs is read as the one a rollback would restore.
UNRECORDED_DEPLOY = [STACK_STATUS, READ_RECORD, LIVE_DEPLOYMENT, *DEPLOY_AND_MIGRATE]
# The readiness check failing on each of its attempts (READINESS_ATTEMPTS).
FAILED_CHECK = [CHECK, CHECK]
# A deploy without a release on record that passes its check: the deployment it made is recorded as the release.
RELEASED = [*UNRECORDED_DEPLOY, CHECK, LIVE_DEPLOYMENT, WRITE_RECORD]
# `scripts/release.sh rollback prod` finding the stack, the release on record and the deployment it runs.
ROLLBACK_COMMAND = [STACK_STATUS, READ_RECORD, LIVE_DEPLOYMENT]


def rollback_to(deployment: str) -> str:
    return f"npx sls rollback --stage prod --timestamp {deployment}"


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
    assert calls(stubs, "curl").count(READY) == 3
    assert calls(stubs, "gh") == []
    assert "::error::Readiness check failed for the new release" in result.stderr
    restored = "Rolled back the code of scripts-check-prod to deployment 1700000002000 (2023-11-14 22:13:22 UTC)"
    assert restored in result.stderr
    assert "the restored deployment passes the readiness check" in result.stderr
    assert restored in summary.read_text()
    assert stand_in_calls(stubs) == [
        *UNRECORDED_DEPLOY,
        *FAILED_CHECK,
        LIVE_DEPLOYMENT,
        rollback_to("1700000002000"),
        API_URL,
        CHECK,
    ]


def test_a_rollback_that_does_not_help_says_the_cause_is_elsewhere(project: Path, stubs: Path) -> None:
    result = deploy_then_release(project, release_env(stubs, STUB_DEPLOYMENTS="1700000001000"))
    assert result.returncode == 1
    assert calls(stubs, "npx")[-1] == "sls rollback --stage prod --timestamp 1700000001000"
    assert "fails the readiness check too, so the cause is probably outside the code" in result.stderr
    assert calls(stubs, "gh") == []
    assert stand_in_calls(stubs) == [
        *UNRECORDED_DEPLOY,
        *FAILED_CHECK,
        LIVE_DEPLOYMENT,
        rollback_to("1700000001000"),
        API_URL,
        *FAILED_CHECK,
    ]


def test_a_failed_rollback_says_the_new_release_is_still_live(project: Path, stubs: Path) -> None:
    env = release_env(stubs, STUB_DEPLOYMENTS="1700000001000", STUB_ROLLBACK_EXIT="1")
    result = deploy_then_release(project, env)
    assert result.returncode == 1
    assert "the rollback to deployment 1700000001000 failed too: the new release is still live" in result.stderr
    assert calls(stubs, "gh") == []
    assert stand_in_calls(stubs) == [
        *UNRECORDED_DEPLOY,
        *FAILED_CHECK,
        LIVE_DEPLOYMENT,
        rollback_to("1700000001000"),
    ]


def test_a_first_deploy_that_fails_the_check_has_nothing_to_restore(project: Path, stubs: Path) -> None:
    result = deploy_then_release(project, release_env(stubs, STUB_STACK_ERROR=MISSING_STACK))
    assert result.returncode == 1
    assert calls(stubs, "npx") == ["sls deploy --stage prod", MIGRATE]
    assert "There is no earlier deployment to restore" in result.stderr
    assert calls(stubs, "gh") == []
    assert stand_in_calls(stubs) == [STACK_STATUS, DEPLOY, API_URL, f"npx {MIGRATE}", CHECK, CHECK]


def test_a_stack_that_cannot_be_read_stops_before_deploying(project: Path, stubs: Path) -> None:
    result = deploy_then_release(project, release_env(stubs, STUB_STACK_ERROR="AccessDenied"))
    assert result.returncode == 1
    assert calls(stubs, "npx") == []
    assert "nothing was deployed" in result.stderr
    assert stand_in_calls(stubs) == [STACK_STATUS]


def test_ci_without_the_stack_secrets_stops_before_deploying(project: Path, stubs: Path) -> None:
    env = release_env(stubs, AWS_CLOUDFORMATION_ROLE_ARN="", SERVERLESS_DEPLOYMENT_BUCKET="")
    result = deploy_then_release(project, env)
    assert result.returncode == 1
    assert "Missing environment secrets: AWS_CLOUDFORMATION_ROLE_ARN SERVERLESS_DEPLOYMENT_BUCKET" in result.stderr
    assert calls(stubs, "npx") == [] and calls(stubs, "aws") == []
    assert stand_in_calls(stubs) == []


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
    assert stand_in_calls(stubs) == [*RELEASED, f"gh {LOOKUP_TAG}{tag} --jq .[].ref", f"gh {created[0]}"]


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
    assert stand_in_calls(stubs) == RELEASED


def test_a_failing_migration_rolls_the_code_back_and_releases_nothing(project: Path, stubs: Path) -> None:
    (stubs / "ready").write_text("yes\n")
    record_release(stubs, "1700000001000", "0002")
    env = release_env(stubs, STUB_DEPLOYMENTS="1700000001000", STUB_MIGRATION_FAILS="1")
    result = deploy_then_release(project, env)
    assert result.returncode == 1
    # No readiness check of the new release; one of the restored deployment.
    assert calls(stubs, "curl") == [READY]
    assert "Table already exists" in result.stdout
    assert "::error::The migration failed (make -C infra migrate-prod;" in result.stderr
    assert "Rolled back the code of scripts-check-prod to deployment 1700000001000" in result.stderr
    assert "the restored deployment passes the readiness check" in result.stderr
    assert calls(stubs, "gh") == []
    assert stand_in_calls(stubs) == [
        *RECORDED_DEPLOY,
        f"npx {MIGRATE}",
        LIVE_DEPLOYMENT,
        # The database is still at the release's revision (the failed migration recorded none), so the code may go back.
        f"npx {READ_REVISION}",
        rollback_to("1700000001000"),
        API_URL,
        CHECK,
    ]


def test_a_failing_first_migration_has_no_code_to_restore(project: Path, stubs: Path) -> None:
    env = release_env(stubs, STUB_STACK_ERROR=MISSING_STACK, STUB_MIGRATION_FAILS="1")
    result = deploy_then_release(project, env)
    assert result.returncode == 1
    assert calls(stubs, "npx") == ["sls deploy --stage prod", MIGRATE]
    assert calls(stubs, "curl") == []
    assert "::error::The migration failed" in result.stderr
    assert "There is no earlier deployment to restore" in result.stderr
    assert calls(stubs, "gh") == []
    assert stand_in_calls(stubs) == [STACK_STATUS, DEPLOY, API_URL, f"npx {MIGRATE}"]


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
    assert stand_in_calls(stubs) == RELEASED

    failing = release_env(stubs, STUB_DEPLOYMENTS="1", STUB_ROLLBACK_RESTORES="1")
    for deployed in ("1700000101000", "1700000102000"):
        (stubs / "ready").write_text("no\n")
        (stubs / "log").write_text("")
        result = deploy_then_release(project, failing)
        assert result.returncode == 1
        assert calls(stubs, "npx")[-1] == "sls rollback --stage prod --timestamp 1700000100000", deployed
        assert "Readiness check failed" in result.stderr
        assert recorded(stubs)["deployment"] == "1700000100000"
        checks_then_rollback = [CHECK, CHECK, LIVE_DEPLOYMENT, rollback_to("1700000100000"), API_URL, CHECK]
        assert stand_in_calls(stubs) == [STACK_STATUS, READ_RECORD, *DEPLOY_AND_MIGRATE, *checks_then_rollback]
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
    assert stand_in_calls(stubs) == [
        *RECORDED_DEPLOY,
        LIVE_DEPLOYMENT,
        f"npx {READ_REVISION}",
        rollback_to("1700000001000"),
        API_URL,
    ]


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
    assert stand_in_calls(stubs) == [
        *RECORDED_DEPLOY,
        f"npx {MIGRATE}",
        CHECK,
        *ROLLBACK_COMMAND,
        f"npx {READ_REVISION}",
        rollback_to("1700000001000"),
        API_URL,
        CHECK,
        *ROLLBACK_COMMAND,
    ]


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
    assert stand_in_calls(stubs) == [
        *RECORDED_DEPLOY,
        f"npx {MIGRATE}",
        *FAILED_CHECK,
        LIVE_DEPLOYMENT,
        *ROLLBACK_COMMAND,
        f"npx {READ_REVISION}",
        *ROLLBACK_COMMAND,
        f"npx {READ_REVISION}",
        rollback_to("1700000001000"),
        API_URL,
        CHECK,
    ]


def test_a_commit_released_again_the_same_day_gets_the_next_free_tag(project: Path, stubs: Path) -> None:
    tags = " ".join(f"refs/tags/{tag} refs/tags/{tag}.2" for tag in sorted(today_tags()))
    result = script(project, "scripts/release.sh", "publish", env=release_env(stubs, STUB_TAGS=tags))
    assert result.returncode == 0, result.stderr
    (created,) = [call for call in calls(stubs, "gh") if call.startswith("release create")]
    assert created.split()[2] in {f"{tag}.3" for tag in today_tags()}
    assert stand_in_calls(stubs) == [f"gh {LOOKUP_TAG}{created.split()[2][:-2]} --jq .[].ref", f"gh {created}"]


@pytest.mark.parametrize("args", [[], ["deploy"], ["publish", "extra"], ["unknown"]])
def test_release_script_usage_errors_exit_2(project: Path, stubs: Path, args: list[str]) -> None:
    result = script(project, "scripts/release.sh", *args, env=release_env(stubs))
    assert result.returncode == 2 and "scripts/release.sh deploy STAGE" in result.stderr
    assert stand_in_calls(stubs) == []


def test_the_scripts_pass_shellcheck() -> None:
    run([tool("shellcheck"), *SCRIPTS], PROJECT_TEMPLATE)


def test_the_scripts_are_copied_unrendered_and_executable(rendered_project: Path) -> None:
    for relative in SCRIPTS:
        baked = rendered_project / relative
        assert baked.read_bytes() == (PROJECT_TEMPLATE / relative).read_bytes()
        assert os.access(baked, os.X_OK)
