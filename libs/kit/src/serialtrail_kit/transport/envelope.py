"""Log rows ↔ Kafka messages: key = stream id (one stream stays in one partition), body =
the contract envelope as JSON (with the payload), headers = the envelope's routing fields
so a consumer can route, trace and dead-letter without parsing the body."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import orjson
from serialtrail_contracts.envelope import Envelope

from serialtrail_kit.eventstore.model import RecordedEvent

Headers = list[tuple[str, bytes]]
HEADER_FIELDS = ("event_id", "event_type", "event_version", "producer", "correlation_id", "traceparent")


@dataclass(frozen=True)
class Message:
    key: bytes
    value: bytes
    headers: Headers


class UndecodableMessage(ValueError):
    """A message that is not a valid envelope: it goes to the dead-letter topic, with this reason."""


def to_message(event: RecordedEvent, producer: str) -> Message:
    """The relay's hot path: the envelope's JSON form built directly (a test holds it to the
    `Envelope` contract), without a model per event."""
    meta = event.metadata
    body = {
        "event_id": str(event.event_id),
        "event_type": event.event_type,
        "event_version": event.event_version,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "global_position": event.global_position,
        "producer": producer,
        "occurred_at": event.recorded_at,
        "recorded_at": event.recorded_at,
        "correlation_id": str(meta.get("correlation_id") or event.event_id),
        "causation_id": meta.get("causation_id"),
        "traceparent": meta.get("traceparent"),
        "payload": event.payload,
        "metadata": meta,
    }
    headers = [(name, str(value).encode()) for name in HEADER_FIELDS if (value := body[name]) is not None]
    return Message(key=event.stream_id.encode(), value=orjson.dumps(body), headers=headers)


def from_message(value: bytes | None) -> RecordedEvent:
    """The event a message carries, as the producer's log recorded it (hashes are not sent:
    the chain belongs to the producer's log, a consumer verifies nothing with it)."""
    try:
        envelope = Envelope.model_validate(orjson.loads(value or b""))
    except (orjson.JSONDecodeError, ValueError, TypeError) as error:
        raise UndecodableMessage(f"not a Serialtrail envelope: {error}") from error
    return RecordedEvent(
        global_position=envelope.global_position,
        stream_id=envelope.stream_id,
        stream_version=envelope.stream_version,
        event_id=UUID(str(envelope.event_id)),
        event_type=envelope.event_type,
        event_version=envelope.event_version,
        payload=envelope.payload,
        metadata=envelope.metadata,
        recorded_at=envelope.recorded_at,
        prev_hash=b"",
        hash=b"",
    )
