"""Text rules that request bodies share, written so the published schema states exactly what the app accepts.

Validators strip with Python's str.strip(), after the length check: maxLength in the schema then bounds what the
client sends. The characters str.strip() removes (those where str.isspace() is true) are listed below as \\uXXXX
escapes, which JSON Schema (ECMA-262), Python and Rust regular expressions all read the same way; their `\\s` differ
(U+001C-U+001F, U+0085, U+FEFF), and pydantic's str_strip_whitespace strips a different set again.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic.config import JsonDict

WHITESPACE = r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# At least one character that is not whitespace: what a required text field must contain.
NOT_BLANK_PATTERN = f"[^{WHITESPACE}]"
# Field(json_schema_extra=NOT_BLANK) on a field whose validator rejects what strips to "".
NOT_BLANK: "JsonDict" = {"minLength": 1, "pattern": NOT_BLANK_PATTERN}
