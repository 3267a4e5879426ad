"""Template updates as pull requests: scripts/template_update.sh (the generated template-update workflow's two jobs)
against a local template repository, with gh stood in for (tests/stand_ins.py); each test asserts gh's calls whole.
How a project is updated by cruft is in tests/test_updates.py and tests/test_updates_from_older_bakes.py."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GIT, git, project_env, run, tool
from tests.stand_ins import calls, stub_env
from tests.template_changes import template_change

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
