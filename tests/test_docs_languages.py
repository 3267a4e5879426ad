"""Documents that differ by language are one template file per language, and the languages stay in step: the same
headings at the same levels, the same commands in the same order, the same code named. Rendered the way cookiecutter
renders them, for every combination of the options that change the documents, without a bake."""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

import pytest
from cookiecutter.environment import StrictEnvironment
from jinja2 import nodes

from tests.conftest import default_context
from tests.template_files import PROJECT_TEMPLATE, render_template_file

LANGUAGES = ("ko", "en")
DOCUMENTS = ("README", "CLAUDE")
# Every option the documents branch on, at each of its values.
DOCUMENT_OPTIONS: dict[str, tuple[str, ...]] = {
    "serverless_flavour": ("v4", "osls"),
    "serverless_org": ("", "acme"),
    "aws_credentials": ("access_keys", "oidc"),
    "lint_stack": ("black_isort_flake8", "ruff"),
    "include_example_module": ("yes", "no"),
    "use_docker": ("yes", "no"),
    "use_github_actions": ("yes", "no"),
    "db_credentials": ("secrets_manager", "environment", "iam"),
    "database": ("aurora", "existing"),
}
OPTION_SETS = [dict(zip(DOCUMENT_OPTIONS, values)) for values in itertools.product(*DOCUMENT_OPTIONS.values())]
# background_jobs=yes adds sections that branch on these options only: with it, the other options stay at their first
# value, so that the answer does not double the matrix.
JOB_DOCUMENT_OPTIONS = (
    "serverless_flavour",
    "include_example_module",
    "use_github_actions",
    "db_credentials",
    "database",
)
OPTION_SETS += [
    {**options, "background_jobs": "yes"}
    for options in OPTION_SETS
    if all(options[name] == values[0] for name, values in DOCUMENT_OPTIONS.items() if name not in JOB_DOCUMENT_OPTIONS)
]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", flags=re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
# A command, possibly after environment assignments (`TEST_DATABASE_URL=... make test`).
COMMAND = re.compile(r"^(?:[A-Z][A-Z0-9_]*=\S+ )*(?:uv|uvx|make|docker|cd|git|npm|npx|alembic|pytest|python)(?: |$)")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def render_variant(document: str, language: str, options: Mapping[str, str]) -> str:
    """The language's variant of a document, rendered with that language chosen."""
    return render_template_file(f"{document}.{language}.md", {**default_context(), **options, "language": language})


def prose(markdown: str) -> str:
    """The text outside fenced code blocks."""
    return FENCE.sub("", markdown)


def heading_levels(markdown: str) -> list[int]:
    """The level of every heading, in order (a "#" comment inside a code block is not a heading)."""
    return [len(marks) for marks in re.findall(r"^(#{1,6}) ", prose(markdown), flags=re.MULTILINE)]


def commands(markdown: str) -> list[str]:
    """Every command in order: code-block lines without their comments, then the inline commands of the prose."""
    found = []
    for _, block in FENCE.findall(markdown):
        for line in block.splitlines():
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                found.append(command)
    found.extend(code for code in INLINE_CODE.findall(prose(markdown)) if COMMAND.match(code))
    return found


class Compared(NamedTuple):
    """What the tests compare between the languages' renders of one document."""

    headings: list[int]
    commands: list[str]
    code: Counter[str]


# The three comparisons read every render: each variant is rendered once per process (the tests share an xdist group,
# hence a process), which keeps the file at a third of its time.
@functools.cache
def compared(document: str, language: str, options: tuple[tuple[str, str], ...]) -> Compared:
    markdown = render_variant(document, language, dict(options))
    return Compared(heading_levels(markdown), commands(markdown), Counter(INLINE_CODE.findall(prose(markdown))))


def both_languages(document: str, options: Mapping[str, str]) -> tuple[Compared, Compared]:
    key = tuple(sorted(options.items()))
    return compared(document, "ko", key), compared(document, "en", key)


@pytest.mark.xdist_group("docs-languages")
@pytest.mark.parametrize("document", DOCUMENTS)
def test_languages_have_the_same_headings(document: str) -> None:
    mismatches = []
    for options in OPTION_SETS:
        korean, english = both_languages(document, options)
        if korean.headings != english.headings:
            mismatches.append(options)
    assert mismatches == []


@pytest.mark.xdist_group("docs-languages")
@pytest.mark.parametrize("document", DOCUMENTS)
def test_languages_give_identical_commands_in_the_same_order(document: str) -> None:
    """Comments are translated; the commands themselves (message texts included) are the same characters."""
    for options in OPTION_SETS:
        korean, english = (rendered.commands for rendered in both_languages(document, options))
        assert korean == english, options
        assert len(korean) >= 8, korean  # a renamed code fence or a missed pattern must not make this vacuous


@pytest.mark.xdist_group("docs-languages")
@pytest.mark.parametrize("document", DOCUMENTS)
def test_languages_name_the_same_code(document: str) -> None:
    """Every path, variable and identifier in backticks appears in both languages, as often (in any order)."""
    for options in OPTION_SETS:
        korean, english = (rendered.code for rendered in both_languages(document, options))
        assert korean - english == Counter() and english - korean == Counter(), options


@pytest.mark.parametrize("document", DOCUMENTS)
def test_each_variant_is_written_in_its_language(document: str) -> None:
    options = OPTION_SETS[0]
    assert HANGUL.search(render_variant(document, "ko", options))
    assert not HANGUL.search(render_variant(document, "en", options))


def whole_file_alternatives(source: str) -> list[int]:
    """Lines of top-level if/else blocks spanning more than half the file: two documents behind one condition."""
    body = StrictEnvironment().parse(source).body
    total = source.count("\n") + 1
    flagged = []
    for index, node in enumerate(body):
        if isinstance(node, nodes.If) and (node.else_ or node.elif_):
            end = body[index + 1].lineno if index + 1 < len(body) else total
            if end - node.lineno > total / 2:
                flagged.append(node.lineno)
    return flagged


def test_the_guard_finds_two_documents_behind_one_condition() -> None:
    assert whole_file_alternatives("# Title\n{% if a %}\none\ntwo\nthree\n{% else %}\nuno\ndos\n{% endif %}\n") == [2]
    assert (
        whole_file_alternatives("# Title\none\ntwo\nthree\n{% if a %}\nfour\n{% else %}\ncuatro\n{% endif %}\n") == []
    )


def test_no_document_or_lock_file_holds_alternatives_behind_one_condition() -> None:
    """Documents and lock files that differ as a whole by answer are separate variant files (the post-gen hook's
    VARIANT_TABLE picks one); small option conditions inside a document are fine."""
    offenders = [
        f"{path.relative_to(PROJECT_TEMPLATE)}: line {line}"
        for path in sorted(PROJECT_TEMPLATE.rglob("*"))
        if path.is_file() and (path.suffix in {".md", ".json"} or path.name.endswith(".lock"))
        for line in whole_file_alternatives(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
