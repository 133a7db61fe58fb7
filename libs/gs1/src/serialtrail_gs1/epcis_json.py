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

MAX_NESTING = 64  # far deeper than any EPCIS document; a validator recursing deeper could fail
INT64 = range(-(2**63), 2**63)
# A surrogate escape (not itself an escaped backslash's text: an even run of backslashes before
# it). Paired or not is judged here: the parser would put '?' for a lone one, data changed silently.
_SURROGATE_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*(\\u[dD][89a-fA-F][0-9a-fA-F]{2})")
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
class _Open:
    """An object or array being read: for objects, its keys so far and the one being read; for
    arrays, the position of the item being read."""

    is_map: bool
    key: str = "item"
    keys: set[str] = field(default_factory=set)
    position: int = -1

    def step(self, key: str | None = None) -> str:
        """This container's step of a path: `.key` (or `.<key given>`), or `[position]`."""
        return f".{self.key if key is None else key}" if self.is_map else f"[{self.position}]"


_EVENT_LIST_PATHS = (("epcisBody", "eventList"), ("epcisBody", "queryResults", "resultsBody", "eventList"))
_OPENING = frozenset({"start_map", "start_array"})
_CLOSING = frozenset({"end_map", "end_array"})


@dataclass
class JsonDocumentReader:
    """`feed` bytes as they come, take the events each call completes, `close` at the end; then
    `envelope` is the document without its events.

    The parser's plain token stream is read (not its prefixed one, whose prefixes grow with the
    depth: a document nested 100,000 deep would cost their square in memory); where each token is,
    is tracked here, and nesting deeper than `MAX_NESTING` is refused at the level that crosses it."""

    received: int = 0
    events_read: int = 0
    _tokens: Any = field(default_factory=ijson.sendable_list)
    _parser: Any = None
    _envelope: Any = field(default_factory=ijson.ObjectBuilder)
    _event: Any = None  # the event being built
    _event_level: int = 0  # how many are open around the event being built
    _open: list[_Open] = field(default_factory=list)
    _done: list[Any] = field(default_factory=list)
    _carried: bytes = b""
    _judged_until: int = 0  # surrogate escapes starting before this byte are judged

    def __post_init__(self) -> None:
        # Numbers as Python numbers (not Decimal): what every other JSON reader of ours sees.
        self._parser = ijson.basic_parse_coro(self._tokens, use_float=True)

    def feed(self, chunk: bytes) -> list[Any]:
        if not chunk:  # the end of a body is said by `close`, never by an empty chunk
            return []
        self.received += len(chunk)
        self._refuse_lone_surrogates(self._carried + chunk, final=False)
        try:
            self._parser.send(chunk)
        except (ijson.JSONError, UnicodeDecodeError) as error:
            raise _malformed(f"not valid JSON near byte {self.received}", error) from error
        return self._drain()

    def close(self) -> list[Any]:
        self._refuse_lone_surrogates(self._carried, final=True)
        try:
            self._parser.close()
        except (ijson.JSONError, UnicodeDecodeError) as error:
            raise _malformed("the JSON ends early or is not valid at its end", error) from error
        return self._drain()

    def _refuse_lone_surrogates(self, data: bytes, final: bool) -> None:
        """Each surrogate escape is judged once, when what follows it is in view; `data` begins with
        the last bytes of the previous chunk, so a pair split between chunks is seen whole."""
        offset = self.received - len(data)  # where `data` starts in the body
        escapes = list(_SURROGATE_ESCAPE.finditer(data))
        for at, match in enumerate(escapes):
            start = offset + match.start(1)
            if start < self._judged_until or not (final or match.end() + 6 <= len(data)):
                continue
            if not _paired(escapes, at):
                raise RefusedJson(UTF8, f"byte {start}", "a lone surrogate is not a character")
            self._judged_until = start + 1
        self._carried = data[-_CARRIED:]

    @property
    def envelope(self) -> dict[str, Any]:
        value = getattr(self._envelope, "value", None)
        if not isinstance(value, dict):
            raise MalformedDocument("the document is not a JSON object")
        return value

    def _drain(self) -> list[Any]:
        """Events completed by the tokens parsed so far (an event may be any JSON value, null too:
        the schema check says what is wrong with one that is not an object)."""
        for event, value in self._tokens:
            self._token(event, value)
        del self._tokens[:]
        done, self._done = self._done, []
        self.events_read += len(done)
        return done

    def _token(self, event: str, value: Any) -> None:
        if self._open and not self._open[-1].is_map and event not in _CLOSING:
            self._open[-1].position += 1  # an item of the array begins
        self._strict(event, value)
        if self._event is None and event != "map_key" and event not in _CLOSING and self._in_event_list():
            self._event, self._event_level = ijson.ObjectBuilder(), len(self._open)
        (self._event or self._envelope).event(event, value)
        if event in _OPENING:
            self._open.append(_Open(event == "start_map"))
            if len(self._open) > MAX_NESTING:
                raise RefusedJson(MAX_DEPTH, self._where(), f"nested deeper than {MAX_NESTING} levels")
        elif event in _CLOSING:
            self._open.pop()
        if self._event is not None and len(self._open) == self._event_level and event != "map_key":
            self._done.append(self._event.value)
            self._event = None

    def _in_event_list(self) -> bool:
        if len(self._open) not in (3, 5) or self._open[-1].is_map:
            return False
        return tuple(o.key for o in self._open[:-1]) in _EVENT_LIST_PATHS

    def _strict(self, event: str, value: Any) -> None:
        if event == "map_key":
            current = self._open[-1]
            if value in current.keys:
                message = f"the key {value!r} appears more than once"
                raise RefusedJson(UNIQUE_KEY, self._where(duplicate=value), message)
            current.keys.add(value)
            current.key = value
            self._text(value)
        elif event == "string":
            self._text(value)
        elif event == "number" and isinstance(value, int) and value not in INT64:
            raise RefusedJson(FITS_INT64, self._where(), f"the integer {str(value)[:40]} is outside the 64-bit range")

    def _where(self, duplicate: str | None = None) -> str:
        """Where the token being read is (`epcisBody.eventList[3].epcList[0]`); a `duplicate` key
        names itself, not the key read before it."""
        opened = self._open[:MAX_NESTING]
        steps = [o.step(duplicate if n == len(opened) - 1 else None) for n, o in enumerate(opened)]
        return "".join(steps).lstrip(".")[:300] or "document"

    def _text(self, value: str) -> None:
        if "\x00" in value:
            raise RefusedJson(NO_NUL, self._where(), "NUL characters are not allowed")


def _paired(escapes: list[re.Match[bytes]], at: int) -> bool:
    def high(match: re.Match[bytes]) -> bool:
        return match.group(1)[3] in b"89abAB"  # \\uD8..-\\uDB..: the high half

    match = escapes[at]
    if high(match):
        after = escapes[at + 1] if at + 1 < len(escapes) else None
        return after is not None and after.start(1) == match.end() and not high(after)
    before = escapes[at - 1] if at > 0 else None
    return before is not None and before.end() == match.start(1) and high(before)


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
