"""The README stays in step with cookiecutter.json and with what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import COOKIECUTTER_JSON, TEMPLATE_ROOT, default_context, load_hook, project_env, run, tool

README = (TEMPLATE_ROOT / "README.md").read_text(encoding="utf-8")


def readme_variables() -> list[str]:
    """Variable names in the README's table, in order."""
    section = README.split("## Variables", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


def test_variable_table_lists_every_variable_in_order() -> None:
    variables = [key for key in COOKIECUTTER_JSON if not key.startswith("_")]
    assert readme_variables() == variables


def test_every_variable_has_a_prompt() -> None:
    variables = [key for key in COOKIECUTTER_JSON if not key.startswith("_")]
    assert sorted(COOKIECUTTER_JSON["__prompts__"]) == sorted(variables)


def bash_blocks(section: str = "") -> list[list[str]]:
    """The lines of each bash block, within the section whose heading starts with `section` (all when empty)."""
    text = README.split(f"\n## {section}", 1)[1].split("\n## ", 1)[0] if section else README
    return [block.strip().splitlines() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)]


def test_finishing_commands_are_the_ones_the_hook_prints(tmp_path: Path) -> None:
    """The "When uv cannot run" block lists exactly what the post-gen hook tells the user to run, in order."""
    hook = load_hook("post_gen_project", default_context(), tmp_path)
    printed = [line.strip() for line in hook.later_commands().splitlines()]
    assert bash_blocks("When uv cannot run") == [printed]
    assert printed[-1] == "make requirements"


def test_readme_blocks_run_in_order_in_one_shell() -> None:
    """No block changes directory: pasted whole, a second `cd` into the same folder would fail."""
    lines = [line for block in bash_blocks() for line in block]
    assert lines and not [line for line in lines if re.match(r"(?:.*&& *)?cd ", line)]


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"^# 2\. .*\n(.+)$", README, flags=re.MULTILINE)
    assert commands == ["uv run pytest"]
    ci_script = (TEMPLATE_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(rf"^{re.escape(commands[0])}\b", ci_script, flags=re.MULTILINE)


@pytest.mark.slow
def test_readme_bake_command_produces_a_synced_project(tmp_path: Path) -> None:
    """The README's first command, pointed at this checkout, bakes the default project with a synced .venv."""
    commands = re.findall(r"^# 1\. .*\n(.+)$", README, flags=re.MULTILINE)
    assert commands == ["uvx cookiecutter path/to/cookiecutter-challenge-backend"]
    command = commands[0].replace("path/to/cookiecutter-challenge-backend", str(TEMPLATE_ROOT)).split()
    output = run([*command, "--no-input", "--output-dir", str(tmp_path)], tmp_path, project_env())
    project = tmp_path / "challenge-backend"
    assert (project / "main.py").is_file() and (project / "uv.lock").is_file()
    assert (project / ".venv" / "bin" / "python").exists()
    assert "[uv] install the virtual environment" in output


def test_template_workflow_matches_the_github_schema() -> None:
    workflow = TEMPLATE_ROOT / ".github" / "workflows" / "ci.yml"
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)], TEMPLATE_ROOT)
    text = workflow.read_text()
    assert '["3.12", "3.13"]' in text and "bash .ci/run" in text
