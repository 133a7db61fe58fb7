"""Messages the relay builds are the published `Envelope` contract, and decode back to the event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from serialtrail_contracts.envelope import Envelope
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.transport.envelope import UndecodableMessage, from_message, to_message

EVENT = RecordedEvent(
    global_position=42,
    stream_id="parent-https://id.gs1.org/00/095060000000000015",
    stream_version=3,
    event_id=uuid.uuid4(),
    event_type="aggregation.ChildrenPacked",
    event_version=1,
    payload={"parent_id": "x", "child_ids": ["a", "b"]},
    metadata={
        "principal_id": "key:1",
        "correlation_id": "c-1",
        "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
    },
    recorded_at=datetime(2026, 11, 22, 8, 0, 0, 123456, tzinfo=UTC),
    prev_hash=b"p",
    hash=b"h",
)


def test_the_body_is_the_envelope_contract_and_round_trips() -> None:
    message = to_message(EVENT, producer="aggregation")
    envelope = Envelope.model_validate(orjson.loads(message.value))  # extra="forbid": nothing unpublished
    assert (envelope.producer, envelope.correlation_id, envelope.traceparent) == (
        "aggregation",
        "c-1",
        EVENT.metadata["traceparent"],
    )
    assert message.key == EVENT.stream_id.encode()
    headers = dict(message.headers)
    assert headers["event_type"] == b"aggregation.ChildrenPacked"
    assert headers["traceparent"] == EVENT.metadata["traceparent"].encode()
    back = from_message(message.value)
    assert (back.event_id, back.payload, back.metadata, back.recorded_at) == (
        EVENT.event_id,
        EVENT.payload,
        EVENT.metadata,
        EVENT.recorded_at,
    )


@pytest.mark.parametrize("value", [b"{not json", b"[]", b'{"event_id": "nope"}', None])
def test_anything_else_is_undecodable_with_a_reason(value: bytes | None) -> None:
    with pytest.raises(UndecodableMessage, match="not a Serialtrail envelope"):
        from_message(value)
