"""Value types of the event log. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4


class ConcurrencyError(Exception):
    """The stream moved on since the caller read it (optimistic concurrency)."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id!r} is at version {actual}, expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateEventError(Exception):
    """An event with this event_id is already in the log."""


@dataclass(frozen=True, kw_only=True)
class NewEvent:
    """An event about to be appended. `event_type` is an explicit, stable name
    (never a Python import path) and `event_version` the version of its payload shape."""

    event_type: str
    event_version: int
    payload: dict[str, Any]
    event_id: UUID = field(default_factory=uuid4)


@dataclass(frozen=True, kw_only=True)
class StreamAppend:
    """Events for one stream, expected to follow `expected_version` (0 = new stream)."""

    stream_id: str
    expected_version: int
    events: tuple[NewEvent, ...]


@dataclass(frozen=True, kw_only=True)
class RecordedEvent:
    global_position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    event_type: str
    event_version: int
    payload: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    prev_hash: bytes
    hash: bytes
