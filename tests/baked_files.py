"""What a baked project's files may and may not hold."""

from __future__ import annotations

import re
from pathlib import Path

UNRENDERED = re.compile(r"\{\{|\{%|cookiecutter\.")
# GitHub Actions expressions are kept literally; they are the one legitimate "{{" in a baked project.
GITHUB_EXPRESSION = re.compile(r"\$\{\{ [^}]+ \}\}")
# Template files that exist once per answer; the post-gen hook renames the chosen one, so none may reach a bake.
VARIANT_FILES = (
    "README.ko.md",
    "README.en.md",
    "CLAUDE.ko.md",
    "CLAUDE.en.md",
    "infra/package-lock.v4.json",
    "infra/package-lock.osls.json",
)


def strip_github_expressions(text: str) -> str:
    """Text without GitHub Actions expressions, which legitimately contain "{{"."""
    return GITHUB_EXPRESSION.sub("", text)


# What the project's own tools write into a bake that tests share (bytecode, caches, the environment): never rendered.
TOOL_OUTPUT = frozenset({".venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules"})


def project_files(root: Path) -> list[Path]:
    """Every file of a baked project outside the virtual environment and the tools' caches."""
    return [path for path in root.rglob("*") if path.is_file() and TOOL_OUTPUT.isdisjoint(path.relative_to(root).parts)]
