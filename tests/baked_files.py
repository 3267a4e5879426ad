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


# What the project's tools and tests write into a bake that tests share (the environment, bytecode, caches, local
# databases): what the generated .gitignore ignores, never rendered by the template.
TOOL_OUTPUT_FOLDERS = frozenset(
    {".venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", "htmlcov", "node_modules", ".serverless"}
)
TOOL_OUTPUT_FILES = ("*.py[cod]", "*.db", "*.db-journal", ".coverage", ".env")


def project_files(root: Path) -> list[Path]:
    """Every file of a baked project outside the virtual environment and what its tools write."""
    return [
        path
        for path in root.rglob("*")
        if path.is_file()
        and TOOL_OUTPUT_FOLDERS.isdisjoint(path.relative_to(root).parts)
        and not any(path.match(pattern) for pattern in TOOL_OUTPUT_FILES)
    ]
