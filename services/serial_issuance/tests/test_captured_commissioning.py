"""EPCIS captures seen from serial issuance, on both transports (EPCIS reporting's log read
directly, and its topic through the relay): the commissioning events routed here arrive in
several messages and are decided at once when the capture ends, under rollback all or none;
each decision is recorded once, with the capture's id, however often it is delivered."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from issuance_helpers import EXPIRY, GTIN, LOT, batch, product, serials, site
from serial_issuance import bootstrap
from serialtrail_contracts.epcis import CapturedEvent, ErrorBehaviour, Named, Scope
from serialtrail_gs1 import testing as capture_log
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import Harness
from serialtrail_kit.testing.kafka import serve_alone

OWNER, REACTOR = "serial_issuance", "reactor_epcis_commissioning"


@pytest.fixture(params=["embedded", "kafka"])
async def issuance(request: pytest.FixtureRequest, database_dsn: str) -> AsyncIterator[Harness]:
    servers = request.getfixturevalue("kafka_bootstrap") if request.param == "kafka" else ""
    async with serve_alone(request.param, database_dsn, bootstrap.SERVICE, (capture_log.SOURCE,), servers) as harness:
        await product(harness.client)
        await batch(harness.client)
        await site(harness.client)
        yield harness


def routed(index: int, packs: list[str], owner: str | None = "serial_issuance") -> CapturedEvent:
    event = {
        "type": "ObjectEvent",
        "eventTime": moment(),
        "eventTimeZoneOffset": "+00:00",
        "epcList": [f"urn:epc:id:sgtin:9506000.013435.{serial}" for serial in packs],
        "action": "ADD",
        "bizStep": "commissioning",
        "readPoint": {"id": "urn:epc:id:sgln:9506000.00000.LINE-1"},
        "ilmd": {"cbvmda:lotNumber": LOT, "cbvmda:itemExpirationDate": EXPIRY},
    }
    return capture_log.routed(index, event, owner)


async def captured(
    harness: Harness,
    batches: list[list[CapturedEvent]],
    behaviour: ErrorBehaviour,
    scope: Scope = capture_log.UNRESTRICTED,
    *,
    prepare: bool = False,
) -> tuple[uuid.UUID, list[RecordedEvent]]:
    """What EPCIS reporting records for a capture, written to its log, then reacted to here."""
    names = Named(gtins=(GTIN,))
    written = await capture_log.write_capture(
        harness, batches, behaviour, owner=OWNER, scope=scope, names=names, prepare=prepare
    )
    await harness.runner(OWNER, REACTOR).caught_up(timeout=30)
    return written


async def decisions(harness: Harness) -> list[RecordedEvent]:
    events = await PostgresEventStore(harness.composition.app_pool, "serial_issuance").read_all(0, 10_000)
    return [e for e in events if e.event_type == "serials.CaptureDecided"]


async def status_of(harness: Harness, serial: str) -> str:
    answer = await harness.client.get(f"/v1/serials/{GTIN}/{serial}")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


async def test_the_commissionings_of_every_message_are_decided_when_the_capture_ends(issuance: Harness) -> None:
    first, second = await serials(issuance.client, 2), await serials(issuance.client, 1)
    shipped = routed(1, first, owner=None)  # an event EPCIS reporting keeps for itself: not this service's
    batches = [[routed(0, first), shipped], [routed(2, second)]]
    capture_id, written = await captured(issuance, batches, ErrorBehaviour.rollback)
    await issuance.runner("serial_issuance", "serial_status").caught_up(timeout=30)

    [decided] = await decisions(issuance)
    assert decided.payload == {
        "capture_id": str(capture_id),
        "owner": "serial_issuance",
        "applied": 2,
        "refused_count": 0,
        "refused": [],
        "rolled_back": False,
        "last": True,
        "prepared": False,
    }
    assert decided.metadata["causation_id"] == str(written[-1].event_id)  # the capture's end
    assert [await status_of(issuance, s) for s in first + second] == ["commissioned"] * 3
    log = await PostgresEventStore(issuance.composition.app_pool, "serial_issuance").read_all(0, 10_000)
    commissioned = [e for e in log if e.event_type == "serials.SerialsCommissioned"]
    assert len(commissioned) == 2
    assert len({e.recorded_at for e in commissioned}) == 1  # none refused: recorded together, in one append


async def test_under_rollback_a_refusal_in_a_later_message_undoes_an_earlier_ones(issuance: Harness) -> None:
    first, second = await serials(issuance.client, 2), await serials(issuance.client, 1)
    batches = [[routed(0, first)], [routed(1, [*second, "NOTISSUED123"])]]
    await captured(issuance, batches, ErrorBehaviour.rollback)

    [decided] = await decisions(issuance)
    counts = (decided.payload["applied"], decided.payload["refused_count"], decided.payload["rolled_back"])
    assert counts == (0, 1, True)
    assert [(e["index"], e["field"], e["rule"], e["status"]) for e in decided.payload["refused"]] == [
        (1, "eventList[1].epcList[1]", "issued-for-gtin", 422)
    ]
    assert [await status_of(issuance, s) for s in first + second] == ["issued"] * 3


async def test_under_proceed_each_event_stands_alone(issuance: Harness) -> None:
    first, second = await serials(issuance.client, 2), await serials(issuance.client, 1)
    await captured(issuance, [[routed(0, first)], [routed(1, [*second, "NOTISSUED123"])]], ErrorBehaviour.proceed)

    [decided] = await decisions(issuance)
    counts = (decided.payload["applied"], decided.payload["refused_count"], decided.payload["rolled_back"])
    assert counts == (1, 1, False)
    assert [await status_of(issuance, s) for s in first + second] == ["commissioned", "commissioned", "issued"]


async def test_a_capture_with_nothing_routed_here_is_not_answered(issuance: Harness) -> None:
    packs = await serials(issuance.client, 1)
    await captured(issuance, [[routed(0, packs, owner=None)]], ErrorBehaviour.rollback)
    assert await decisions(issuance) == []
    assert await status_of(issuance, packs[0]) == "issued"


async def test_a_capture_is_decided_within_its_senders_scope(issuance: Harness) -> None:
    """The sender's scope as recorded with the capture, the same check as its own request's."""
    packs = await serials(issuance.client, 1)
    other_line = Scope(company_prefixes=("9506000",), lines=("LINE-2",))
    await captured(issuance, [[routed(0, packs)]], ErrorBehaviour.rollback, other_line)
    [decided] = await decisions(issuance)
    assert [(e["field"], e["rule"], e["status"]) for e in decided.payload["refused"]] == [
        ("eventList[0].readPoint.id", "capturer-scope", 403)
    ]
    assert await status_of(issuance, packs[0]) == "issued"


async def test_many_refusals_take_several_records_each_within_bounds(issuance: Harness) -> None:
    """12 events of 100 serials never issued, one of 150: 1,301 errors listed in records of at most
    1,000 (an event's never split), the 150's last 50 counted in one more error of their own."""
    refused = [routed(n, [f"NX{n:02d}{k:08d}" for k in range(100)]) for n in range(12)]
    refused.append(routed(12, [f"NY{k:010d}" for k in range(150)]))
    await captured(issuance, [refused[:7], refused[7:]], ErrorBehaviour.proceed)

    records = [d.payload for d in await decisions(issuance)]
    assert [(r["last"], r["refused_count"], len(r["refused"])) for r in records] == [(False, 10, 1000), (True, 3, 301)]
    assert {e["index"] for r in records for e in r["refused"]} == set(range(13))
    last = records[-1]["refused"][-1]
    assert (last["index"], last["rule"], last["message"]) == (
        12,
        "commissioned-as-captured",
        "50 more problem(s) with this event, not listed",
    )


async def committed(harness: Harness, capture_id: uuid.UUID, apply: bool) -> None:
    await capture_log.write_commit(harness, capture_id, apply)
    await harness.runner(OWNER, REACTOR).caught_up(timeout=30)


@pytest.mark.parametrize("apply", [True, False])
async def test_a_share_checked_first_is_recorded_only_when_the_capture_is_committed(
    issuance: Harness, apply: bool
) -> None:
    """Several owners under rollback: each checks its share (nothing recorded, a `prepared` answer),
    and records it when EPCIS reporting commits the capture; not at all when another owner refused."""
    packs = await serials(issuance.client, 3)
    capture_id, _ = await captured(
        issuance, [[routed(0, packs[:2]), routed(1, packs[2:])]], ErrorBehaviour.rollback, prepare=True
    )
    [checked] = [d.payload for d in await decisions(issuance)]
    assert (checked["prepared"], checked["applied"], checked["refused"]) == (True, 2, [])
    assert [await status_of(issuance, s) for s in packs] == ["issued"] * 3

    await committed(issuance, capture_id, apply)
    await issuance.runner("serial_issuance", "serial_status").caught_up(timeout=30)
    [_, final] = [d.payload for d in await decisions(issuance)]
    assert (final["prepared"], final["applied"], final["rolled_back"]) == (False, 2 if apply else 0, not apply)
    assert [await status_of(issuance, s) for s in packs] == ["commissioned" if apply else "issued"] * 3


async def test_a_refusal_found_in_the_check_is_reported_then_and_nothing_is_recorded(issuance: Harness) -> None:
    packs = await serials(issuance.client, 1)
    events = [[routed(0, packs), routed(1, ["NOTISSUED123"])]]
    capture_id, _ = await captured(issuance, events, ErrorBehaviour.rollback, prepare=True)
    [checked] = [d.payload for d in await decisions(issuance)]
    assert (checked["prepared"], checked["applied"], checked["rolled_back"]) == (True, 0, True)
    assert [(e["index"], e["rule"]) for e in checked["refused"]] == [(1, "issued-for-gtin")]
    await committed(issuance, capture_id, apply=False)
    assert await status_of(issuance, packs[0]) == "issued"
