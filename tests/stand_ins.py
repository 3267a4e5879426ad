"""Stand-ins for the commands the generated scripts call (npx for sls, aws, curl, gh), put first on PATH: each logs
its arguments and answers from STUB_* variables and state files; any call it does not expect fails. Registered with
pytest_plugins in tests/conftest.py for the release, template-update and ci-access tests."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import pytest
from pytest_cookies.plugin import Cookies

from tests.conftest import EXISTING_DATABASE, project_env, render_only
from tests.packaging_tools import CA_BUNDLE

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
        # The calls of scripts/release.sh, `make -C infra ci-access`, `database-*` and `queue-endpoint` only; anything
        # else is a mistake.
        status="--query Stacks[0].StackStatus --output text"
        url="--query Stacks[0].Outputs[?OutputKey=='HttpApiUrl'].OutputValue --output text"
        code="--query TemplateBody.Resources.ApiLambdaFunction.Properties.Code.S3Key --output text"
        outputs="--query Stacks[0].Outputs[].[Description,OutputValue] --output table"
        case "$*" in
          "cloudformation describe-stacks --stack-name "*" $status")
            if [[ -n ${STUB_STACK_ERROR:-} ]]; then echo "$STUB_STACK_ERROR" >&2; exit 254; fi
            echo UPDATE_COMPLETE ;;
          "cloudformation describe-stacks --stack-name "*" $url")
            if [[ ${STUB_NO_URL:-0} == 1 ]]; then echo None; else echo https://api.example.test; fi ;;
          "cloudformation get-template --stack-name "*" $code")
            live=$(cat "$STUB_DIR/live" 2>/dev/null || printf '%s\n' ${STUB_DEPLOYMENTS:-} | sort -n | tail -n 1)
            echo "serverless/scripts-check/prod/$live-2023-11-14T22:13:21.000Z/scripts-check.zip" ;;
          "s3api get-object --bucket "*" --key "*)
            if [[ ! -f $STUB_DIR/record ]]; then
              echo 'An error occurred (NoSuchKey) when calling the GetObject operation' >&2
              exit 254
            fi
            cp "$STUB_DIR/record" "${!#}" ;;
          "s3api put-object --bucket "*" --key "*" --body "*) cp "${!#}" "$STUB_DIR/record" ;;
          "cloudformation deploy --region "*" --template-file ci-access.yml --stack-name "*) ;;
          "cloudformation deploy --region "*" --template-file database.yml --stack-name "*) ;;
          "cloudformation deploy --region "*" --template-file queue-endpoint.yml --stack-name "*) ;;
          "cloudformation describe-stacks --region "*" --stack-name "*" $outputs") ;;
          *) echo "aws stand-in: unexpected call: aws $*" >&2; exit 97 ;;
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
        # Exactly the calls of scripts/release.sh and scripts/template_update.sh; anything else is a mistake.
        case "$*" in
          "api repos/"*"/git/matching-refs/tags/"*" --jq .[].ref") printf '%s\n' ${STUB_TAGS:-} ;;
          "release create "*" --repo "*" --target "*" --title "*" --generate-notes") ;;
          "auth setup-git") ;;
          "pr list --head template-update --base main --state open --json number --jq .[0].number // empty")
            printf '%s\n' "${STUB_OPEN_PR:-}" ;;
          "pr create --head template-update --base main --title "*" --body-file "* | \
            "pr edit "*" --title "*" --body-file "*)
            while (($#)); do
              if [[ $1 == --body-file ]]; then cat "$2" >>"$STUB_DIR/bodies"; fi
              shift
            done ;;
          *) echo "gh stand-in: unexpected call: gh $*" >&2; exit 97 ;;
        esac
        """,
}


@pytest.fixture(scope="module")
def rendered_project(cookies_session: Cookies) -> Path:
    """A render-only bake (OIDC, Serverless v4 without an org, an existing database with a Secrets Manager secret),
    with the requirements.txt and the CA bundle (`make -C infra ca-bundle` in the workflow) that packaging checks for.
    """
    with render_only():
        result = cookies_session.bake(extra_context={"project_slug": "scripts-check", **EXISTING_DATABASE})
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    (project / "requirements.txt").write_text("fastapi\n")
    (project / "infra" / CA_BUNDLE).parent.mkdir(exist_ok=True)
    (project / "infra" / CA_BUNDLE).write_text("-----BEGIN CERTIFICATE-----\n")
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


def parameter_overrides(deploy_call: str) -> dict[str, str]:
    """The parameters an `aws cloudformation deploy` call passes in --parameter-overrides, by name."""
    words = deploy_call.split(" --parameter-overrides ", 1)[1].split()
    pairs = [word.split("=", 1) for word in itertools.takewhile(lambda word: not word.startswith("--"), words)]
    return {name: value for name, value in pairs}


def stand_in_calls(stubs: Path) -> list[str]:
    """Every call the stand-ins received, in order, each as "command arguments"; the temporary files a script names
    read as TMPFILE (mktemp names them at random)."""
    return [re.sub(r"\S*/tmp\.\w+", "TMPFILE", line) for line in (stubs / "log").read_text().splitlines()]
