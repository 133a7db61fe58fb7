"""Schema evolution on read: stored rows are never rewritten, old payload versions are
lifted to the current one by a chain of upcasters when they are read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from serialtrail_kit.eventstore.model import RecordedEvent

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]


class Upcasters:
    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}

    @classmethod
    def of(cls, *tables: Mapping[tuple[str, int], Upcaster]) -> Upcasters:
        """Upcasters from tables of (event type, from version) → step, as contracts publish them."""
        upcasters = cls()
        for table in tables:
            for (event_type, from_version), step in table.items():
                upcasters.register(event_type, from_version)(step)
        return upcasters

    def register(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorate a function that turns version `from_version` into `from_version + 1`."""

        def decorate(step: Upcaster) -> Upcaster:
            key = (event_type, from_version)
            if key in self._steps:
                raise ValueError(f"an upcaster for {event_type} v{from_version} already exists")
            self._steps[key] = step
            return step

        return decorate

    def upcast(self, event_type: str, version: int, payload: Payload) -> tuple[int, Payload]:
        while (step := self._steps.get((event_type, version))) is not None:
            payload = step(payload)
            version += 1
        return version, payload

    def event(self, event: RecordedEvent) -> RecordedEvent:
        """The event at its current version, whichever log or topic it was read from."""
        version, payload = self.upcast(event.event_type, event.event_version, event.payload)
        if version == event.event_version:
            return event
        return replace(event, event_version=version, payload=payload)

    def events(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        """`event` of each, in order (the list itself where there is nothing to upcast)."""
        if not self._steps:
            return events
        return [self.event(e) for e in events]


NO_UPCASTERS = Upcasters()
