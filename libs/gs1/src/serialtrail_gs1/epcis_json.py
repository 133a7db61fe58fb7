"""EPCIS 2.0 JSON-LD documents read as they arrive: a push parser fed the body chunk by chunk,
handing out each event of the `eventList` as soon as it is complete, so a capture of 100,000
events never holds the document's bytes and its events at once.

Everything outside the event list (`@context`, the header, the document's own fields) is kept
as the *envelope*, with an empty event list in its place, so that the envelope alone can be
validated against the document schema. `EPCISDocument` and `EPCISQueryDocument` are both read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ijson
from serialtrail_kit.errors import Rule
from serialtrail_kit.http.strict_json import FITS_INT64, MAX_DEPTH, NO_NUL, UNIQUE_KEY, UTF8

EVENT_LISTS = ("epcisBody.eventList", "epcisBody.queryResults.resultsBody.eventList")
_ITEMS = tuple(f"{prefix}.item" for prefix in EVENT_LISTS)


MAX_NESTING = 64  # far deeper than any EPCIS document; a validator recursing deeper could fail
INT64 = range(-(2**63), 2**63)
# A surrogate escape without its other half. The parser would put '?' in its place: data changed
# silently, so the raw bytes are searched for one (as the kit's strict_json searches a body).
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
_CARRIED = 18  # bytes kept from one chunk to the next: an escape and both its neighbours


class MalformedDocument(ValueError):
    """Not JSON, or JSON cut short: nothing in it can be trusted, so no event of it is read."""


class RefusedJson(ValueError):
    """JSON the parser reads but no record may hold, held to the same rules as every other body
    (`serialtrail_kit.http.strict_json`): a duplicate key, a NUL or lone surrogate, an integer
    beyond 64 bits, nesting deeper than `MAX_NESTING`. `field` is where, as the parser names it."""

    def __init__(self, rule: Rule, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.rule, self.field, self.message = rule, field, message


@dataclass
class JsonDocumentReader:
    """`feed` bytes as they come, take the events each call completes, `close` at the end; then
    `envelope` is the document without its events."""

    received: int = 0
    events_read: int = 0
    _tokens: Any = field(default_factory=ijson.sendable_list)
    _parser: Any = None
    _envelope: Any = field(default_factory=ijson.ObjectBuilder)
    _event: Any = None  # the event being built
    _depth: int = 0  # nesting below the event being built
    _keys: list[set[str]] = field(default_factory=list)  # the keys of each object open, innermost last
    _carried: bytes = b""

    def __post_init__(self) -> None:
        # Numbers as Python numbers (not Decimal): what every other JSON reader of ours sees.
        self._parser = ijson.parse_coro(self._tokens, use_float=True)

    def feed(self, chunk: bytes) -> list[Any]:
        if not chunk:  # the end of a body is said by `close`, never by an empty chunk
            return []
        self.received += len(chunk)
        self._refuse_lone_surrogates(self._carried + chunk, final=False)
        try:
            self._parser.send(chunk)
        except ijson.JSONError as error:
            raise _malformed(f"not valid JSON near byte {self.received}", error) from error
        return self._drain()

    def close(self) -> list[Any]:
        self._refuse_lone_surrogates(self._carried, final=True)
        try:
            self._parser.close()
        except ijson.JSONError as error:
            raise _malformed("the JSON ends early or is not valid at its end", error) from error
        return self._drain()

    def _refuse_lone_surrogates(self, data: bytes, final: bool) -> None:
        for match in _LONE_SURROGATE.finditer(data):
            if final or match.end() + 6 <= len(data):  # what follows it is seen: judged now
                raise RefusedJson(
                    UTF8, f"byte {self.received - len(data) + match.start()}", "a lone surrogate is not a character"
                )
        self._carried = data[-_CARRIED:]

    @property
    def envelope(self) -> dict[str, Any]:
        value = getattr(self._envelope, "value", None)
        if not isinstance(value, dict):
            raise MalformedDocument("the document is not a JSON object")
        return value

    def _drain(self) -> list[Any]:
        """Events completed by the tokens parsed so far (an event may be any JSON value: the schema
        check says what is wrong with one that is not an object)."""
        done: list[Any] = []
        for prefix, event, value in self._tokens:
            completed = self._token(prefix, event, value)
            if completed is not None:
                done.append(completed)
        del self._tokens[:]
        self.events_read += len(done)
        return done

    def _token(self, prefix: str, event: str, value: Any) -> Any:
        self._strict(prefix, event, value)
        if self._event is not None:
            return self._inside_event(event, value)
        if prefix in _ITEMS:  # an item of an event list starts: it is an event, not envelope
            self._event = ijson.ObjectBuilder()
            self._event.event(event, value)
            self._depth = 1 if event in ("start_map", "start_array") else 0
            return self._completed() if self._depth == 0 else None
        self._envelope.event(event, value)
        return None

    def _strict(self, prefix: str, event: str, value: Any) -> None:
        if event == "map_key":
            if value in self._keys[-1]:
                raise RefusedJson(UNIQUE_KEY, prefix or "document", f"the key {value!r} appears more than once")
            self._keys[-1].add(value)
            self._text(prefix, value)
        elif event == "string":
            self._text(prefix, value)
        elif event == "start_map":
            self._keys.append(set())
            self._nested(prefix)
        elif event == "end_map":
            self._keys.pop()
        elif event == "start_array":
            self._nested(prefix)
        elif event == "number" and isinstance(value, int) and value not in INT64:
            raise RefusedJson(FITS_INT64, prefix, f"the integer {str(value)[:40]} is outside the 64-bit range")

    def _nested(self, prefix: str) -> None:
        # ijson names a place by its keys and `item`s, one per level below the document
        if prefix.count(".") + 1 >= MAX_NESTING:
            raise RefusedJson(MAX_DEPTH, prefix[:200], f"nested deeper than {MAX_NESTING} levels")

    @staticmethod
    def _text(prefix: str, value: str) -> None:
        if "\x00" in value:
            raise RefusedJson(NO_NUL, prefix, "NUL characters are not allowed")

    def _inside_event(self, event: str, value: Any) -> Any:
        self._event.event(event, value)
        if event in ("start_map", "start_array"):
            self._depth += 1
        elif event in ("end_map", "end_array"):
            self._depth -= 1
        return self._completed() if self._depth == 0 else None

    def _completed(self) -> Any:
        built = self._event.value
        self._event = None
        return built


def _malformed(what: str, error: Exception) -> ValueError:
    if "integer overflow" in str(error):  # the parser's own limit: 64 bits, as every other body's
        return RefusedJson(FITS_INT64, f"byte {what.rsplit(' ', 1)[-1]}", "an integer is outside the 64-bit range")
    return MalformedDocument(f"{what}: {error}")


def read_document(data: bytes, chunk_size: int = 1 << 16) -> tuple[dict[str, Any], list[Any]]:
    """A whole document at once (tests, small documents): its envelope and its events."""
    reader = JsonDocumentReader()
    events = [event for chunk in _chunks(data, chunk_size) for event in reader.feed(chunk)]
    events.extend(reader.close())
    return reader.envelope, events


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
