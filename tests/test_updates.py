"""Regeneration and updates: cruft create from a local clone, lossless `cruft update`, a reported conflict,
byte-identical bakes for the same answers and template version, and `cookiecutter --replay`."""

from __future__ import annotations

import filecmp
import json
import re
import shlex
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path

import pytest

from tests.conftest import TEMPLATE_ROOT, advance_to_working_tree, git, project_env, run, template_repo_at, tool
from tests.template_changes import template_change

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("updates")]

# What cruft update applies between two commits; state the post-gen hook produces is in [tool.cruft] skip.
QUIET_UPDATE = {"CHALLENGE_BACKEND_SKIP_UV": "1"}


def cruft_create(template_repo: Path, tmp_path: Path, **env: str) -> tuple[Path, str]:
    """`cruft create` from the local template repository, committed to its own repository; and what it printed."""
    output = tmp_path / "projects"
    printed = run(
        [tool("cruft"), "create", "--no-input", str(template_repo), "--output-dir", str(output)],
        tmp_path,
        project_env(**env),
    )
    project = output / "challenge-backend"
    git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Generated from the template")
    return project, printed


@pytest.fixture
def project(template_repo: Path, tmp_path: Path) -> Path:
    """`cruft create` from the local template repository (uv steps included), committed to its own repository."""
    project, _ = cruft_create(template_repo, tmp_path)
    assert (project / "uv.lock").is_file() and (project / ".venv").is_dir()
    return project


def cruft_update(project: Path) -> str:
    return run([tool("cruft"), "update", "--skip-apply-ask"], project, project_env(**QUIET_UPDATE))


def test_cruft_create_records_the_template_and_skips_project_state(project: Path, template_repo: Path) -> None:
    state = json.loads((project / ".cruft.json").read_text())
    assert state["template"] == str(template_repo)
    assert state["commit"] == git(template_repo, "rev-parse", "HEAD").strip()
    skip = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["cruft"]["skip"]
    assert {"uv.lock", "requirements.txt", ".venv", "migrations/versions"} <= set(skip)
    run([tool("cruft"), "check"], project)


def test_update_brings_template_changes_and_keeps_local_work(
    project: Path, template_repo: Path, summary: list[str]
) -> None:
    (project / "README.md").write_text((project / "README.md").read_text() + "\nTeam notes: keep this.\n")
    (project / "app" / "team_notes.py").write_text('"""Notes the team added."""\n')
    lock_before = (project / "uv.lock").read_bytes()
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Local work")
    # The default bake is Korean: the post-gen hook renames the template's CLAUDE.ko.md to CLAUDE.md.
    template_change(template_repo, "CLAUDE.ko.md", None, "- Rule added by template change B.\n", "B")
    template_change(template_repo, ".gitignore", None, "*.tmp\n", "B2")

    output = cruft_update(project)

    assert "- Rule added by template change B." in (project / "CLAUDE.md").read_text()
    assert (project / ".gitignore").read_text().endswith("*.tmp\n")
    assert (project / "README.md").read_text().endswith("Team notes: keep this.\n")
    assert (project / "app" / "team_notes.py").is_file()
    assert (project / "uv.lock").read_bytes() == lock_before
    assert list(project.rglob("*.rej")) == []
    assert "conflict" not in output.lower()
    run([tool("cruft"), "check"], project)
    summary.append("cruft update (template B vs local edits): B applied, local edits and new file kept, no .rej")


def test_conflicting_update_is_reported_and_keeps_both_sides(
    project: Path, template_repo: Path, summary: list[str]
) -> None:
    claude = project / "CLAUDE.md"
    first_rule = next(line for line in claude.read_text().splitlines() if line.startswith("1. "))
    claude.write_text(claude.read_text().replace(first_rule, "1. Local team rule."))
    git(project, "commit", "--quiet", "--all", "-m", "Local rule")
    template_change(template_repo, "CLAUDE.ko.md", first_rule, "1. Template rule from change B.", "B conflicts")

    output = cruft_update(project)

    assert "with conflicts" in output
    text = claude.read_text()
    assert "<<<<<<<" in text and "1. Local team rule." in text and "1. Template rule from change B." in text
    status = git(project, "status", "--porcelain")
    assert "UU CLAUDE.md" in status
    summary.append("cruft update (conflicting B): reported 'with conflicts', both sides kept in conflict markers")


def documented_update_command(readme: str) -> str:
    """The one line of the README's bash blocks that runs `cruft update`, without its comment."""
    blocks: list[str] = re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)
    lines = [
        line.split(" #", 1)[0].strip()
        for block in blocks
        for line in block.splitlines()
        if re.search(r"\bcruft update\b", line)
    ]
    assert len(lines) == 1, f"expected one `cruft update` line in the README's bash blocks, found {lines}"
    return lines[0]


def test_the_readmes_update_command_shows_the_template_change_and_applies_nothing_when_declined(
    template_repo: Path, tmp_path: Path, summary: list[str]
) -> None:
    """The generated README's command, answered `v` then `n`: it prints the template's incoming change and none of
    the team's edits (`cruft diff` shows those instead), and leaves the work tree as it was. The template's README
    gives the same command."""
    project, _ = cruft_create(template_repo, tmp_path, **QUIET_UPDATE)
    (project / "README.md").write_text((project / "README.md").read_text() + "\nTeam notes: keep this.\n")
    git(project, "commit", "--quiet", "--all", "-m", "Local work")
    template_change(template_repo, "CLAUDE.ko.md", None, "- Rule added by template change B.\n", "B")
    command = documented_update_command((project / "README.md").read_text())
    assert command in documented_update_command((TEMPLATE_ROOT / "README.md").read_text())
    argv = shlex.split(command)
    assignments = {}
    while "=" in argv[0] and argv[0].split("=", 1)[0].isidentifier():
        name, value = argv.pop(0).split("=", 1)
        assignments[name] = value

    shown = subprocess.run(
        argv, cwd=project, env=project_env(**assignments), input="v\nn\n", capture_output=True, text=True, timeout=600
    )

    output = shown.stdout + shown.stderr
    assert shown.returncode == 0, output
    assert "+- Rule added by template change B." in output
    assert "Team notes" not in output
    assert "User cancelled" in output and git(project, "status", "--porcelain") == ""
    summary.append(f"README's `{command}` answered v, n: the template's change shown, the team's not, nothing applied")


# cruft's renders for update and diff: a tempfile.TemporaryDirectory() each, in the system's temporary directory.
CRUFT_RENDER_FOLDER = re.compile(re.escape(str(Path(tempfile.gettempdir()).resolve())) + r"/tmp\w+")
NEXT_STEPS_TITLES = ("다음 단계:", "Next steps:")


def test_cruft_update_and_diff_print_no_next_steps_into_their_temporary_renders(
    template_repo: Path, tmp_path: Path
) -> None:
    """cruft runs the hooks in renders it compares and deletes: nothing there may send the user into them, and the
    uv steps do not run there; a bake the user keeps (cruft create, cookiecutter) still ends with the next steps."""
    project, created = cruft_create(template_repo, tmp_path, **QUIET_UPDATE)
    baked = run(
        [tool("cookiecutter"), "--no-input", str(template_repo), "--output-dir", str(tmp_path / "baked")],
        tmp_path,
        project_env(**QUIET_UPDATE),
    )
    assert "다음 단계:" in created and "다음 단계:" in baked  # the default bake is Korean
    template_change(template_repo, "CLAUDE.ko.md", None, "- Rule added by template change B.\n", "B")

    # Without CHALLENGE_BACKEND_SKIP_UV: the hook itself must know the render.
    diff = run([tool("cruft"), "diff"], project, project_env())
    update = cruft_update(project)

    for output in (diff, update):
        assert not any(title in output for title in NEXT_STEPS_TITLES), output
        assert not CRUFT_RENDER_FOLDER.search(output), output
        assert "[uv]" not in output, output
    assert "- Rule added by template change B." in (project / "CLAUDE.md").read_text()


def tree_differences(left: Path, right: Path) -> list[str]:
    """Relative paths whose presence or bytes differ between two trees (virtual environments left out)."""
    comparison = filecmp.dircmp(left, right, ignore=[".venv", "__pycache__"])
    differences: list[str] = []

    def walk(node: filecmp.dircmp[str], prefix: str) -> None:
        differences.extend(prefix + name for name in node.left_only + node.right_only + node.funny_files)
        _, mismatch, errors = filecmp.cmpfiles(node.left, node.right, node.common_files, shallow=False)
        differences.extend(prefix + name for name in mismatch + errors)
        for name, child in node.subdirs.items():
            walk(child, f"{prefix}{name}/")

    walk(comparison, "")
    return differences


def test_same_answers_and_template_give_byte_identical_projects(tmp_path: Path) -> None:
    """uv resolves up to the template's cut-off date, so the lock file is the same on any day."""
    projects = []
    for name in ("first", "second"):
        output = tmp_path / name
        run(
            [tool("cookiecutter"), "--no-input", str(TEMPLATE_ROOT), "--output-dir", str(output)],
            tmp_path,
            project_env(),
        )
        projects.append(output / "challenge-backend")
    assert tree_differences(*projects) == []
    cutoff = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())["_dependency_cutoff"]
    assert f'exclude-newer = "{cutoff}"' in (projects[0] / "uv.lock").read_text()


def test_replay_reproduces_a_bake(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"replay_dir: {tmp_path / 'replay'}\ncookiecutters_dir: {tmp_path / 'cookiecutters'}\n")
    env = project_env(**QUIET_UPDATE)
    base = [tool("cookiecutter"), "--config-file", str(config), str(TEMPLATE_ROOT)]
    run(
        [*base, "--no-input", "--output-dir", str(tmp_path / "first"), "language=en", "project_name=Replay Me"],
        tmp_path,
        env,
    )
    run([*base, "--replay", "--output-dir", str(tmp_path / "second")], tmp_path, env)
    assert tree_differences(tmp_path / "first" / "replay-me", tmp_path / "second" / "replay-me") == []


def commit_before_the_tuning_answers_left() -> str:
    """The template commit just before the pool and timeout answers left cookiecutter.json: the parent of the commit
    that removed them, or HEAD while that change is not committed yet."""
    commits = git(TEMPLATE_ROOT, "log", "--format=%H", "--", "cookiecutter.json").split()
    newer = "HEAD"
    for commit in commits:
        if '"db_pool_size"' in git(TEMPLATE_ROOT, "show", f"{commit}:cookiecutter.json"):
            return git(TEMPLATE_ROOT, "rev-parse", f"{newer}^" if newer != "HEAD" else "HEAD").strip()
        newer = commit
    pytest.fail("no commit of cookiecutter.json asks db_pool_size: the history is missing (shallow clone?)")


def test_an_update_across_the_removed_answers_keeps_local_work_and_says_what_changed(
    tmp_path: Path, summary: list[str]
) -> None:
    """A project baked when the pool and timeouts were answers (one changed), with local edits, updated to this
    template by the workflow's script: no error about the removed answers, conflicts only in files the team edited,
    and the pull request's description lists the answers no longer asked and points at the upgrade notes. The
    workflow runs the script of the project's default branch, which is the new one from the second update on (the
    first runs the old one, which brings it): so the old template here already has the new script."""
    template = template_repo_at(commit_before_the_tuning_answers_left(), tmp_path / "template")
    script = Path("{{cookiecutter.project_slug}}") / "scripts" / "template_update.sh"
    shutil.copy2(TEMPLATE_ROOT / script, template / script)
    git(template, "commit", "--quiet", "--all", "-m", "the update script of this working tree")
    output = tmp_path / "projects"
    extra = json.dumps({"db_pool_size": "5", "language": "en"})
    command = [tool("cruft"), "create", "--no-input", str(template), "--output-dir", str(output), "--extra-context"]
    run([*command, extra], tmp_path, project_env(**QUIET_UPDATE))
    project = output / "challenge-backend"
    assert "DB_POOL_SIZE=5" in (project / ".env.example").read_text()
    (project / "README.md").write_text((project / "README.md").read_text() + "\nTeam notes: keep this.\n")
    (project / "app" / "team_notes.py").write_text('"""Notes the team added."""\n')
    git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Generated, then local work")
    team_edited = {"README.md"}

    advance_to_working_tree(template)

    artifact = tmp_path / "artifact"
    env = project_env(CRUFT=tool("cruft"), **QUIET_UPDATE)
    log = run(["bash", "scripts/template_update.sh", "apply", str(artifact)], project, env)

    assert "Traceback" not in log and "db_pool_size" not in log
    conflicted = set(git(project, "diff", "--name-only", "--diff-filter=U").split())
    assert conflicted <= team_edited, conflicted
    assert list(project.rglob("*.rej")) == []
    assert (project / "app" / "team_notes.py").is_file()
    assert "Team notes: keep this." in (project / "README.md").read_text()
    state = json.loads((project / ".cruft.json").read_text())
    assert state["commit"] == git(template, "rev-parse", "HEAD").strip()
    assert not {"db_pool_size", "db_connect_timeout"} & set(state["context"]["cookiecutter"])
    assert "make run" in (project / "Makefile").read_text()
    body = (artifact / "pull-request.md").read_text()
    assert '- `db_pool_size` (was `"5"`)' in body and '- `db_connect_timeout` (was `"5"`)' in body
    assert "**Upgrading**" in body and "CHANGELOG.md" in body
    conflicts = f"conflicts in {sorted(conflicted)} (edited by the team)" if conflicted else "no conflicts"
    summary.append(f"cruft update across the removed answers: no error, {conflicts}, local work kept")
