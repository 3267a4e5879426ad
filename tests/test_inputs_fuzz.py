"""Property-based tests over the free-text answers: every input either fails in pre-gen with a clear message and no
leftovers, or bakes a project whose Python compiles, whose TOML/YAML/JSON parse and whose text keeps the value."""

from __future__ import annotations

import ast
import json
import shutil
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.decode import cfn_yaml
from cookiecutter.exceptions import FailedHookException, UndefinedVariableInTemplate
from cookiecutter.main import cookiecutter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TEMPLATE_ROOT, default_context, load_hook, render_only, run, tool

FREE_TEXT = ("project_name", "description", "author_name")
TRICKY = [
    '"',
    "'",
    "\\",
    '"""',
    "${env:HOME}",
    "$(touch pwned)",
    "`id`",
    "key: value",
    "- item",
    "# not a comment",
    "[table]",
    "a = 1",
    "&anchor *alias",
    "챌린지 백엔드",
    "日本語のテキスト",
    "🚀🔥",
    "\u00e9\u0301",
    " leading",
    "trailing ",
    "two\nlines",
    "tab\there",
    "line\u2028separator",
    "x" * 250,
]
JINJA_MARKERS = ("{{", "{%", "{#")
# Lone surrogates cannot be written to any file as UTF-8; nobody can type them as an answer. Jinja syntax is
# cookiecutter's own feature (answers are templates), covered by the explicit tests below instead.
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=90)
# Mostly printable text, so most examples get past validation and exercise the rendering itself.
printable = st.text(st.characters(exclude_categories=["Cs", "Cc", "Zl", "Zp"]), min_size=1, max_size=90).map(str.strip)
tricky = st.one_of(st.sampled_from(TRICKY), st.lists(st.sampled_from(TRICKY), max_size=4).map("".join))
answer = st.one_of(printable, printable, any_text, tricky).filter(
    lambda value: not any(marker in value for marker in JINJA_MARKERS)
)


@pytest.fixture(scope="module")
def pre_gen(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_hook("pre_gen_project", default_context(), tmp_path_factory.mktemp("hook"))


@pytest.fixture(scope="module")
def stats(summary: list[str]) -> Iterator[dict[str, Any]]:
    record: dict[str, Any] = {"examples": 0, "baked": 0, "rejected": 0, "slowest": 0.0}
    yield record
    summary.append(
        f"hypothesis over {', '.join(FREE_TEXT)}: {record['examples']} examples "
        f"({record['baked']} baked, {record['rejected']} rejected), slowest {record['slowest']:.2f}s"
    )


def check_baked(project: Path, answers: dict[str, str]) -> None:
    """Compiles, parses, and keeps each value faithfully."""
    for path in project.rglob("*"):
        if not path.is_file():
            continue
        content = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            compile(content, str(path), "exec")
        elif path.suffix in {".yml", ".yaml"}:
            # CloudFormation templates use short-form tags (!Ref, !Sub) that only its own loader knows.
            (cfn_yaml.loads if "AWSTemplateFormatVersion" in content else yaml.safe_load)(content)
        elif path.suffix == ".json":
            json.loads(content)
        elif path.suffix == ".toml":
            tomllib.loads(content)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert pyproject["description"] == answers["description"]
    assert pyproject["authors"][0]["name"] == answers["author_name"]
    settings_source = (project / "app" / "common" / "settings.py").read_text(encoding="utf-8")
    app_name = next(
        node.value
        for node in ast.walk(ast.parse(settings_source))
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "app_name"
    )
    assert ast.literal_eval(app_name) == answers["project_name"]  # type: ignore[arg-type]
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {answers['project_name']}\n")
    assert answers["description"] in readme


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(project_name=answer, description=answer, author_name=answer)
def test_free_text_bakes_faithfully_or_is_rejected_clearly(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    pre_gen: Any,
    stats: dict[str, Any],
    project_name: str,
    description: str,
    author_name: str,
) -> None:
    answers = {"project_name": project_name, "description": description, "author_name": author_name}
    expected_problems = [name for name in FREE_TEXT if pre_gen.CHECKS[name](answers[name])]
    output = tmp_path / f"out-{stats['examples']}"
    output.mkdir()
    started = time.monotonic()
    capfd.readouterr()
    try:
        with render_only():
            project = Path(
                cookiecutter(
                    str(TEMPLATE_ROOT),
                    no_input=True,
                    output_dir=str(output),
                    extra_context={**answers, "project_slug": "fuzzed-backend"},
                )
            )
    except FailedHookException:
        error = capfd.readouterr().err
        assert expected_problems, f"rejected valid answers: {error}"
        for name in expected_problems:
            # Cookiecutter renders answers with Jinja first, which turns "\r" into "\n": match the name only.
            assert f"{name}: invalid value " in error
        assert list(output.iterdir()) == []
        stats["rejected"] += 1
    else:
        assert not expected_problems, f"accepted invalid answers for {expected_problems}"
        check_baked(project, answers)
        stats["baked"] += 1
    finally:
        stats["examples"] += 1
        stats["slowest"] = max(stats["slowest"], time.monotonic() - started)
        shutil.rmtree(output, ignore_errors=True)


def bake(tmp_path: Path, **answers: str) -> Path:
    """Render with the given answers and no uv step."""
    with render_only():
        return Path(cookiecutter(str(TEMPLATE_ROOT), no_input=True, output_dir=str(tmp_path), extra_context=answers))


def test_answers_are_jinja_templates_as_cookiecutter_documents(tmp_path: Path) -> None:
    project = bake(tmp_path, description="API of {{ cookiecutter.project_name }}")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == "API of Challenge Backend"


def test_raw_blocks_keep_template_syntax_literally(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="{% raw %}{{ braces }}{% endraw %} API", project_slug="braces-api")
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# {{ braces }} API\n")


def test_undefined_template_variable_is_reported_by_name_with_no_output(tmp_path: Path) -> None:
    with pytest.raises(UndefinedVariableInTemplate, match="Unable to render variable 'description'"):
        bake(tmp_path, description="{{ nothing.here }}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ['My "Quoted" API', "It's an API", "Both \"double\" and 'single'", "Back\\slash"])
def test_project_name_literal_is_already_formatted(tmp_path: Path, name: str) -> None:
    """The quoting chosen for app_name is the one black would choose, so a fresh bake passes `black --check`."""
    project = bake(tmp_path, project_name=name, project_slug="quoted-api")
    run([tool("black"), "--check", "--quiet", "app/common/settings.py"], project)
    settings_source = (project / "app" / "common" / "settings.py").read_text(encoding="utf-8")
    assert f"app_name: str = {name!r}" in settings_source or f"app_name: str = {json.dumps(name)}" in settings_source
