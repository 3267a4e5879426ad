"""CloudWatch Logs' filter patterns for JSON log events, the form the stack's metric filter uses:
`{ $.message = "Database unavailable, answering 503*" }`, comparisons joined by && and || with parentheses.

A string value matches the whole field, `*` standing for any run of characters; a number compares as a number; a
selector that names no field matches nothing; a line that is not a JSON object matches no JSON pattern. Anything
else CloudWatch accepts (IS NULL, EXISTS, <, >, space-delimited and text patterns) raises ValueError rather than
being guessed at.
"""

from __future__ import annotations

import json
import re
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<and>&&)|(?P<or>\|\|)"
    r'|(?P<selector>\$(?:\.[\w:@-]+|\[\d+\])+)\s*(?P<operator>!=|=)\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s()&|"]+))'
)
MISSING = object()


def tokens(expression: str) -> list[re.Match[str]]:
    found, position = [], 0
    while position < len(expression.rstrip()):
        match = TOKEN.match(expression, position)
        if match is None:
            raise ValueError(f"not a JSON filter pattern this matcher knows: {expression[position:]!r}")
        found.append(match)
        position = match.end()
    return found


def select(event: Any, selector: str) -> Any:
    for key, index in re.findall(r"\.([\w:@-]+)|\[(\d+)\]", selector[1:]):
        if key and isinstance(event, dict) and key in event:
            event = event[key]
        elif index and isinstance(event, list) and int(index) < len(event):
            event = event[int(index)]
        else:
            return MISSING
    return event


def equals_text(field: Any, text: str) -> bool:
    """The whole field is the text, each * in it standing for any run of characters."""
    wildcard = "".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", text))
    return isinstance(field, str) and re.fullmatch(wildcard, field, flags=re.DOTALL) is not None


def compare(field: Any, operator: str, value: str) -> bool:
    if field is MISSING:
        return False
    if value.startswith('"'):
        equal = equals_text(field, json.loads(value))
    elif re.fullmatch(r"-?\d+(\.\d+)?", value):
        equal = isinstance(field, (int, float)) and not isinstance(field, bool) and field == float(value)
    else:
        equal = equals_text(field, value)
    return equal if operator == "=" else not equal


def matches(pattern: str, line: str) -> bool:
    """Whether CloudWatch Logs would count this log line for this filter pattern."""
    body = pattern.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"not a JSON filter pattern: {pattern!r}")
    try:
        event = json.loads(line)
    except ValueError:
        return False
    if not isinstance(event, dict):
        return False
    remaining = tokens(body[1:-1])

    def take(kind: str) -> bool:
        if remaining and remaining[0].group(kind) is not None:
            remaining.pop(0)
            return True
        return False

    def either() -> bool:
        result = both()
        while take("or"):
            result = both() or result
        return result

    def both() -> bool:
        result = single()
        while take("and"):
            result = single() and result
        return result

    def single() -> bool:
        if take("open"):
            result = either()
            if not take("close"):
                raise ValueError(f"unbalanced parentheses in {pattern!r}")
            return result
        if not remaining or remaining[0].group("selector") is None:
            raise ValueError(f"expected a comparison in {pattern!r}")
        comparison = remaining.pop(0)
        return compare(select(event, comparison["selector"]), comparison["operator"], comparison["value"])

    result = either()
    if remaining:
        raise ValueError(f"unexpected {remaining[0].group(0).strip()!r} in {pattern!r}")
    return result
