"""The published rule for required text (at least one character that is not whitespace) is exactly the one the app
enforces with str.strip(), as Python and as the JSON Schema validators of clients and fuzzers read it."""

import re
import sys

import jsonschema_rs

from app.common.text import NOT_BLANK_PATTERN

# Lone surrogates are no Unicode text: no JSON Schema validator is asked about them.
SURROGATES = range(0xD800, 0xE000)


def test_python_reads_the_pattern_as_str_strip_does() -> None:
    pattern = re.compile(NOT_BLANK_PATTERN)
    disagreements = [
        hex(code) for code in range(sys.maxunicode + 1) if (pattern.fullmatch(chr(code)) is None) != chr(code).isspace()
    ]
    assert disagreements == []


def test_a_json_schema_validator_reads_the_pattern_as_str_strip_does() -> None:
    validator = jsonschema_rs.validator_for({"type": "string", "pattern": NOT_BLANK_PATTERN})
    disagreements = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if code not in SURROGATES and validator.is_valid(chr(code)) == chr(code).isspace()
    ]
    assert disagreements == []
