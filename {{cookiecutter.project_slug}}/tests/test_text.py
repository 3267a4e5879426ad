"""The published text rules are exactly the ones the app enforces: no control character but tab and newline
(plain_text), and for required text at least one character that str.strip() keeps, as Python and as the JSON Schema
validators of clients and fuzzers read the patterns."""

import re
import sys
import unicodedata
from collections.abc import Callable

import jsonschema_rs
import pytest

from app.common.text import NOT_BLANK_PATTERN, PLAIN_TEXT_PATTERN, plain_text

# Lone surrogates are no Unicode text: no JSON Schema validator is asked about them.
SURROGATES = range(0xD800, 0xE000)
CHARACTERS = [chr(code) for code in range(sys.maxunicode + 1) if code not in SURROGATES]


def accepted_as_plain_text(text: str) -> bool:
    """What the app's validators accept as text."""
    try:
        plain_text(text)
    except ValueError:
        return False
    return True


def accepted_as_required_text(text: str) -> bool:
    """What the app's validators accept as a required text field."""
    return accepted_as_plain_text(text) and bool(text.strip())


RULES = {
    "plain text": (PLAIN_TEXT_PATTERN, accepted_as_plain_text),
    "not blank": (NOT_BLANK_PATTERN, accepted_as_required_text),
}
SAMPLES = ["", " a ", "a\tb\nc", "\t\n", "a\u0000", "a\x1b[0m", "\u3000x\u3000", "x\u0085", "\u00a0"]


def test_the_only_control_characters_allowed_are_tab_and_newline() -> None:
    refused = [character for character in CHARACTERS if not accepted_as_plain_text(character)]
    assert refused == [c for c in CHARACTERS if unicodedata.category(c) == "Cc" and c not in "\t\n"]


@pytest.mark.parametrize(("pattern", "rule"), RULES.values(), ids=RULES.keys())
def test_python_reads_the_pattern_as_the_app_validates(pattern: str, rule: Callable[[str], bool]) -> None:
    compiled = re.compile(pattern)
    disagreements = [
        repr(text) for text in [*CHARACTERS, *SAMPLES] if (compiled.search(text) is not None) != rule(text)
    ]
    assert disagreements == []


@pytest.mark.parametrize(("pattern", "rule"), RULES.values(), ids=RULES.keys())
def test_a_json_schema_validator_reads_the_pattern_as_the_app_validates(
    pattern: str, rule: Callable[[str], bool]
) -> None:
    validator = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
    disagreements = [repr(text) for text in [*CHARACTERS, *SAMPLES] if validator.is_valid(text) != rule(text)]
    assert disagreements == []
