"""Messages the relay reads from a log are the published `Envelope` contract, and decode back
to the event as the log recorded it."""

from __future__ import annotations

import orjson
import pytest
from serialtrail_contracts.envelope import Envelope
from serialtrail_kit.db import APP_ROLE, create_pool
from serialtrail_kit.eventstore.metadata import local_metadata
from serialtrail_kit.eventstore.model import NewEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.transport.envelope import HEADER_FIELDS, UndecodableMessage, from_message, read_outgoing

TRACEPARENT = f"00-{'1' * 32}-{'2' * 16}-01"


async def test_the_body_is_the_envelope_contract_and_round_trips(database_dsn: str) -> None:
    admin = await create_pool(database_dsn)
    async with admin.acquire() as conn:
        await install_log(conn, "producer_svc")
    pool = await create_pool(database_dsn, role=APP_ROLE)
    try:
        meta = local_metadata(
            principal_id="key:1", role="admin", auth_method="api-key", software_version="t", config_digest="d"
        )
        meta = meta.model_copy(update={"correlation_id": "c-1", "traceparent": TRACEPARENT})
        event = NewEvent(event_type="aggregation.ChildrenPacked", event_version=1, payload={"child_ids": ["a", "b"]})
        append = StreamAppend(stream_id="parent-x", expected_version=0, events=(event,))
        (recorded,) = await PostgresEventStore(pool, "producer_svc").append([append], meta)
        async with pool.acquire() as conn:
            (row,) = await read_outgoing(conn, "producer_svc", 0, 10)
    finally:
        await pool.close()
        await admin.close()
    envelope = Envelope.model_validate(orjson.loads(row.body))  # extra="forbid": nothing unpublished
    assert (envelope.producer, envelope.correlation_id, envelope.traceparent) == ("producer_svc", "c-1", TRACEPARENT)
    headers = dict(zip(HEADER_FIELDS, row.headers, strict=True))
    assert headers["event_type"] == "aggregation.ChildrenPacked"
    assert headers["traceparent"] == TRACEPARENT
    assert (row.stream_id, row.global_position) == ("parent-x", recorded.global_position)
    back = from_message(row.body)
    assert (back.event_id, back.payload, back.metadata, back.recorded_at) == (
        recorded.event_id,
        recorded.payload,
        recorded.metadata,
        recorded.recorded_at,
    )


@pytest.mark.parametrize("value", [b"{not json", b"[]", b'{"event_id": "nope"}', None])
def test_anything_else_is_undecodable_with_a_reason(value: bytes | None) -> None:
    with pytest.raises(UndecodableMessage, match="not a Serialtrail envelope"):
        from_message(value)
