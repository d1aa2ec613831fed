"""The one JSON loader for what comes from outside: inbox bodies and fetched documents.

`json.loads` accepts more than we can keep or walk safely, and some of it raises where callers
expect a value:
- nesting as deep as the body is long: the C decoder raises RecursionError past ~1000 levels, and
  anything shallower still reaches code that recurses (json.dumps into jsonb, copies, handlers);
- integers of any length (Python refuses past 4300 digits with a ValueError), NaN and Infinity
  (and 1e999, read as infinity): PostgreSQL's jsonb refuses the last three;
- `\\u0000` and lone surrogates, in keys or values, from escapes or (json.loads decodes bytes with
  surrogatepass) from raw bytes: jsonb refuses both, and asyncpg cannot even encode a surrogate.

All of these are refused, never normalised: what we keep must be what the author signed, and no
server that stores JSON in PostgreSQL (Mastodon among them) can send them either. Every refusal
comes back as a JsonFailure value with a reason code and a sentence.

Depth is measured on the raw bytes before decoding, at C speed: string literals removed, the
brackets left turned into +1/-1 steps, their running sum's maximum taken.
"""

from __future__ import annotations

import enum
import json
import math
import operator
import re
from dataclasses import dataclass
from itertools import accumulate, repeat
from typing import Any, NoReturn

MAX_DEPTH = 64
# Counts, timestamps and ids fit in 20 digits; 64 leaves room for anything honest.
MAX_INTEGER_DIGITS = 64


class JsonFailureReason(enum.StrEnum):
    """Why a JSON text was refused (the value is the reason code an inbox answers with)."""

    MALFORMED = "malformed_json"
    TOO_DEEP = "json_too_deep"
    NUMBER_TOO_LONG = "json_number_too_long"
    NOT_FINITE = "json_not_finite"
    BAD_STRING = "json_bad_string"


@dataclass(frozen=True)
class JsonFailure:
    """A refused JSON text: a reason for code, a sentence for the sender."""

    reason: JsonFailureReason
    detail: str


@dataclass(frozen=True)
class JsonDocument:
    """A JSON text that passed every check, decoded."""

    value: Any


class _Refused(Exception):
    """Unwinds json.loads from its hooks; caught in this module and turned into a failure."""

    def __init__(self, failure: JsonFailure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


_STRING_LITERAL = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# Openers become 2 and closers 0, so that subtracting 1 gives the step.
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
# Only escapes can carry NUL or a lone surrogate into a decoded string: the raw bytes were
# checked as strict UTF-8 and JSON forbids raw control characters in strings.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def nesting_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings not counted)."""
    skeleton = _STRING_LITERAL.sub(b"", data).translate(None, _NOT_BRACKETS)
    steps = map(operator.sub, skeleton.translate(_STEPS), repeat(1))
    return max(accumulate(steps), default=0)


def _refuse(reason: JsonFailureReason, detail: str) -> NoReturn:
    raise _Refused(JsonFailure(reason, detail))


def _parse_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INTEGER_DIGITS:
        _refuse(
            JsonFailureReason.NUMBER_TOO_LONG,
            f"an integer has more than {MAX_INTEGER_DIGITS} digits",
        )
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _refuse(JsonFailureReason.NOT_FINITE, f"the number {text[:20]} is too large")
    return value


def _parse_constant(name: str) -> NoReturn:
    _refuse(JsonFailureReason.NOT_FINITE, f"{name} is not a JSON number")


def _bad_string(text: str) -> bool:
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _find_bad_string(value: Any) -> str | None:
    """Where a NUL or lone surrogate hides in a decoded document (depth is already bounded)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _bad_string(node):
                return "a string"
        elif isinstance(node, dict):
            for key, item in node.items():
                if _bad_string(key):
                    return "a key"
                stack.append(item)
        elif isinstance(node, list):
            stack.extend(node)
    return None


def load_json(data: bytes, *, max_depth: int = MAX_DEPTH) -> JsonDocument | JsonFailure:
    """Decode a JSON text from outside, or say why it is refused; never raises."""
    if data.count(b"[") + data.count(b"{") > max_depth and nesting_depth(data) > max_depth:
        return JsonFailure(
            JsonFailureReason.TOO_DEEP, f"arrays and objects nest deeper than {max_depth} levels"
        )
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return JsonFailure(JsonFailureReason.MALFORMED, "the body is not UTF-8")
    try:
        value = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except _Refused as refused:
        return refused.failure
    except RecursionError:  # not reached past the depth check; kept so nothing can escape
        return JsonFailure(JsonFailureReason.TOO_DEEP, "arrays and objects nest too deeply")
    except json.JSONDecodeError as error:
        return JsonFailure(JsonFailureReason.MALFORMED, f"not valid JSON: {error.msg}")
    if _SUSPECT_ESCAPE.search(text):
        where = _find_bad_string(value)
        if where is not None:
            return JsonFailure(
                JsonFailureReason.BAD_STRING,
                f"{where} holds a NUL character or a lone surrogate, which cannot be stored",
            )
    return JsonDocument(value)
