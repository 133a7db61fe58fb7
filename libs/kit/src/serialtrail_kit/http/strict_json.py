"""JSON bodies are checked once, strictly, before any route sees them: what the standard
parser lets through but no record may hold is a 422 naming the field and the rule, not a
500 from the database or a silently dropped value.

- duplicate keys in an object (the parser would keep the last one silently);
- NUL characters and lone surrogates in strings (PostgreSQL text cannot hold them);
- integers beyond 64 bits (no column holds them);
- nesting deeper than the parser's recursion allows (it would fail with an internal error);
- bytes that are not UTF-8 (UTF-16 and UTF-32, which the standard parser would guess, too)."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any

from serialtrail_kit.errors import InvalidInput, Rule

UNIQUE_KEY = Rule(
    "unique-key",
    "a key appears once in a JSON object",
    "body.name",
    "the key 'name' appears more than once in an object",
)
FITS_INT64 = Rule(
    "int64", "integers fit in 64 bits", "body", "the integer 92233720368547758070 is outside the 64-bit range"
)
MAX_DEPTH = Rule("max-depth", "JSON is nested at most as deep as the parser allows", "body", "nested too deeply")
NO_NUL = Rule(
    "no-nul", "text holds no NUL character (no record can hold one)", "body.reason", "NUL characters are not allowed"
)
UTF8 = Rule(
    "utf-8",
    "the body is UTF-8 without a byte order mark, every string a sequence of characters",
    "body",
    "not UTF-8 at byte 12",
)
RULES = (UNIQUE_KEY, FITS_INT64, MAX_DEPTH, NO_NUL, UTF8)

INT64 = range(-(2**63), 2**63)
_SUSPECT_ESCAPES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")  # NUL, or a surrogate half


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Duplicate(key)
        found[key] = value
    return found


def _integer(text: str) -> int:
    if len(text) > 20:  # longer than any 64-bit integer (and int() refuses beyond 4,300 digits)
        raise OverflowError(text)
    value = int(text)
    if value not in INT64:
        raise OverflowError(text)
    return value


def _constant(name: str) -> Any:
    raise ValueError(name)


def check(body: bytes) -> None:
    """Raise `InvalidInput` naming the first problem; return quietly for anything else (a
    body that is not JSON at all is left to the route's own validation)."""
    text = _utf8(body)
    try:
        parsed = json.loads(text, object_pairs_hook=_pairs, parse_int=_integer, parse_constant=_constant)
    except _Duplicate as duplicate:
        _refuse(f"body.{duplicate.key}", UNIQUE_KEY, f"the key {duplicate.key!r} appears more than once in an object")
    except OverflowError as big:
        _refuse("body", FITS_INT64, f"the integer {str(big)[:40]} is outside the 64-bit range")
    except RecursionError:
        _refuse("body", MAX_DEPTH, "nested too deeply")
    except ValueError:
        return  # not JSON (or NaN/Infinity): the route's validation names it
    if _SUSPECT_ESCAPES.search(body):
        for where, text in _strings(parsed, "body"):
            if "\x00" in text:
                _refuse(where, NO_NUL, "NUL characters are not allowed")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                _refuse(where, UTF8, "a lone surrogate is not a character")


def _utf8(body: bytes) -> str:
    """JSON exchanged between systems is UTF-8 (RFC 8259 §8.1); the standard parser would guess
    UTF-16 or UTF-32 and let those past every check here."""
    if b"\x00" in body or body.startswith(codecs.BOM_UTF8):  # UTF-16/32 (or a raw NUL, never valid JSON)
        _refuse("body", UTF8, "the body must be UTF-8 JSON without a byte order mark (RFC 8259 §8.1)")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        _refuse("body", UTF8, f"not UTF-8 at byte {error.start}")
        raise  # unreachable: _refuse raises


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{where}.{key}", key
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def _refuse(field: str, rule: Rule, message: str) -> None:
    raise InvalidInput(f"{field}: {message}", [rule.at(field, message)])
