"""The generated project's template files rendered the way cookiecutter renders them, without a bake."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from cookiecutter.environment import StrictEnvironment
from jinja2 import Template

from tests.conftest import TEMPLATE_ROOT

PROJECT_TEMPLATE = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}"


@cache
def compiled(relative: str) -> Template:
    """A template file of the generated project, compiled with cookiecutter's Jinja environment."""
    environment = StrictEnvironment(keep_trailing_newline=True)  # as cookiecutter's generate_files renders files
    template: Template = environment.from_string((PROJECT_TEMPLATE / relative).read_text(encoding="utf-8"))
    return template


def render_template_file(relative: str, answers: Mapping[str, Any]) -> str:
    """A file of the generated project rendered with these answers (before the post-gen hook runs)."""
    return compiled(relative).render(cookiecutter=dict(answers))
