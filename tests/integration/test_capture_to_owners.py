"""EPCIS capture and the services that own what captured events mean, composed: a commissioning
ObjectEvent captured is commissioned in serial issuance, by the same rules as its API's; the job
runs until serial issuance has decided, reports its refusals per event, and under rollback a
refusal leaves nothing captured, commissioned or served."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aggregation import bootstrap as aggregation
from epcis_reporting import bootstrap as epcis
from issuance_helpers import EXPIRY, GTIN, LOT, batch, commission, product, serials, site
from line_exceptions import bootstrap as line_exceptions
from serial_issuance import bootstrap as issuance
from serialtrail_contracts.identity import Role, Scope
from serialtrail_kit.declaration import Service
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import Harness, serve

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
LINE_1 = "urn:epc:id:sgln:9506000.00000.LINE-1"  # site 9506000000008's line LINE-1
CMO_SITE, CMO_LINE = "9506000000015", "urn:epc:id:sgln:9506000.00001.CMO-L1"
ACME = Scope(company_prefixes=frozenset({"9506000"}), cmos=frozenset({"ACME"}))


@pytest.fixture
async def harness(database_dsn: str) -> AsyncIterator[Harness]:
    async with serve(database_dsn, [issuance.SERVICE, epcis.SERVICE]) as served:
        await product(served.client)
        await batch(served.client)
        await site(served.client)
        yield served


def commissioning(packs: list[str], *, lot: str = LOT, read_point: str = LINE_1, **fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": moment(offset_hours=1),
        "eventTimeZoneOffset": "+01:00",
        "epcList": [f"https://id.gs1.org/01/{GTIN}/21/{serial}" for serial in packs],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": read_point},
        "ilmd": {"cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": EXPIRY},
        **fields,
    }


def shipping(packs: list[str]) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": moment(),
        "eventTimeZoneOffset": "+00:00",
        "epcList": [f"urn:epc:id:sgtin:9506000.013435.{serial}" for serial in packs],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
    }


async def capture(client: httpx.AsyncClient, *events: dict[str, Any], behaviour: str = "proceed") -> dict[str, Any]:
    """The capture job once it ended: every service its events were routed to has decided."""
    document = {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": moment(),
        "epcisBody": {"eventList": list(events)},
    }
    headers = {"Content-Type": "application/ld+json", "GS1-Capture-Error-Behaviour": behaviour}
    posted = await client.post("/v1/epcis/capture", content=json.dumps(document), headers=headers)
    assert posted.status_code == 202, posted.text
    for _ in range(300):
        job = await client.get(posted.headers["location"])
        assert job.status_code == 200, job.text
        if not job.json()["running"]:
            return dict(job.json())
        await asyncio.sleep(0.05)
    raise AssertionError(f"the capture job did not end: {job.json()}")


async def status_of(client: httpx.AsyncClient, serial: str) -> str:
    answer = await client.get(f"/v1/serials/{GTIN}/{serial}")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


async def served_events(client: httpx.AsyncClient, serial: str) -> list[dict[str, Any]]:
    answer = await client.get("/v1/epcis/events", params={"MATCH_epc": f"https://id.gs1.org/01/{GTIN}/21/{serial}"})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return found


def problems(job: dict[str, Any]) -> list[tuple[int | None, int, list[tuple[str, str]]]]:
    return [(p["eventIndex"], p["status"], [(e["field"], e["rule"]) for e in p["errors"]]) for p in job["errors"]]


async def test_a_captured_commissioning_is_recorded_by_serial_issuance(harness: Harness) -> None:
    client = harness.client
    packs = await serials(client, 3)
    job = await capture(client, commissioning(packs), shipping(packs), behaviour="rollback")

    assert (job["success"], job["captured"], job["errors"]) == (True, 2, [])
    assert [await status_of(client, s) for s in packs] == ["commissioned"] * 3
    history = (await client.get(f"/v1/serials/{GTIN}/{packs[0]}")).json()["history"]
    assert history[-1]["by"] == "reactor:serial_issuance.epcis_commissioning"
    assert [e["bizStep"] for e in await served_events(client, packs[0])] == ["commissioning", "shipping"]

    log = await PostgresEventStore(harness.composition.app_pool, "serial_issuance").read_all(0, 10_000)
    decided = [e for e in log if e.event_type == "serials.CaptureDecided"]
    assert [(d.payload["capture_id"], d.payload["applied"], d.payload["refused"]) for d in decided] == [
        (job["captureID"], 1, [])
    ]


async def test_under_rollback_a_refused_commissioning_leaves_nothing_of_the_document(harness: Harness) -> None:
    client = harness.client
    good, other = await serials(client, 2), await serials(client, 1)
    unissued = "NOTISSUED123"  # the product's format, never issued
    events = (commissioning(good), commissioning([other[0], unissued]))

    job = await capture(client, *events, behaviour="rollback")
    assert (job["success"], job["captured"]) == (False, 0)
    assert problems(job) == [(1, 422, [("eventList[1].epcList[1]", "issued-for-gtin")])]
    assert [await status_of(client, s) for s in good + other] == ["issued"] * 3
    assert await served_events(client, good[0]) == []

    # Refused events were not captured: sent again, they are new.
    again = await capture(client, events[0], behaviour="rollback")
    assert (again["success"], again["captured"]) == (True, 1)
    assert [await status_of(client, s) for s in good] == ["commissioned"] * 2


async def test_under_proceed_only_the_refused_event_is_left_out(harness: Harness) -> None:
    client = harness.client
    good, twice = await serials(client, 2), await serials(client, 1)
    assert (await commission(client, twice)).status_code == 201

    job = await capture(client, commissioning(good), commissioning(twice))
    assert (job["success"], job["captured"]) == (False, 1)
    assert problems(job) == [(1, 409, [("eventList[1].epcList[0]", "commissioned")])]
    assert [await status_of(client, s) for s in good] == ["commissioned"] * 2
    assert len(await served_events(client, good[0])) == 1
    assert await served_events(client, twice[0]) == []


async def test_an_event_names_what_serial_issuance_does_not_know_where_it_says_it(harness: Harness) -> None:
    client = harness.client
    packs = await serials(client, 3)
    unknown_line = "urn:epc:id:sgln:9506000.00000.LINE-9"
    events = (
        commissioning(packs[:1], read_point=unknown_line),
        commissioning(packs[1:2], lot="NO-SUCH-LOT"),
        commissioning(packs[2:], ilmd={}),
    )
    job = await capture(client, *events)
    assert (job["success"], job["captured"]) == (False, 0)
    assert problems(job) == [
        (0, 422, [("eventList[0].readPoint.id", "registered-line")]),
        (1, 422, [("eventList[1].ilmd.cbvmda:lotNumber", "registered-batch")]),
        (2, 422, [("eventList[2].ilmd.cbvmda:lotNumber", "captured-batch")]),
    ]
    assert [await status_of(client, s) for s in packs] == ["issued"] * 3


async def test_a_cmo_commissions_only_on_its_own_lines_into_its_own_batches(harness: Harness) -> None:
    """As if it had posted the commissioning itself: another party's line is outside its scope,
    another party's batch as good as unknown to it (its job names no other party)."""
    client = harness.client
    await site(client, CMO_SITE, cmo_id="ACME", lines=("CMO-L1",))
    await batch(client, lot="ACME-1", site_gln=CMO_SITE, cmo_id="ACME")
    own, brands = await serials(client, 2, lot="ACME-1"), await serials(client, 2)
    events = (
        commissioning(own[:1], lot="ACME-1", read_point=CMO_LINE),
        commissioning(brands[:1], read_point=LINE_1),  # the brand owner's line and batch
        commissioning(brands[1:], read_point=CMO_LINE),  # its own line, the brand owner's batch
        commissioning(own[1:], lot="NO-SUCH-LOT", read_point=LINE_1),  # another's line: whatever the batch
    )
    async with harness.client_with(await harness.token(Role.cmo, ACME)) as cmo:
        job = await capture(cmo, *events)
    assert (job["success"], job["captured"]) == (False, 1)
    assert problems(job) == [
        (1, 403, [("eventList[1].readPoint.id", "capturer-scope")]),
        (2, 422, [("eventList[2].ilmd.cbvmda:lotNumber", "registered-batch")]),
        (3, 403, [("eventList[3].readPoint.id", "capturer-scope")]),
    ]
    assert "(no cmo)" not in json.dumps(job)
    assert [await status_of(client, s) for s in own + brands] == ["commissioned", "issued", "issued", "issued"]


async def test_times_as_rfc_3339_writes_them_and_events_too_large_to_pass_on(harness: Harness) -> None:
    """From the attacker review: a lower-case z stalled every owner's decisions; a time UTC cannot
    hold answered 500; an event of 100,000 EPCs stalled the topic behind it."""
    client = harness.client
    packs = await serials(client, 2)
    lower = commissioning(packs[:1], eventTime=moment(minutes=-1).replace("+00:00", "z").replace("T", "t"))
    job = await capture(client, lower)
    assert (job["success"], job["captured"]) == (True, 1), job
    assert await status_of(client, packs[0]) == "commissioned"

    huge = commissioning([f"H{n:011d}" for n in range(12_000)])
    ancient = commissioning(packs[1:], eventTime="0001-01-01T00:00:00+01:00", eventTimeZoneOffset="+01:00")
    job = await capture(client, huge, ancient)
    assert problems(job) == [
        (0, 400, [("eventList[0]", "event-size")]),
        (1, 400, [("eventList[1].eventTime", "event-time")]),
    ]


async def test_an_ilmd_that_says_two_things_is_refused(harness: Harness) -> None:
    client = harness.client
    packs = await serials(client, 2)
    garbage = commissioning(packs[:1], ilmd={"cbvmda:lotNumber": LOT, "cbvmda:itemExpirationDate": f"{EXPIRY}garbage"})
    twice = commissioning(packs[1:], ilmd={"cbvmda:lotNumber": LOT, "urn:epcglobal:cbv:mda:lotNumber": "ACME-1"})
    job = await capture(client, garbage, twice)
    assert problems(job) == [
        (0, 422, [("eventList[0].ilmd.cbvmda:itemExpirationDate", "captured-batch")]),
        (1, 422, [("eventList[1].ilmd.cbvmda:lotNumber", "captured-batch")]),
    ]


@pytest.fixture
async def owners(database_dsn: str) -> AsyncIterator[Harness]:
    """Both owners of a line's EPCIS: serial issuance (commissioning) and aggregation (packing)."""
    async with serve(database_dsn, [issuance.SERVICE, aggregation.SERVICE, epcis.SERVICE]) as served:
        await product(served.client)
        await batch(served.client)
        await site(served.client)
        yield served


async def new_case(harness: Harness) -> str:
    made = await harness.client.post(
        "/v1/sscc-requests", json={"company_prefix": "9506000", "extension_digit": 0, "quantity": 1}
    )
    assert made.status_code == 201, made.text
    listed = await harness.client.get(f"/v1/sscc-requests/{made.json()['request_id']}/ssccs")
    return f"https://id.gs1.org/00/{listed.text.split()[0]}"


def packing(case: str, packs: list[str], *, read_point: str = LINE_1) -> dict[str, Any]:
    return {
        "type": "AggregationEvent",
        "eventTime": moment(),
        "eventTimeZoneOffset": "+00:00",
        "parentID": case,
        "childEPCs": [f"https://id.gs1.org/01/{GTIN}/21/{serial}" for serial in packs],
        "action": "ADD",
        "bizStep": "packing",
        "readPoint": {"id": read_point},
    }


async def packed_in(harness: Harness, case: str) -> list[str] | None:
    await harness.runner("aggregation", "hierarchy").caught_up(timeout=30)
    answer = await harness.client.get(f"/v1/hierarchy/{case}")
    return None if answer.status_code == 404 else sorted(c["id"] for c in answer.json()["children"])


async def test_a_line_document_is_commissioned_and_packed_by_both_owners_or_by_neither(owners: Harness) -> None:
    """Commissioning and packing in one document under rollback: serial issuance and aggregation each
    check their share first; the capture is committed only when neither refused anything."""
    client = owners.client
    await owners.runner("aggregation", "knowledge").caught_up(timeout=30)
    packs, case = await serials(client, 3), await new_case(owners)
    job = await capture(client, commissioning(packs), packing(case, packs), behaviour="rollback")
    assert (job["success"], job["captured"], job["errors"]) == (True, 2, [])
    assert [await status_of(client, s) for s in packs] == ["commissioned"] * 3
    assert await packed_in(owners, case) == [f"https://id.gs1.org/01/{GTIN}/21/{s}" for s in sorted(packs)]

    more, other_case = await serials(client, 2), await new_case(owners)
    unknown_line = "urn:epc:id:sgln:9506000.00000.LINE-9"
    job = await capture(
        client, commissioning(more), packing(other_case, more, read_point=unknown_line), behaviour="rollback"
    )
    assert (job["success"], job["captured"]) == (False, 0)
    assert [(p["eventIndex"], p["status"]) for p in job["errors"]] == [(1, 422)]
    assert [await status_of(client, s) for s in more] == ["issued"] * 2  # checked, never recorded
    assert await packed_in(owners, other_case) is None

    job = await capture(client, commissioning([*more, "NOTISSUED123"]), packing(other_case, more), behaviour="rollback")
    assert (job["success"], job["captured"]) == (False, 0)
    assert problems(job) == [(0, 422, [("eventList[0].epcList[2]", "issued-for-gtin")])]
    assert await packed_in(owners, other_case) is None
    assert await served_events(client, more[0]) == []


async def test_a_captured_decommissioning_is_an_exception_record_and_the_serial_is_out(database_dsn: str) -> None:
    """A damaged pack decommissioned through EPCIS: line exceptions records the exception (the pack
    out of the supply chain), serial issuance shows the serial decommissioned; one the exception
    vocabulary has no record for is refused where the event says it."""
    services: list[Service[Any]] = [issuance.SERVICE, line_exceptions.SERVICE, epcis.SERVICE]
    async with serve(database_dsn, services) as harness:
        client = harness.client
        await product(client)
        await batch(client)
        await site(client)
        packs = await serials(client, 2)
        assert (await commission(client, packs)).status_code == 201
        await harness.runner("line_exceptions", "knowledge").caught_up(timeout=30)
        damaged = {**shipping(packs[:1]), "action": "DELETE", "bizStep": "decommissioning", "disposition": "damaged"}
        damaged["readPoint"] = {"id": LINE_1}
        recalled = {**damaged, "epcList": shipping(packs[1:])["epcList"], "disposition": "recalled"}
        job = await capture(client, damaged, recalled)
        assert (job["success"], job["captured"]) == (False, 1)
        assert [(p["eventIndex"], p["status"], p["errors"][0]["field"]) for p in job["errors"]] == [
            (1, 422, "eventList[1].disposition")
        ]
        await harness.runner("line_exceptions", "records").caught_up(timeout=30)
        records = (await client.get("/v1/exceptions", params={"gtin": GTIN})).json()["exceptions"]
        assert [(r["exception_type"], r["state"]) for r in records] == [("damaged", "open")]
        for _ in range(100):  # serial issuance learns of it from line exceptions' topic
            if await status_of(client, packs[0]) == "decommissioned":
                break
            await asyncio.sleep(0.05)
        assert [await status_of(client, s) for s in packs] == ["decommissioned", "commissioned"]
