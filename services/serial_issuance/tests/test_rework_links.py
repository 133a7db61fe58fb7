"""What line exceptions records about serials, seen from serial issuance, on both transports
(line exceptions' log read directly, and its topic through the relay). A rework is reacted to:
serial issuance records the replacement on its own log (`SerialReplaced`, caused by the line
exceptions event), once, and each serial's history names the other. Decommissions and their
undos are kept in the serial's history."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from issuance_helpers import GTIN, LOT, batch, commission, product, serials, site
from serial_issuance import bootstrap
from serialtrail_contracts.exception_vocabulary import VOCABULARY
from serialtrail_contracts.exceptions import (
    DecommissionReason,
    DecommissionUndone,
    ExceptionRecorded,
    ExceptionType,
    SerialsDecommissioned,
)
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.harness import SYSTEM, Harness
from serialtrail_kit.testing.kafka import serve_alone

SOURCE = "line_exceptions"


@pytest.fixture(params=["embedded", "kafka"])
async def issuance(request: pytest.FixtureRequest, database_dsn: str) -> AsyncIterator[Harness]:
    servers = request.getfixturevalue("kafka_bootstrap") if request.param == "kafka" else ""
    async with serve_alone(request.param, database_dsn, bootstrap.SERVICE, (SOURCE,), servers) as harness:
        yield harness


def reworked(old: str, new: str) -> tuple[ExceptionRecorded, SerialsDecommissioned]:
    """What line exceptions records for a rework: the record, and the old serial taken out."""
    at = datetime.now(UTC)
    record = ExceptionRecorded(
        exception_id=uuid.uuid4(),
        exception_type=ExceptionType.rework,
        gtin=GTIN,
        lot=LOT,
        serials=(old,),
        replacement_serial=new,
        line_id="LINE-1",
        read_point="urn:epc:id:sgln:9506000.00000.LINE-1",
        biz_location="urn:epc:id:sgln:9506000.00000.0",
        site_gln="9506000000008",
        event_time=at,
        description="label smudged, relabelled",
        observed_by="line operator",
    )
    reason = VOCABULARY[ExceptionType.rework].decommission
    assert reason is not None  # rework takes the old serial out
    taken = SerialsDecommissioned(
        exception_id=record.exception_id, gtin=GTIN, serials=(old,), reason=reason, line_id="LINE-1", event_time=at
    )
    return record, taken


async def replacements_recorded(harness: Harness) -> list[RecordedEvent]:
    events = await PostgresEventStore(harness.composition.app_pool, "serial_issuance").read_all(0, 10_000)
    return [e for e in events if e.event_type == "serials.SerialReplaced"]


async def history_of(harness: Harness, serial: str) -> dict[str, Any]:
    answer = await harness.client.get(f"/v1/serials/{GTIN}/{serial}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_rework_links_both_serials_in_their_own_histories(issuance: Harness) -> None:
    client = issuance.client
    await product(client)
    await batch(client)
    await site(client)
    old, new, untouched = await serials(client, 3)
    assert (await commission(client, [old, new, untouched])).status_code == 201

    record, taken = reworked(old, new)
    source = PostgresEventStore(issuance.composition.app_pool, SOURCE)
    [cause, _] = await source.append([append_of(f"exception-{record.exception_id}", 0, [record, taken])], SYSTEM)
    for runner in ("reactor_rework", "serial_status", "decommissions"):
        await issuance.runner("serial_issuance", runner).caught_up(timeout=30)

    [replaced] = await replacements_recorded(issuance)
    assert (replaced.payload["serial"], replaced.payload["replacement_serial"]) == (old, new)
    assert replaced.metadata["causation_id"] == str(cause.event_id)  # traceable to the rework record
    assert replaced.metadata["principal_id"] == "reactor:serial_issuance.rework"

    was = await history_of(issuance, old)
    assert was["status"] == "decommissioned"
    assert [e["event"] for e in was["history"]] == ["issued", "commissioned", "decommissioned", "replaced"]
    assert (was["history"][-1]["serial"], was["history"][-1]["exception_id"]) == (new, str(record.exception_id))
    now = await history_of(issuance, new)
    assert now["status"] == "commissioned"
    assert [e["event"] for e in now["history"]] == ["issued", "commissioned", "replaces"]
    assert now["history"][-1]["serial"] == old
    assert [e["event"] for e in (await history_of(issuance, untouched))["history"]] == ["issued", "commissioned"]


async def test_only_a_rework_is_reacted_to(issuance: Harness) -> None:
    client = issuance.client
    await product(client)
    await batch(client)
    await site(client)
    old, new = await serials(client, 2)
    assert (await commission(client, [old, new])).status_code == 201
    record, taken = reworked(old, new)
    damaged = record.model_copy(
        update={"exception_id": uuid.uuid4(), "exception_type": ExceptionType.damaged, "replacement_serial": None}
    )
    source = PostgresEventStore(issuance.composition.app_pool, SOURCE)
    await source.append([append_of(f"exception-{damaged.exception_id}", 0, [damaged])], SYSTEM)
    await source.append([append_of(f"exception-{record.exception_id}", 0, [record, taken])], SYSTEM)
    await issuance.runner("serial_issuance", "reactor_rework").caught_up(timeout=30)
    assert len(await replacements_recorded(issuance)) == 1


async def test_an_undone_decommission_stays_in_the_serials_history(issuance: Harness) -> None:
    """New-user finding: after an undo the serial's history had lost both the decommission and
    the undo. Both are kept; the status follows the last of them."""
    client = issuance.client
    await product(client)
    await batch(client)
    await site(client)
    [serial] = await serials(client, 1)
    assert (await commission(client, [serial])).status_code == 201
    first = SerialsDecommissioned(
        exception_id=uuid.uuid4(),
        gtin=GTIN,
        serials=(serial,),
        reason=DecommissionReason.damaged,
        event_time=datetime.now(UTC),
    )
    undone = DecommissionUndone(
        exception_id=first.exception_id,
        gtin=GTIN,
        serials=(serial,),
        reason="re-inspected: intact",
        line_id="LINE-1",
        event_time=datetime.now(UTC),
    )
    again = first.model_copy(update={"exception_id": uuid.uuid4(), "reason": DecommissionReason.stolen})
    source = PostgresEventStore(issuance.composition.app_pool, SOURCE)
    for stream, events in (("first", [first, undone]), ("again", [again])):
        await source.append([append_of(f"exception-{stream}", 0, events)], SYSTEM)
        await issuance.runner("serial_issuance", "decommissions").caught_up(timeout=30)
        told = await history_of(issuance, serial)
        if stream == "first":
            assert told["status"] == "commissioned"
            assert [e["event"] for e in told["history"]][-2:] == ["decommissioned", "decommission-undone"]
            assert told["history"][-1]["reason"] == "re-inspected: intact"
    assert told["status"] == "decommissioned"
    assert [(e["event"], e.get("reason")) for e in told["history"][2:]] == [
        ("decommissioned", "damaged"),
        ("decommission-undone", "re-inspected: intact"),
        ("decommissioned", "stolen"),
    ]
