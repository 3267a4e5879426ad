"""The scripts the generated workflows call, run here against stand-in commands: scripts/release.sh (deploy, migration
by the migrate function, readiness check, rollback of a failing release, a unique release tag) with stand-in npx
(sls), aws, curl and gh behind the project's real `make -C infra` targets;
scripts/template_update.sh against a local template repository and a stand-in gh; `make -C infra ci-access` with a
stand-in aws. The workflows themselves are checked in tests/test_workflows.py and tests/test_artifacts.py."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_cookies.plugin import Cookies

from tests.conftest import GIT, git, project_env, render_only, run, tool
from tests.test_docs_languages import PROJECT_TEMPLATE
from tests.test_updates import template_change

SCRIPTS = ("scripts/release.sh", "scripts/template_update.sh")
SHA = "abcdef1234567890abcdef1234567890abcdef12"
# What deploy.yml's deploy step receives besides credentials (values are placeholders; nothing reaches AWS).
DEPLOY_ENV = {
    "GITHUB_ACTIONS": "true",
    "AWS_CLOUDFORMATION_ROLE_ARN": "arn:aws:iam::123456789012:role/cfn",
    "AWS_PERMISSIONS_BOUNDARY_ARN": "arn:aws:iam::123456789012:policy/boundary",
    "SERVERLESS_DEPLOYMENT_BUCKET": "artifacts",
    "DB_HOST": "db.invalid",
    "DB_SECRET_ARN": "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:app-db-AbCdEf",
    "SERVERLESS_ORG": "example-org",
    "READINESS_ATTEMPTS": "2",
    "READINESS_DELAY": "0",
}
# Stand-ins: each logs its arguments; their answers come from STUB_* variables and the file $STUB_DIR/ready.
STUBS = {
    "npx": r"""
        printf 'npx %s\n' "$*" >>"$STUB_LOG"
        [[ $1 == sls ]] || exit 90
        case "$2 $3" in
          "deploy list")
            for stamp in ${STUB_DEPLOYMENTS:-}; do printf 'Timestamp: %s\nFiles:\n  - a.zip\n' "$stamp"; done ;;
          "rollback --stage")
            if [[ ${STUB_ROLLBACK_RESTORES:-0} == 1 ]]; then echo yes >"$STUB_DIR/ready"; fi
            exit "${STUB_ROLLBACK_EXIT:-0}" ;;
          "deploy --stage") ;;
          "invoke --function")
            # The migrate function's answer; a failed invocation prints its error and the CLI exits 1.
            if [[ ${STUB_MIGRATION_FAILS:-0} == 1 ]]; then
              echo '{"errorMessage": "(1050, \"Table already exists\")", "errorType": "OperationalError"}'
              exit 1
            fi
            echo '{"revision_before": "0001", "revision_after": "0002"}' ;;
          *) exit 91 ;;
        esac
        """,
    "aws": r"""
        printf 'aws %s\n' "$*" >>"$STUB_LOG"
        case "$*" in
          *StackStatus*)
            if [[ -n ${STUB_STACK_ERROR:-} ]]; then echo "$STUB_STACK_ERROR" >&2; exit 254; fi
            echo UPDATE_COMPLETE ;;
          *HttpApiUrl*) echo https://api.example.test ;;
          *) ;;
        esac
        """,
    "curl": r"""
        printf 'curl %s\n' "$*" >>"$STUB_LOG"
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
    env = release_env(stubs, STUB_DEPLOYMENTS="1700000001000", STUB_MIGRATION_FAILS="1")
    result = deploy_then_release(project, env)
    assert result.returncode == 1
    assert calls(stubs, "npx") == [
        "sls deploy list --stage prod",
        "sls deploy --stage prod",
        MIGRATE,
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


def test_make_ci_access_with_access_keys_needs_no_repository(alternative_project: Path, stubs: Path) -> None:
    run(["make", "-C", "infra", "ci-access"], alternative_project, stub_env(stubs))
    assert calls(stubs, "aws")[0].endswith("--parameter-overrides Stage=prod")


# Template updates as pull requests: cruft update against a local template repository, gh stood in for.
UPDATE_ENV = {"CHALLENGE_BACKEND_SKIP_UV": "1"}


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


def update(project: Path, stubs: Path, **overrides: str) -> str:
    """The workflow's two steps in turn: apply (no token), then propose."""
    env = stub_env(stubs, CRUFT=tool("cruft"), **UPDATE_ENV, **overrides)
    output = run(["bash", "scripts/template_update.sh", "apply"], project, env)
    return output + run(["bash", "scripts/template_update.sh", "propose"], project, env)


def origin_branches(project: Path) -> list[str]:
    refs = git(project, "ls-remote", "--heads", "origin")
    return sorted(line.split("refs/heads/", 1)[1] for line in refs.splitlines())


@pytest.mark.slow
@pytest.mark.xdist_group("updates")
def test_a_template_change_becomes_one_pull_request(updatable: Path, template_repo: Path, stubs: Path) -> None:
    template_change(template_repo, "CLAUDE.ko.md", None, "- Rule added by template change B.\n", "B")
    output = update(updatable, stubs)
    assert origin_branches(updatable) == ["main", "template-update"]
    claude = git(updatable, "show", "origin/template-update:CLAUDE.md")
    assert "- Rule added by template change B." in claude
    head = git(template_repo, "rev-parse", "HEAD").strip()
    assert f'"commit": "{head}"' in git(updatable, "show", "origin/template-update:.cruft.json")
    created = [call for call in calls(stubs, "gh") if call.startswith("pr create")]
    assert len(created) == 1 and created[0].startswith("pr create --head template-update --base main --title ")
    body = (stubs / "bodies").read_text()
    assert "No conflicts." in body and head in body
    assert "Opened a pull request" in output


@pytest.mark.slow
@pytest.mark.xdist_group("updates")
def test_a_current_project_gets_no_branch_and_no_pull_request(updatable: Path, stubs: Path) -> None:
    output = update(updatable, stubs)
    assert "no branch, no pull request" in output
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
    pushed = git(updatable, "rev-parse", "origin/template-update").strip()

    # The next scheduled run, with the pull request still open and nothing new: refreshed, not pushed again.
    git(updatable, "switch", "--quiet", "main")
    git(updatable, "branch", "--quiet", "-D", "template-update")
    output = update(updatable, stubs, STUB_OPEN_PR="7")
    assert "already holds this update; not pushed again" in output
    assert git(updatable, "rev-parse", "origin/template-update").strip() == pushed
    assert [call.split(" --")[0] for call in calls(stubs, "gh") if call.startswith("pr ")] == [
        "pr list",
        "pr create",
        "pr list",
        "pr edit 7",
    ]
