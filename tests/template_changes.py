"""Commits to a throwaway copy of the template repository, as a template release would make them."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git


def template_change(repo: Path, relative: str, old: str | None, new: str, message: str) -> None:
    """Commit a change to one file of the template's project folder (append when old is None)."""
    path = repo / "{{cookiecutter.project_slug}}" / relative
    text = path.read_text(encoding="utf-8")
    path.write_text(text + new if old is None else text.replace(old, new), encoding="utf-8")
    git(repo, "commit", "--quiet", "--all", "-m", message)
