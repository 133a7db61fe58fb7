"""Contract events ↔ log rows, for any service's published language."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from serialtrail_contracts.base import EventContract

from serialtrail_kit.eventstore.model import NewEvent, RecordedEvent, StreamAppend

Registry = Mapping[tuple[str, int], type[EventContract]]


def to_new(event: EventContract) -> NewEvent:
    return NewEvent(event_type=event.EVENT_TYPE, event_version=event.EVENT_VERSION, payload=event.payload())


def append_of(stream_id: str, expected_version: int, events: Iterable[EventContract]) -> StreamAppend:
    return StreamAppend(stream_id=stream_id, expected_version=expected_version, events=tuple(map(to_new, events)))


def decode(registry: Registry, recorded: RecordedEvent) -> EventContract | None:
    """The contract model of a recorded (already upcast) event; None for types this
    reader does not know, which it must still track past."""
    model = registry.get((recorded.event_type, recorded.event_version))
    return None if model is None else model.model_validate(recorded.payload)
