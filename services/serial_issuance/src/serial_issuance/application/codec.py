"""Contract events ↔ log rows for this service's own log."""

from __future__ import annotations

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.serials import EVENTS
from serialtrail_kit.eventstore import codec
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.model import RecordedEvent

__all__ = ["append_of", "decode"]


def decode(recorded: RecordedEvent) -> EventContract:
    event = codec.decode(EVENTS, recorded)
    if event is None:  # our own log holds only our own contracts
        raise LookupError(f"unknown event {recorded.event_type} v{recorded.event_version} in the serials log")
    return event
