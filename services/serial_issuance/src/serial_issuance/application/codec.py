"""Contract events ↔ log rows for this service."""

from __future__ import annotations

from collections.abc import Iterable

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.serials import EVENTS
from serialtrail_kit.eventstore.model import NewEvent, RecordedEvent, StreamAppend


def to_new(event: EventContract) -> NewEvent:
    return NewEvent(event_type=event.EVENT_TYPE, event_version=event.EVENT_VERSION, payload=event.payload())


def decode(recorded: RecordedEvent) -> EventContract:
    model = EVENTS[(recorded.event_type, recorded.event_version)]
    return model.model_validate(recorded.payload)


def append_of(stream_id: str, expected_version: int, events: Iterable[EventContract]) -> StreamAppend:
    return StreamAppend(stream_id=stream_id, expected_version=expected_version, events=tuple(map(to_new, events)))
