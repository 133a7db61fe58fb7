"""Every event the services record renders as schema-valid EPCIS 2.0 with its read point and
business location: a line's day (commissioning on two lines, raw scans packed, a pallet
formed, a case unpacked and closed) is recorded through the API, read back from the logs
(upcast as every reader reads them) and validated against the official JSON Schema (the
unedited copy in `standards/epcis/`, checked against `../shared/standards/epcis/`), with
format checking (URIs, date-times) switched on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aggregation_helpers import once_line_known
from issuance_helpers import GTIN, LOT, batch, product, serials, site
from serialtrail.services import BY_NAME, SERVICES
from serialtrail_contracts.base import EventContract
from serialtrail_contracts.exceptions import ExceptionRecorded
from serialtrail_contracts.serials import SerialsCommissioned
from serialtrail_gs1 import epcis
from serialtrail_kit.eventstore import codec
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import Harness, serve

ROOT = Path(__file__).resolve().parents[2]
STANDARDS = ROOT / "libs" / "gs1" / "src" / "serialtrail_gs1" / "standards" / "epcis"
SHARED = ROOT.parent / "shared" / "standards" / "epcis"
GS = "\x1d"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((STANDARDS / "EPCIS-JSON-Schema.json").read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def _problems(validator: jsonschema.Draft7Validator, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


async def _a_line_day(harness: Harness) -> None:
    client = harness.client
    await product(client)
    await batch(client)
    await site(client, lines=("LINE-1", "LINE-2"))
    issued = await serials(client, 8)
    body = {"gtin": GTIN, "lot": LOT, "line_id": "LINE-1", "event_time": moment(offset_hours=1)}
    assert (await client.post("/v1/commissioning", json={**body, "serials": issued[:5]})).status_code == 201
    by_sgln = {**body, "line_id": "urn:epc:id:sgln:9506000.00000.LINE-2", "event_time": moment(offset_hours=-5)}
    assert (await client.post("/v1/commissioning", json={**by_sgln, "serials": issued[5:6]})).status_code == 201
    ssccs = (
        await client.post("/v1/sscc-requests", json={"company_prefix": "9506000", "extension_digit": 0, "quantity": 3})
    ).json()
    case, case_2, pallet = (await client.get(ssccs["ssccs_url"])).text.split()
    await harness.runner("aggregation", "knowledge").caught_up(timeout=30)
    scanned = [f"]d201{GTIN}21{s}{GS}10{LOT}{GS}17280630" for s in issued[:3]]  # as the camera read them
    pack = {"parent": case, "packaging_level": "case", "children": scanned, "line_id": "LINE-1"}
    answer = await once_line_known(client, "/v1/pack", {**pack, "event_time": moment(minutes=1, offset_hours=1)})
    assert answer.status_code == 201, answer.text
    packings = {
        "packs": [
            {"parent": case_2, "packaging_level": "case", "children": [f"(01){GTIN}(21){s}" for s in issued[3:6]]},
            {"parent": pallet, "packaging_level": "pallet", "children": [case, case_2]},
        ],
        "line_id": "urn:epc:id:sgln:9506000.00000.LINE-2",
        "event_time": moment(minutes=1, offset_hours=-5),
    }
    assert (await client.post("/v1/packings", json=packings)).status_code == 201
    unpack = {"parent": case_2, "children": [f"(01){GTIN}(21){issued[5]}"], "reason": "damaged", "line_id": "LINE-2"}
    assert (await client.post("/v1/unpack", json={**unpack, "event_time": moment(minutes=2)})).status_code == 200
    assert (await client.post(f"/v1/close/{case}", json={"expected_count": 3, "line_id": "LINE-1"})).status_code == 200
    assert (await client.post(f"/v1/close/{case_2}", json={})).status_code == 200  # on the line it was formed on
    await harness.runner("line_exceptions", "knowledge").caught_up(timeout=30)
    record: dict[str, Any] = {"batch": {"gtin": GTIN, "lot": LOT}, "description": "seen", "observed_by": "operator"}
    for kind, serial, line in (("damaged", issued[0], "LINE-1"), ("unreadable", issued[4], "LINE-2")):
        at = moment(minutes=3, offset_hours=2)
        units = [f"(01){GTIN}(21){serial}"]
        exception = {**record, "type": kind, "units": units, "line_id": line, "event_time": at}
        answer = await client.post("/v1/exceptions", json=exception)
        assert answer.status_code == 201, answer.text


async def _recorded(harness: Harness) -> list[tuple[EventContract, datetime]]:
    """Every event of the line services' logs, decoded as their readers decode them (upcast)."""
    found = []
    for name in ("serial_issuance", "aggregation", "line_exceptions"):
        service = BY_NAME[name]
        store = PostgresEventStore(harness.composition.app_pool, name, service.upcasters)
        for recorded in await store.read_all(0, 100_000):
            decoded = codec.decode(service.events, recorded)
            if decoded is not None:  # the access audit and signatures: recorded by every service
                found.append((decoded, recorded.recorded_at))
    return found


@pytest.fixture(scope="module")
async def recorded(module_database_dsn: str) -> list[tuple[EventContract, datetime]]:
    async with serve(module_database_dsn, SERVICES) as harness:
        await _a_line_day(harness)
        return await _recorded(harness)


def _rendered(recorded: list[tuple[EventContract, datetime]]) -> Iterator[tuple[EventContract, dict[str, Any]]]:
    for event, at in recorded:
        if (rendered := epcis.event(event, at)) is not None:
            yield event, rendered


def test_the_schema_is_the_official_one_unedited() -> None:
    copy = (STANDARDS / "EPCIS-JSON-Schema.json").read_bytes()
    assert json.loads(copy)["$schema"] == "http://json-schema.org/draft-07/schema#"
    if SHARED.exists():  # beside the project's shared standards folder: byte for byte the same
        assert copy == (SHARED / "EPCIS-JSON-Schema.json").read_bytes()


def test_every_event_type_the_services_record_is_decided_for_epcis() -> None:
    """A new event type must be mapped to an EPCIS event, or named as master data or bookkeeping."""
    decided = epcis.EVENTS | epcis.NOT_EVENTS | epcis.MASTER_DATA
    supply_chain = [m for s in SERVICES if s.name != "identity" for m in s.events.values()]
    assert supply_chain
    assert [m.__name__ for m in supply_chain if m not in decided] == []


async def test_a_line_days_events_render_as_one_valid_epcis_document(
    recorded: list[tuple[EventContract, datetime]], validator: jsonschema.Draft7Validator
) -> None:
    pairs = list(_rendered(recorded))
    kinds = {type(event).__name__ for event, _ in pairs}
    assert kinds == {"SerialsCommissioned", "ChildrenPacked", "ChildrenUnpacked", "ParentClosed", "ExceptionRecorded"}
    rendered = [r for _, r in pairs]
    registered = [event for event, _ in recorded if type(event) in epcis.MASTER_DATA]
    document = epcis.document(rendered, epcis.master_data(registered), datetime.now(UTC))
    assert _problems(validator, document) == []
    for event in rendered:
        assert _problems(validator, epcis.standalone(event)) == [], event
        assert event["readPoint"]["id"].startswith("urn:epc:id:sgln:9506000.00000.LINE-")
        assert event["bizLocation"]["id"] == "urn:epc:id:sgln:9506000.00000.0"
    vocabularies = document["epcisHeader"]["epcisMasterData"]["vocabularyList"]
    read_points = {e["id"] for v in vocabularies for e in v["vocabularyElementList"] if v["type"].endswith("ReadPoint")}
    assert {e["readPoint"]["id"] for e in rendered} <= read_points


async def test_times_keep_the_offset_the_line_sent(recorded: list[tuple[EventContract, datetime]]) -> None:
    commissioned = [r for e, r in _rendered(recorded) if isinstance(e, SerialsCommissioned)]
    found = sorted((r["eventTimeZoneOffset"], r["eventTime"][-6:], r["readPoint"]["id"][-6:]) for r in commissioned)
    assert found == [("+01:00", "+01:00", "LINE-1"), ("-05:00", "-05:00", "LINE-2")]
    closes = {
        r["disposition"] for e, r in _rendered(recorded) if r["action"] == "OBSERVE" and r["bizStep"] == "packing"
    }
    assert closes == {"completeness_verified", "completeness_inferred"}


async def test_exception_records_are_object_events_in_the_reason_vocabulary(
    recorded: list[tuple[EventContract, datetime]],
) -> None:
    found = sorted(
        (r["action"], r["bizStep"], r["disposition"], r["eventTimeZoneOffset"])
        for e, r in _rendered(recorded)
        if isinstance(e, ExceptionRecorded)
    )
    assert found == [
        ("DELETE", "decommissioning", "damaged", "+02:00"),
        ("OBSERVE", "inspecting", "in_progress", "+02:00"),
    ]


def test_events_recorded_before_locations_render_valid_too(validator: jsonschema.Draft7Validator) -> None:
    stored = {
        "commissioning_id": "8f7c1e3a-4b2d-4c5e-9f60-1a2b3c4d5e6f",
        "gtin": GTIN,
        "lot": LOT,
        "expiry": "2028-06-30",
        "line_id": "Line 4 (old)",
        "event_time": "2026-11-22T08:00:00+01:00",
        "serials": ["A1"],
    }
    _, payload = BY_NAME["aggregation"].upcasters.upcast(SerialsCommissioned.EVENT_TYPE, 1, stored)
    rendered = epcis.event(SerialsCommissioned.model_validate(payload))
    assert rendered is not None
    assert rendered["readPoint"]["id"] == "urn:serialtrail:unregistered-line:Line%204%20%28old%29"
    assert _problems(validator, epcis.standalone(rendered)) == []


def test_the_schema_check_fails_on_a_planted_violation(validator: jsonschema.Draft7Validator) -> None:
    """The validator really checks what the test relies on: offsets, URIs, times, vocabularies."""
    good = epcis.standalone(
        {
            "type": "ObjectEvent",
            "eventTime": "2026-11-22T08:00:00+01:00",
            "eventTimeZoneOffset": "+01:00",
            "action": "OBSERVE",
            "epcList": ["https://id.gs1.org/00/095060000000000015"],
            "readPoint": {"id": "urn:epc:id:sgln:9506000.00000.LINE-1"},
        }
    )
    assert _problems(validator, good) == []
    for planted in (
        {"eventTimeZoneOffset": None},
        {"eventTime": "22.11.2026 08:00"},
        {"readPoint": {"id": "LINE 1"}},
        {"bizStep": "wrapping"},
    ):
        spoiled = {**good, **planted}
        spoiled = {k: v for k, v in spoiled.items() if v is not None}
        assert _problems(validator, spoiled), planted
