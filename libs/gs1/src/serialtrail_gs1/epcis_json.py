"""EPCIS 2.0 JSON-LD documents read as they arrive: a push parser fed the body chunk by chunk,
handing out each event of the `eventList` as soon as it is complete, so a capture of 100,000
events never holds the document's bytes and its events at once.

Everything outside the event list (`@context`, the header, the document's own fields) is kept
as the *envelope*, with an empty event list in its place, so that the envelope alone can be
validated against the document schema. `EPCISDocument` and `EPCISQueryDocument` are both read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ijson

EVENT_LISTS = ("epcisBody.eventList", "epcisBody.queryResults.resultsBody.eventList")
_ITEMS = tuple(f"{prefix}.item" for prefix in EVENT_LISTS)


class MalformedDocument(ValueError):
    """Not JSON, or JSON cut short: nothing in it can be trusted, so no event of it is read."""


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

    def __post_init__(self) -> None:
        # Numbers as Python numbers (not Decimal): what every other JSON reader of ours sees.
        self._parser = ijson.parse_coro(self._tokens, use_float=True)

    def feed(self, chunk: bytes) -> list[Any]:
        if not chunk:  # the end of a body is said by `close`, never by an empty chunk
            return []
        self.received += len(chunk)
        try:
            self._parser.send(chunk)
        except ijson.JSONError as error:
            raise MalformedDocument(f"not valid JSON near byte {self.received}: {error}") from error
        return self._drain()

    def close(self) -> list[Any]:
        try:
            self._parser.close()
        except ijson.JSONError as error:
            raise MalformedDocument(f"the JSON ends early or is not valid at its end: {error}") from error
        return self._drain()

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
        if self._event is not None:
            return self._inside_event(event, value)
        if prefix in _ITEMS:  # an item of an event list starts: it is an event, not envelope
            self._event = ijson.ObjectBuilder()
            self._event.event(event, value)
            self._depth = 1 if event in ("start_map", "start_array") else 0
            return self._completed() if self._depth == 0 else None
        self._envelope.event(event, value)
        return None

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


def read_document(data: bytes, chunk_size: int = 1 << 16) -> tuple[dict[str, Any], list[Any]]:
    """A whole document at once (tests, small documents): its envelope and its events."""
    reader = JsonDocumentReader()
    events = [event for chunk in _chunks(data, chunk_size) for event in reader.feed(chunk)]
    events.extend(reader.close())
    return reader.envelope, events


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
