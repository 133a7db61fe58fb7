"""Log rows ↔ Kafka messages: key = stream id (one stream stays in one partition), body =
the contract envelope as JSON (with the payload), headers = the envelope's routing fields
so a consumer can route, trace and dead-letter without parsing the body."""

from __future__ import annotations

from typing import NamedTuple
from uuid import UUID

import orjson
from serialtrail_contracts.envelope import Envelope

from serialtrail_kit.db import Connection, ident
from serialtrail_kit.eventstore.model import RecordedEvent

HEADER_FIELDS = ("event_id", "event_type", "event_version", "producer", "correlation_id", "traceparent")


class UndecodableMessage(ValueError):
    """A message that is not a valid envelope: it goes to the dead-letter topic, with this reason."""


class OutgoingRow(NamedTuple):  # a tuple: a relay batch makes thousands
    global_position: int
    stream_id: str
    body: bytes
    headers: tuple[str | None, ...]  # in HEADER_FIELDS order


def _outgoing_sql(schema: str) -> str:
    """Rows as messages, built by PostgreSQL: the envelope JSON straight from the stored jsonb,
    as UTF-8 bytes, with no decode and re-encode per event. Events go out as stored; consumers upcast."""
    return f"""
        SELECT global_position, stream_id,
            convert_to(jsonb_build_object(
                'event_id', event_id, 'event_type', event_type, 'event_version', event_version,
                'stream_id', stream_id, 'stream_version', stream_version, 'global_position', global_position,
                'producer', $3::text, 'occurred_at', recorded_at, 'recorded_at', recorded_at,
                'correlation_id', coalesce(metadata->>'correlation_id', event_id::text),
                'causation_id', metadata->>'causation_id', 'traceparent', metadata->>'traceparent',
                'payload', payload, 'metadata', metadata)::text, 'UTF8'),
            event_id::text, event_type, event_version::text, $3::text,
            coalesce(metadata->>'correlation_id', event_id::text), metadata->>'traceparent'
        FROM {schema}.events WHERE global_position > $1 ORDER BY global_position LIMIT $2
    """


async def read_outgoing(conn: Connection, schema: str, after: int, limit: int) -> list[OutgoingRow]:
    """The messages for the events after `after` in a service's log (its producer name is the
    schema's), in log order."""
    rows = await conn.fetch(_outgoing_sql(ident(schema)), after, limit, schema)
    return [OutgoingRow(r[0], r[1], r[2], r[3:]) for r in rows]


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
