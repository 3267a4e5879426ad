"""The README stays in step with cookiecutter.json and with what CI runs."""

from __future__ import annotations

import re
import subprocess
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


# The prompts a new user answers: every public answer of cookiecutter.json, and no tuning knob among them.
PROMPTS = 27
TUNING_PROMPTS = ("pool size", "above the pool", "pooled connection", "opening a database connection")


@pytest.mark.slow
def test_an_interactive_bake_asks_few_questions_and_ends_with_the_next_steps(tmp_path: Path) -> None:
    """The README's first command in a terminal, as the issue tried it: a Korean project name, then Enter on every
    prompt (answers piped in). It asks PROMPTS questions, most consequential first, then prints the commands to run
    next in the bake's language; the uv steps ran, so nothing is left to finish by hand."""
    command = re.findall(r"^# 1\. .*\n(.+)$", README, flags=re.MULTILINE)[0]
    argv = command.replace("path/to/cookiecutter-challenge-backend", str(TEMPLATE_ROOT)).split()
    # A shell sets PWD to the folder it runs cookiecutter in; the hook prints `cd` relative to it.
    env = project_env(PWD=str(tmp_path))
    answers = "챌린지 백엔드\n" + "\n" * 40
    result = subprocess.run(argv, cwd=tmp_path, env=env, input=answers, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    asked = re.findall(r"\[(\d+)/(\d+)\] ([^\n(?]+)", result.stdout)
    assert [int(number) for number, _, _ in asked] == list(range(1, PROMPTS + 1)), asked
    assert {total for _, total, _ in asked} == {str(PROMPTS)}
    assert PROMPTS == len([name for name in COOKIECUTTER_JSON if not name.startswith("_")])
    assert [text.strip() for _, _, text in asked[:4]] == [
        "Project name",
        "Project slug",
        "One-line description",
        "Language of the generated docs and error messages",
    ]
    assert not [text for _, _, text in asked if any(knob in text for knob in TUNING_PROMPTS)]
    next_steps = result.stdout[result.stdout.index("다음 단계:") :].splitlines()
    assert [line.split("#")[0].strip() for line in next_steps[1:]] == [
        "cd caelrinji-baegendeu",
        "make run",
        "make test",
        "make -C infra deploy-dev",
    ]
    assert (tmp_path / "caelrinji-baegendeu" / ".venv").is_dir()


def test_template_workflow_matches_the_github_schema() -> None:
    workflow = TEMPLATE_ROOT / ".github" / "workflows" / "ci.yml"
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)], TEMPLATE_ROOT)
    text = workflow.read_text()
    assert '["3.12", "3.13"]' in text and "bash .ci/run" in text
