"""The template's own code (hooks and tests) follows the formatter and linter settings it generates."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import TEMPLATE_ROOT, run


@pytest.mark.parametrize(
    "command",
    [
        ["black", "--check", "."],
        ["isort", "--check-only", "."],
        ["flake8", "."],
        ["mypy", "hooks", "tests", "benchmarks"],
    ],
    ids=["black", "isort", "flake8", "mypy"],
)
def test_template_code_passes(command: list[str]) -> None:
    run([sys.executable, "-m", *command], TEMPLATE_ROOT)
