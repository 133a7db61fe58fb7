"""Issue 14's "Done when", at service level: the official EPCIS examples that describe pharma flows
(commissioning, packing, shipping and receiving, error declaration) are captured with the services
that own what they mean composed and routing on (serial issuance, aggregation, line exceptions), once
their products are registered and their serials issued; the owners' state shows what they say, and
`GET /v1/epcis/events` answers them back (every answer valid against the official JSON Schema).

Covered (`../shared/standards/`), by flow:

- commissioning, packing, pallet, shipping: GS1 US DSCSA example 2.2.1.1 (EPCIS 1.2 XML; no 2.0 form
  is published). As published it is refused by our rules where it records line work at a site:
  its commissionings and packings name the site's own SGLN (extension 0) as read point, and a
  commissioning or packing here happens on a registered line (`registered-line`), as if posted to
  the owner's API. Its batch (lot A123, expiry 2025-03-27) could not be registered today either (it
  has expired), nor could events of 2023 commission into a batch registered today. So it is also
  captured *as it would be sent today from registered lines*: the same document with three changes
  only (each read point a line of its site, event times now in the same order, the ILMD expiry the
  registered batch's); then all of it is commissioned, packed and queried back. Its serials are
  imported (`POST /v1/serial-imports`); its pallet's SSCC is one no SSCC request of ours allocates
  (ranges start at serial reference 0), packed into as a pending parent, as a key no company
  narrows may.
- commissioning: CBV 2.0 example 11.1 (XML 2.0): refused, as published, for naming no batch (no
  ILMD lot: a pack is commissioned into a batch, its lot and expiry part of the DSCSA and EU FMD
  product identifier); with its lot and today's time added, commissioned.
- shipping and receiving: EPCIS example 9.6.1 as JSON-LD 2.0, as XML 2.0
  (`Example_9.6.1-ObjectEvent-2020_06_18a.xml`) and as XML 1.2 (`xml-1.2/ObjectEvent.xml`): the same
  events, captured once (the XML forms are 409 duplicates, by their Event Hash IDs); the 1.2 file's
  receiving carries a field no EPCIS version defines and is refused. Receiving a pallet: example
  9.6.3 (`Example_9.6.3-AggregationEvent.jsonld`, `Mimasu/Example3.xml`, `xml-1.2/AggregationEvent.xml`),
  likewise. Neither is routed (shipments are reporting's own, later).
- error declaration: `Example_9.6.1-ObjectEvent-with-error-declaration.jsonld` (the shipping above
  declared in error: the corrected view leaves it out), and `ErrorDeclarationAndCorrectiveEvent`
  as JSON-LD 2.0 and XML 2.0 (two different events: the twins name other read points).
- packing and unpacking: `SensorDataExample8.jsonld` (a packing of quantities, refused by
  aggregation: it packs serialised objects) and `Example-PersistentDisposition.xml` (a receipt and
  an unpacking with persistentDisposition, which the official JSON Schema has no place for on an
  AggregationEvent: refused at capture, 400).

Not covered here (no pharma flow, or no event): AssociationEvents (assets and their parts),
TransactionEvents (a hospital discharge, a train), TransformationEvents other than the error
declaration's (food processing), sensor data (but example 8's packing), the quantity receipt of
9.6.2, the CBV vocabulary demonstrations 11.2 and 11.3, the extension and all-fields showcases, the
Event Hash ID test vectors, the Digital Link variants of 9.6.x, capture job answers and master data
documents. Every one of them is captured and converted in
`services/epcis_reporting/tests/test_conversion.py`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from aggregation import bootstrap as aggregation
from epcis_reporting import bootstrap as epcis
from issuance_helpers import EXPIRY, product
from line_exceptions import bootstrap as line_exceptions
from lxml import etree
from serial_issuance import bootstrap as issuance
from serialtrail_kit.declaration import Service
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.harness import Harness, serve

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "standards"
EXAMPLES = SHARED / "epcis" / "examples"
SAFE = etree.XMLParser(resolve_entities=False, no_network=True)
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")
MDA = "urn:epcglobal:cbv:mda"
ADDRESS = {"street": "1 Biopharm Ct", "city": "Thousand Oaks", "postal_code": "91320", "country": "US"}

# DSCSA example 2.2.1.1: "Epcistra" 100 mg (NDC 0001-0123-45), its unit and case GTINs (GS1 company
# prefix 030001), made at GS1 Pharma (SGLN 030001.111111.0) and palletised at its DC (030001.111121.0).
UNIT, CASE = "00300010123455", "10300010123452"
NDC, LOT = "0001-0123-45", "A123"
PLANT, DC = "0300011111116", "0300011111215"
PLANT_LINE, DC_LINE = "PKG-1", "DC-1"
UNITS = [str(n) for n in range(11, 23)]
CASES = {"110": UNITS[0:4], "111": UNITS[4:8], "121": UNITS[8:12]}
PALLET = "urn:epc:id:sscc:030001.41234567890"  # SSCC 403000112345678901
# CBV 2.0 example 11.1: one pack of GTIN 19524141813353 at read point 9524141.00300.1 (a line, "1").
CBV_GTIN, CBV_SITE, CBV_LOT = "19524141813353", "9524141003009", "CBV-11-1"
# EPCIS example 9.6.1/9.6.3: packs 2017 and 2018 of GTIN 10614141073464.
SHIPPED_GTIN = "10614141073464"


def unit(gtin: str, serial: str) -> str:
    return f"https://id.gs1.org/01/{gtin}/21/{serial}"


async def registered(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    answer = await client.post(path, json=body)
    assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
async def owners(module_database_dsn: str) -> AsyncIterator[Harness]:
    """Every owner of what a line's EPCIS means, composed with EPCIS reporting (routing on), and the
    examples' products, sites, lines and batches registered, their serials imported: what a brand
    owner sets up before its lines report."""
    services: list[Service[Any]] = [issuance.SERVICE, aggregation.SERVICE, line_exceptions.SERVICE, epcis.SERVICE]
    async with serve(module_database_dsn, services) as harness:
        client = harness.client
        for gtin in (UNIT, CASE):
            await product(client, gtin, company_prefix_length=6, ndc=NDC, name="Epcistra 100 mg", target_markets=["US"])
        await product(client, CBV_GTIN, target_markets=["US"])
        await product(client, SHIPPED_GTIN, target_markets=["US"])
        for gln, line in ((PLANT, PLANT_LINE), (DC, DC_LINE), (CBV_SITE, "1")):
            site = {
                "gln": gln,
                "company_prefix_length": 6 if gln in (PLANT, DC) else 7,
                "name": gln,
                "address": ADDRESS,
            }
            await registered(client, "/v1/sites", site)
            await registered(client, f"/v1/sites/{gln}/lines", {"line_id": line, "name": f"Line {line}"})
        for gtin, lot, site_gln in ((UNIT, LOT, PLANT), (CASE, LOT, PLANT), (CBV_GTIN, CBV_LOT, CBV_SITE)):
            await registered(client, "/v1/batches", {"gtin": gtin, "lot": lot, "expiry": EXPIRY, "site_gln": site_gln})
        imports = ((UNIT, UNITS), (CASE, list(CASES)), (CBV_GTIN, ["234"]), (SHIPPED_GTIN, ["2017", "2018"]))
        for gtin, serials in imports:  # the examples' own serials, as a CMO's list is imported
            await registered(client, "/v1/serial-imports", {"gtin": gtin, "source": "GS1 example", "serials": serials})
        await harness.runner("aggregation", "knowledge").caught_up(timeout=30)
        yield harness


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((SHARED / "epcis" / "EPCIS-JSON-Schema.json").read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def example(relative: str) -> bytes:
    """An official example, byte for byte (`dscsa/…` from the DSCSA folder)."""
    return (SHARED / relative if relative.startswith("dscsa/") else EXAMPLES / relative).read_bytes()


async def capture(client: httpx.AsyncClient, body: bytes, *, xml: bool, behaviour: str = "rollback") -> dict[str, Any]:
    """The capture job once every owner its events were routed to has decided."""
    media = "application/xml" if xml else "application/ld+json"
    headers = {"Content-Type": media, "GS1-Capture-Error-Behaviour": behaviour}
    posted = await client.post("/v1/epcis/capture", content=body, headers=headers)
    assert posted.status_code == 202, posted.text
    for _ in range(600):
        job = (await client.get(posted.headers["location"])).json()
        if not job["running"]:
            return dict(job)
        await asyncio.sleep(0.05)
    raise AssertionError(f"the capture job did not end: {job}")


def problems(job: dict[str, Any]) -> list[tuple[int | None, int, list[tuple[str, str]]]]:
    return [(p["eventIndex"], p["status"], [(e["field"], e["rule"]) for e in p["errors"]]) for p in job["errors"]]


async def served(client: httpx.AsyncClient, validator: jsonschema.Draft7Validator, **params: str) -> list[Any]:
    answer = await client.get("/v1/epcis/events", params={"perPage": "1000", **params})
    assert answer.status_code == 200, answer.text
    assert [e.message for e in validator.iter_errors(answer.json())] == []
    found: list[Any] = answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return found


async def status_of(client: httpx.AsyncClient, gtin: str, serial: str) -> str:
    answer = await client.get(f"/v1/serials/{gtin}/{serial}")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


async def tree_of(harness: Harness, parent: str) -> dict[str, Any] | None:
    await harness.runner("aggregation", "hierarchy").caught_up(timeout=30)
    answer = await harness.client.get(f"/v1/hierarchy/{parent}")
    return None if answer.status_code == 404 else dict(answer.json())


async def decided(harness: Harness, source: str, capture_id: str) -> list[tuple[int, list[str]]]:
    """What an owner recorded deciding a capture: (events applied, rules of those refused); the
    checks of its share before a capture with several owners is committed left out."""
    log = await PostgresEventStore(harness.composition.app_pool, source).read_all(0, 1_000_000)
    return [
        (e.payload["applied"], [error["rule"] for error in e.payload["refused"]])
        for e in log
        if e.event_type.endswith(".CaptureDecided")
        and e.payload["capture_id"] == capture_id
        and not e.payload.get("prepared")
    ]


def events_of(root: etree._Element) -> list[etree._Element]:
    return list(root.iter(*EVENT_TYPES))


def changed(source: bytes, change: Callable[[etree._Element, int, int], None]) -> bytes:
    """The document with `change(event, index, events)` applied to each event, everything else as is."""
    root = etree.fromstring(source, SAFE)
    events = events_of(root)
    for index, event in enumerate(events):
        change(event, index, len(events))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def now_in_order(event: etree._Element, index: int, count: int) -> None:
    """Its time now, a second after the event before it (and none ahead of the server's clock)."""
    when = datetime.now(UTC) - timedelta(seconds=count - index)
    event.find("eventTime").text = when.isoformat(timespec="milliseconds")  # type: ignore[union-attr]


# --- DSCSA example 2.2.1.1 --------------------------------------------------------------------------
# As published, each commissioning and packing names its site (extension 0) as read point: refused by
# the owner it is routed to, where it says so. The pallet's commissioning (an SSCC: no pack to
# commission) and the shipping are routed to no owner: kept for queries.
DSCSA_REFUSED = [
    (index, 422, [(f"eventList[{index}].readPoint.id", "registered-line")])
    for index in (0, 1, 2, 3, 4, 6)  # E1, E2 commissioning; E3-E5 packing cases; E7 the pallet
]


async def test_the_dscsa_example_as_published_is_refused_where_it_names_a_site_not_a_line(
    owners: Harness, validator: Any
) -> None:
    client, as_published = owners.client, example("dscsa/GS1_US_Pharma_Example_2_2_1_1.xml")
    job = await capture(client, as_published, xml=True)  # rollback: all or nothing
    assert (job["documentFormat"], job["success"], job["captured"], problems(job)) == (
        "xml-1.2",
        False,
        0,
        DSCSA_REFUSED,
    )
    dscsa_2023 = {
        "MATCH_anyEPC": f"{PALLET}|{unit(UNIT, '11')}|{unit(CASE, '110')}",
        "LT_eventTime": "2024-01-01T00:00:00Z",
    }
    assert await served(client, validator, **dscsa_2023) == []

    job = await capture(client, as_published, xml=True, behaviour="proceed")
    assert (job["captured"], problems(job)) == (2, DSCSA_REFUSED)
    assert await decided(owners, "serial_issuance", job["captureID"]) == [(0, ["registered-line"] * 2)]
    assert await decided(owners, "aggregation", job["captureID"]) == [(0, ["registered-line"] * 4)]
    kept = await served(client, validator, MATCH_anyEPC=PALLET, LT_eventTime="2024-01-01T00:00:00Z")
    assert [(e["type"], e["bizStep"], e["eventTime"]) for e in kept] == [
        ("ObjectEvent", "commissioning", "2023-04-01T06:47:16Z"),
        ("ObjectEvent", "shipping", "2023-04-01T07:48:16Z"),
    ]
    shipped = kept[1]  # as sent, down to the DSCSA extension and its sources and destinations
    assert shipped["gs1ushc:dropShipment"] == "false"
    assert [s["type"] for s in shipped["sourceList"]] == ["owning_party", "location"]
    assert await served(client, validator, MATCH_epc=unit(UNIT, "11"), LT_eventTime="2024-01-01T00:00:00Z") == []


def on_registered_lines_today(event: etree._Element, index: int, count: int) -> None:
    """The three changes of the module notes: its read point a registered line of its site, its time
    now (in the document's order), the ILMD expiry the registered batch's."""
    read_point = event.find("readPoint/id")
    assert read_point is not None
    lines = {PLANT: PLANT_LINE, DC: DC_LINE}
    site = read_point.text or ""
    assert site.endswith(".0")
    gln = next(gln for gln in lines if site == f"urn:epc:id:sgln:{gln[:6]}.{gln[6:12]}.0")
    read_point.text = site[:-1] + lines[gln]
    now_in_order(event, index, count)
    expiry = event.find(f"extension/ilmd/{{{MDA}}}itemExpirationDate")
    if expiry is not None:
        expiry.text = EXPIRY


async def test_the_dscsa_example_from_registered_lines_today_is_commissioned_packed_and_queried_back(
    owners: Harness, validator: Any
) -> None:
    client, started = owners.client, datetime.now(UTC) - timedelta(minutes=1)
    job = await capture(
        client, changed(example("dscsa/GS1_US_Pharma_Example_2_2_1_1.xml"), on_registered_lines_today), xml=True
    )
    assert (job["success"], job["captured"], job["errors"]) == (True, 8, [])
    assert await decided(owners, "serial_issuance", job["captureID"]) == [(2, [])]
    assert await decided(owners, "aggregation", job["captureID"]) == [(4, [])]

    assert [await status_of(client, UNIT, s) for s in UNITS] == ["commissioned"] * 12
    assert [await status_of(client, CASE, s) for s in CASES] == ["commissioned"] * 3
    pallet = await tree_of(owners, PALLET)
    assert pallet is not None
    # Everything on it confirmed (commissioned); the pallet's own SSCC stays pending: no SSCC request
    # allocates it (requests allocate serial references from 0 up per company prefix and extension
    # digit, 100,000 at a time; this one is 1234567890), and a key no company narrows may pack into it.
    assert (pallet["status"], pallet["level"], pallet["counts"]) == (
        "pending",
        "pallet",
        {"objects": 3 + 12, "pending": 0, "errors": 0, "held": 0},
    )
    assert sorted((case["id"], case["level"], case["status"]) for case in pallet["children"]) == [
        (unit(CASE, serial), "case", "confirmed") for serial in sorted(CASES)
    ]
    for serial, units in CASES.items():
        case = await tree_of(owners, unit(CASE, serial))
        assert case is not None
        assert sorted(c["id"] for c in case["children"]) == sorted(unit(UNIT, s) for s in units)

    today = {"GE_eventTime": started.isoformat()}
    first = unit(UNIT, "11")
    assert [e["bizStep"] for e in await served(client, validator, MATCH_epc=first, **today)] == [
        "commissioning",
        "packing",
    ]  # by its Digital Link: the events name it by its EPC URN
    commissioned = await served(client, validator, EQ_bizStep="commissioning", MATCH_epc=first, **today)
    assert commissioned[0]["ilmd"] == {"cbvmda:lotNumber": LOT, "cbvmda:itemExpirationDate": EXPIRY}
    palletised = await served(client, validator, MATCH_parentID="https://id.gs1.org/00/403000112345678901", **today)
    assert [(e["type"], e["action"], e["bizStep"]) for e in palletised] == [("AggregationEvent", "ADD", "packing")]
    shipping = await served(client, validator, EQ_bizStep="shipping", MATCH_epc=PALLET, **today)
    assert [e["bizTransactionList"] for e in shipping] == [
        [
            {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0399999999991:XYZPO189"},
            {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:0300011111215:DEL100"},
        ]
    ]


# --- CBV 2.0 example 11.1 ---------------------------------------------------------------------------
async def test_the_cbv_commissioning_example_is_commissioned_once_it_names_its_batch(
    owners: Harness, validator: Any
) -> None:
    client, pack = owners.client, unit(CBV_GTIN, "234")
    as_published = example("xml-2.0/CBV/CBV-11.1-2020-06-16a.xml")
    job = await capture(client, as_published, xml=True)
    assert (job["documentFormat"], job["captured"], problems(job)) == (
        "xml-2.0",
        0,
        [(0, 422, [("eventList[0].ilmd.cbvmda:lotNumber", "captured-batch")])],
    )
    assert await status_of(client, CBV_GTIN, "234") == "issued"

    def with_its_batch(event: etree._Element, index: int, count: int) -> None:
        now_in_order(event, index, count)
        ilmd = etree.SubElement(event, "ilmd", nsmap={"cbvmda": MDA})
        etree.SubElement(ilmd, f"{{{MDA}}}lotNumber").text = CBV_LOT

    job = await capture(client, changed(as_published, with_its_batch), xml=True)
    assert (job["success"], job["captured"], job["errors"]) == (True, 1, [])
    assert await status_of(client, CBV_GTIN, "234") == "commissioned"
    [found] = await served(client, validator, MATCH_epc=pack, EQ_bizStep="commissioning")
    assert (found["readPoint"], found["ilmd"]) == (
        {"id": "urn:epc:id:sgln:9524141.00300.1"},
        {"cbvmda:lotNumber": CBV_LOT},
    )


# --- shipping and receiving, in three formats; the shipping declared in error -----------------------
SHIPPED = [f"urn:epc:id:sgtin:0614141.107346.{serial}" for serial in ("2017", "2018")]


async def test_shipping_and_receiving_in_three_formats_are_captured_once_and_corrected_by_a_declaration(
    owners: Harness, validator: Any
) -> None:
    client = owners.client
    json_ld = example("json-2.0/Example_9.6.1-ObjectEvent.jsonld")
    job = await capture(client, json_ld, xml=False)
    assert (job["success"], job["captured"]) == (True, 2)
    shipping_again = (0, 409, [("eventList[0]", "captured-once")])
    job = await capture(client, example("xml-2.0/Example_9.6.1-ObjectEvent-2020_06_18a.xml"), xml=True)
    # The same shipping, by its Event Hash ID; the receiving is another event: its example:myField is of
    # namespace http://ns.example.com/epcis, the JSON-LD twin's of http://ns.example.com/epcis/. Rollback.
    assert (job["captured"], problems(job)) == (0, [shipping_again])
    job = await capture(client, example("xml-1.2/ObjectEvent.xml"), xml=True, behaviour="proceed")
    # The same shipping again; its receiving also carries <myField> in EPCIS 1.2's innermost extension,
    # a field no EPCIS version defines, which EPCIS 2.0 has no place for: refused, not dropped.
    assert (job["captured"], problems(job)) == (0, [shipping_again, (1, 400, [("eventList[1]", "epcis-schema")])])

    shipped = await served(client, validator, MATCH_epc=SHIPPED[1], eventType="ObjectEvent")
    assert [(e["bizStep"], e["eventID"]) for e in shipped] == [
        (event["bizStep"], event["eventID"]) for event in json.loads(json_ld)["epcisBody"]["eventList"]
    ]  # the JSON-LD example's events, their eventIDs as sent
    assert [await status_of(client, SHIPPED_GTIN, s) for s in ("2017", "2018")] == [
        "issued"
    ] * 2  # shipping is no owner's (yet): nothing changes

    declared = example("json-2.0/WithErrorDeclaration/Example_9.6.1-ObjectEvent-with-error-declaration.jsonld")
    receiving_again = (1, 409, [("eventList[1]", "captured-once")])
    job = await capture(client, declared, xml=False)
    assert (job["captured"], problems(job)) == (0, [receiving_again])  # its receiving is 9.6.1's: rollback
    job = await capture(client, declared, xml=False, behaviour="proceed")
    assert (job["captured"], problems(job)) == (1, [receiving_again])

    assert await served(client, validator, MATCH_epc=SHIPPED[0], eventType="ObjectEvent") == []  # corrected
    remaining = await served(client, validator, MATCH_epc=SHIPPED[1], eventType="ObjectEvent")
    assert [e["bizStep"] for e in remaining] == ["receiving"]
    declarations = await served(client, validator, MATCH_epc=SHIPPED[0], EXISTS_errorDeclaration="true")
    assert [(e["bizStep"], e["errorDeclaration"]["reason"]) for e in declarations] == [("shipping", "incorrect_data")]
    assert await served(client, validator, EQ_errorReason="incorrect_data", MATCH_epc=SHIPPED[0]) == declarations


async def test_receiving_a_pallet_in_three_formats(owners: Harness, validator: Any) -> None:
    """The XML forms are one event (their example:myField of namespace http://ns.example.com/epcis),
    the JSON-LD form another (of http://ns.example.com/epcis/): two receipts, each captured once."""
    client, pallet = owners.client, "urn:epc:id:sscc:0614141.1234567890"
    for document, xml in (
        ("json-2.0/Example_9.6.3-AggregationEvent.jsonld", False),
        ("xml-2.0/Mimasu/Example3.xml", True),
    ):
        job = await capture(client, example(document), xml=xml)
        assert (job["success"], job["captured"]) == (True, 1), document  # an OBSERVE: routed to no owner
    job = await capture(client, example("xml-1.2/AggregationEvent.xml"), xml=True)
    assert (job["captured"], problems(job)) == (0, [(0, 409, [("eventList[0]", "captured-once")])])
    received = await served(client, validator, MATCH_parentID=pallet)
    assert [(e["action"], e["bizStep"], e["childEPCs"]) for e in received] == [("OBSERVE", "receiving", SHIPPED)] * 2
    # One answer, two namespaces for one prefix: the second event's is renamed, its meaning kept.
    # One answer, two namespaces for one prefix: each event's is its own, under a name of its own.
    context = (await client.get("/v1/epcis/events", params={"MATCH_parentID": pallet})).json()["@context"]
    bound = {k: v for item in context if isinstance(item, dict) for k, v in item.items()}
    fields = [next((k, v) for k, v in e.items() if k.endswith(":myField")) for e in received]
    assert [value for _, value in fields] == ["Example of a vendor/user extension"] * 2
    assert sorted(bound[key.partition(":")[0]] for key, _ in fields) == [
        "http://ns.example.com/epcis",
        "http://ns.example.com/epcis/",
    ]
    assert await tree_of(owners, "https://id.gs1.org/00/106141412345678908") is None  # nothing packed


# --- error declaration and corrective event, JSON-LD and XML ---------------------------------------
async def test_an_error_declaration_and_its_corrective_event_as_json_ld_and_as_xml(
    owners: Harness, validator: Any
) -> None:
    client, corrective = owners.client, "urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8"
    for path, xml in (
        ("ErrorDeclarationAndCorrectiveEvent.jsonld", False),
        ("ErrorDeclarationAndCorrectiveEvent.xml", True),
    ):
        folder = "xml-2.0" if xml else "json-2.0"
        job = await capture(client, example(f"{folder}/WithErrorDeclaration/{path}"), xml=xml)
        assert (job["success"], job["captured"]) == (True, 2), path  # the twins name other read points
    declarations = await served(client, validator, EQ_correctiveEventID=corrective)
    assert [(e["eventID"], e["errorDeclaration"]["reason"]) for e in declarations] == [
        ("urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8", "incorrect_data")
    ] * 2
    standing = await served(client, validator, EQ_eventID=f"{declarations[0]['eventID']}|{corrective}")
    assert [e["eventID"] for e in standing] == [corrective] * 2  # the corrected view, each twin's


# --- packing and unpacking --------------------------------------------------------------------------
async def test_packing_quantities_and_unpacking_with_a_persistent_disposition_are_refused(
    owners: Harness, validator: Any
) -> None:
    client = owners.client
    job = await capture(client, example("json-2.0/WithSensorData/SensorDataExample8.jsonld"), xml=False)
    # Routed to aggregation, which packs serialised objects (SGTINs, SSCCs) into parents: 52 kg of a
    # lot is no child it can hold.
    assert (job["captured"], problems(job)) == (
        0,
        [
            (
                0,
                422,
                [
                    ("eventList[0].childQuantityList", "captured-aggregation"),
                    ("eventList[0].childEPCs", "captured-aggregation"),
                ],
            )
        ],
    )
    assert await decided(owners, "aggregation", job["captureID"]) == [(0, ["captured-aggregation"] * 2)]
    assert await tree_of(owners, "https://id.gs1.org/00/040123451111111110") is None

    job = await capture(client, example("xml-2.0/Example-PersistentDisposition.xml"), xml=True, behaviour="proceed")
    # XSD-valid EPCIS 2.0 XML, but the official JSON Schema has no persistentDisposition on an
    # AggregationEvent: no JSON-LD form to keep or serve, refused before any owner sees it.
    assert (job["captured"], problems(job)) == (
        0,
        [(0, 400, [("eventList[0]", "epcis-schema")]), (1, 400, [("eventList[1]", "epcis-schema")])],
    )
    assert await decided(owners, "aggregation", job["captureID"]) == []
    assert await served(client, validator, MATCH_parentID="urn:epc:id:sgtin:952001.1012345.22222223333") == []
