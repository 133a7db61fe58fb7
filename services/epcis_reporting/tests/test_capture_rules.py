"""Capture's pure decisions: which events are captured, which refused, how they are batched."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import cast

import pytest
from epcis_reporting.application.capture import CaptureHandlers
from epcis_reporting.domain import rules
from epcis_reporting.domain.capture import BATCH_BYTES, Candidate, Earlier, batches, decide
from hypothesis import given
from hypothesis import strategies as st
from serialtrail_contracts.epcis import CapturedEvent, ErrorBehaviour
from serialtrail_contracts.identity import Principal, Role
from serialtrail_kit.errors import Violation
from serialtrail_kit.writes.model import WriteModel

BROKEN = (Violation("eventList[1].bizStep", "epcis-schema", "'shipped' is not valid"),)


def candidate(index: int, event_id: str | None = None, violations: tuple[Violation, ...] = ()) -> Candidate:
    return Candidate(index, {"type": "ObjectEvent", "n": index}, event_id or f"ni:///sha-256;{index}", violations)


def test_under_rollback_one_error_captures_nothing_and_under_proceed_the_rest() -> None:
    candidates = [candidate(0), Candidate(1, {}, None, BROKEN), candidate(2)]
    rolled_back = decide(ErrorBehaviour.rollback, candidates, {})
    assert rolled_back.captured == ()
    assert [(e.index, e.rule, e.status) for e in rolled_back.errors] == [(1, "epcis-schema", 400)]
    proceeded = decide(ErrorBehaviour.proceed, candidates, {})
    assert [c.index for c in proceeded.captured] == [0, 2]
    assert proceeded.errors == rolled_back.errors


def test_an_event_captured_before_or_earlier_in_the_document_is_a_duplicate() -> None:
    earlier = {"ni:///sha-256;0": Earlier(uuid.uuid4(), 7)}
    candidates = [candidate(0), candidate(1, "same"), candidate(2, "same")]
    outcome = decide(ErrorBehaviour.proceed, candidates, earlier)
    assert [c.index for c in outcome.captured] == [1]
    assert [(e.index, e.rule, e.status) for e in outcome.errors] == [
        (0, rules.CAPTURED_ONCE.name, 409),
        (2, rules.CAPTURED_ONCE.name, 409),
    ]
    assert "captured before" in outcome.errors[0].message
    assert "event 1 of this document" in outcome.errors[1].message


def test_a_captured_event_without_an_event_id_gets_its_hash_id() -> None:
    given_id = {"type": "ObjectEvent", "eventID": "urn:uuid:6d8d2e4a-1234-4f4f-9999-1f2e3d4c5b6a"}
    outcome = decide(
        ErrorBehaviour.rollback,
        [Candidate(0, {"type": "ObjectEvent"}, "ni:///sha-256;a", ()), Candidate(1, given_id, "ni:///sha-256;b", ())],
        {},
    )
    assert [json.loads(c.event_json).get("eventID") for c in outcome.captured] == [
        "ni:///sha-256;a",
        given_id["eventID"],
    ]


@given(st.lists(st.integers(min_value=0, max_value=3000), max_size=300))
def test_batches_keep_every_event_in_order_within_the_size(epc_counts: list[int]) -> None:
    events = [
        CapturedEvent(
            index=i, event_id=f"h{i}", event_json=json.dumps({"epcList": ["urn:epc:id:sgtin:9506000.134352.1"] * n})
        )
        for i, n in enumerate(epc_counts)
    ]
    found = list(batches(events))
    assert [e for batch in found for e in batch] == events
    for batch in found:
        assert len(batch) == 1 or sum(len(e.event_json) + 100 for e in batch) <= BATCH_BYTES


async def test_an_xml_body_that_ends_early_lets_its_reader_thread_go() -> None:
    """An aborted upload must not leave the reader waiting for the rest: a dozen of them (more than
    the worker threads there are) and a worker thread is still there for the next request."""
    handlers = CaptureHandlers(cast(WriteModel, None), max_events=10)
    principal = Principal(id="t", name="t", role=Role.admin, auth_method="test")

    async def aborted() -> AsyncIterator[bytes]:
        yield b"<epcis:EPCISDocument xmlns:epcis='urn:epcglobal:epcis:xsd:2' schemaVersion='2.0' "
        raise ConnectionResetError

    for _ in range(12):
        with pytest.raises(ConnectionResetError):
            await handlers.read_xml(aborted(), principal)
    assert await asyncio.to_thread(lambda: "a worker thread is free") == "a worker thread is free"
