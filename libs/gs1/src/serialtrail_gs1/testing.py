"""For the tests of a service that owns what captured EPCIS events mean (`captured_share`): what EPCIS
reporting records for a capture, written to its log exactly as it would, so every arrival order and
behaviour can be staged without it (its topic then carries them, in distributed mode, through the
relay `serve_alone` starts)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from serialtrail_contracts.epcis import (
    CaptureCommitted,
    CapturedEvent,
    CaptureFinished,
    CaptureReceived,
    DocumentFormat,
    ErrorBehaviour,
    EventsCaptured,
    Named,
    Scope,
)
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.harness import SYSTEM, Harness

from serialtrail_gs1.captured_share import SOURCE

__all__ = ["SOURCE", "UNRESTRICTED", "routed", "write_capture", "write_commit"]

CONTEXT_JSON = '["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]'
UNRESTRICTED = Scope()


def routed(index: int, event: dict[str, Any], owner: str | None) -> CapturedEvent:
    """An event as captured (a fresh hash id: each is another event), routed to `owner`."""
    event_id = f"ni:///sha-256;{uuid.uuid4().hex}{uuid.uuid4().hex}?ver=CBV2.0"
    return CapturedEvent(index=index, event_id=event_id, event_json=orjson.dumps(event).decode(), owner=owner)


async def write_capture(
    harness: Harness,
    batches: Sequence[Sequence[CapturedEvent]],
    behaviour: ErrorBehaviour,
    *,
    owner: str,
    scope: Scope = UNRESTRICTED,
    names: Named | None = None,
    prepare: bool = False,
) -> tuple[uuid.UUID, list[RecordedEvent]]:
    """A capture as EPCIS reporting records it: received on `scope`'s behalf, its events in the
    batches given (one message each), then its end naming `owner` when any event is routed."""
    capture_id = uuid.uuid4()
    count = sum(len(batch) for batch in batches)
    received = CaptureReceived(
        capture_id=capture_id,
        principal_id="key-of-the-line",
        behaviour=behaviour,
        document_format=DocumentFormat.jsonld_2_0,
        size_bytes=1000,
        sha256="0" * 64,
        events=count,
        scope=scope,
        names=names or Named(),
    )
    records: list[Any] = [received]
    records += [EventsCaptured(capture_id=capture_id, context_json=CONTEXT_JSON, events=tuple(b)) for b in batches]
    owners = (owner,) if any(e.owner for batch in batches for e in batch) else ()
    records.append(
        CaptureFinished(capture_id=capture_id, captured=count, behaviour=behaviour, owners=owners, prepare=prepare)
    )
    source = PostgresEventStore(harness.composition.app_pool, SOURCE)
    return capture_id, await source.append([append_of(_stream(capture_id), 0, records)], SYSTEM)


async def write_commit(harness: Harness, capture_id: uuid.UUID, apply: bool) -> RecordedEvent:
    """EPCIS reporting's commit of a capture whose owners checked their shares first."""
    source = PostgresEventStore(harness.composition.app_pool, SOURCE)
    stream = _stream(capture_id)
    commit = CaptureCommitted(capture_id=capture_id, apply=apply)
    [written] = await source.append([append_of(stream, await source.stream_version(stream), [commit])], SYSTEM)
    return written


def _stream(capture_id: uuid.UUID) -> str:
    return f"capture-{capture_id}"  # EPCIS reporting's stream of a capture
