"""The README stays in step with cookiecutter.json and with what CI runs."""

from __future__ import annotations

import re

from tests.conftest import COOKIECUTTER_JSON, TEMPLATE_ROOT

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


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"^# 2\. .*\n(.+)$", README, flags=re.MULTILINE)
    assert commands == ["uv run pytest"]
    ci_script = (TEMPLATE_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(rf"^{re.escape(commands[0])}\b", ci_script, flags=re.MULTILINE)
