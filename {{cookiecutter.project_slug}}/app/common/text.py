"""Text rules that request bodies share, written so the published schema states exactly what the app accepts.

Text may not contain control characters (Unicode category Cc) other than tab and newline: a NUL or an escape
sequence stored today breaks a log line, a CSV export or a terminal tomorrow. Validators strip with Python's
str.strip(), after the length check: maxLength in the schema then bounds what the client sends. The characters
str.strip() removes (those where str.isspace() is true) are listed below as \\uXXXX escapes, which JSON Schema
(ECMA-262), Python and Rust regular expressions all read the same way; their `\\s` differ (U+001C-U+001F, U+0085,
U+FEFF), and pydantic's str_strip_whitespace strips a different set again.
"""

import re
from typing import TYPE_CHECKING

from app.common import messages

if TYPE_CHECKING:
    from pydantic.config import JsonDict

WHITESPACE = r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Category Cc without tab (U+0009) and newline (U+000A).
CONTROL = r"\u0000-\u0008\u000b-\u001f\u007f-\u009f"
# Any text without those control characters.
PLAIN_TEXT_PATTERN = f"^[^{CONTROL}]*$"
# The same, with at least one character that is not whitespace: what a required text field must contain.
NOT_BLANK_PATTERN = f"^[^{CONTROL}]*[^{WHITESPACE}{CONTROL}][^{CONTROL}]*$"
# Field(json_schema_extra=...) on a field whose validator calls plain_text() (and, for NOT_BLANK, rejects what strips
# to "").
PLAIN_TEXT: "JsonDict" = {"pattern": PLAIN_TEXT_PATTERN}
NOT_BLANK: "JsonDict" = {"minLength": 1, "pattern": NOT_BLANK_PATTERN}

_CONTROL_CHARACTER = re.compile(f"[{CONTROL}]")


def plain_text(value: str) -> str:
    """The value itself, or a ValueError when it holds a control character other than tab and newline."""
    if _CONTROL_CHARACTER.search(value):
        raise ValueError(messages.CONTROL_CHARACTERS)
    return value
