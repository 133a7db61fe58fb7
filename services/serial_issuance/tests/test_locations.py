"""Sites and lines as master data: what every line event names as its business location and
read point (SGLNs), who may use which line, and what is refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from issuance_helpers import GLN, GTIN, LOT, batch, product, serials, site
from serialtrail_contracts.identity import Role, Scope, ScopeInvalid
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import Harness

SITE_BODY: dict[str, Any] = {
    "gln": GLN,
    "company_prefix_length": 7,
    "name": "Packaging plant",
    "address": {"street": "Industriestr. 1", "city": "Mainz", "postal_code": "55116", "country": "DE"},
}


async def test_a_site_and_its_lines_carry_sglns(service: Harness) -> None:
    registered = await site(service.client, lines=("LINE-1", "LINE-2"))
    assert registered["biz_location"] == "urn:epc:id:sgln:9506000.00000.0"
    assert [(line["line_id"], line["read_point"]) for line in registered["lines"]] == [
        ("LINE-1", "urn:epc:id:sgln:9506000.00000.LINE-1"),
        ("LINE-2", "urn:epc:id:sgln:9506000.00000.LINE-2"),
    ]
    assert {line["biz_location"] for line in registered["lines"]} == {registered["biz_location"]}
    again = await service.client.post("/v1/sites", json={**SITE_BODY, "cmo_id": None})
    assert again.status_code == 201  # the same data again: answered, not recorded twice
    line = {"line_id": "LINE-1", "name": "Line LINE-1"}
    assert (await service.client.post(f"/v1/sites/{GLN}/lines", json=line)).status_code == 201
    trail = (await service.client.get("/v1/audit-trail/serial_issuance")).json()["events"]
    assert [e["event_type"] for e in trail].count("serials.LineRegistered") == 2


async def test_what_cannot_name_one_place_is_refused(service: Harness) -> None:
    await site(service.client, lines=("LINE-1",))
    store = PostgresEventStore(service.composition.app_pool, "serial_issuance")
    before = await store.head()
    cases = [
        ("/v1/sites", {**SITE_BODY, "name": "Another name"}, 409, "gln", "unique"),
        ("/v1/sites", {**SITE_BODY, "gln": "9506000000009"}, 422, "gln", "gln"),
        (
            "/v1/sites",
            {**SITE_BODY, "address": {**SITE_BODY["address"], "country": "Germany"}},
            422,
            "body.address.country",
            "string_pattern_mismatch",
        ),
        (
            f"/v1/sites/{GLN}/lines",
            {"line_id": "LINE-9", "name": "x", "extension": "LINE-1"},
            409,
            "extension",
            "unique-read-point",
        ),
        (f"/v1/sites/{GLN}/lines", {"line_id": "LINE-1", "name": "renamed"}, 409, "line_id", "unique"),
        (f"/v1/sites/{GLN}/lines", {"line_id": "urn:x", "name": "x", "extension": "X"}, 422, "line_id", "line-id"),
        (f"/v1/sites/{GLN}/lines", {"line_id": "L9", "name": "x", "extension": "0"}, 422, "extension", "gs1-ai-254"),
        ("/v1/sites/4000001000005/lines", {"line_id": "L9", "name": "x"}, 404, "gln", "registered-site"),
    ]
    for path, body, status, field, rule in cases:
        answer = await service.client.post(path, json=body)
        assert answer.status_code == status, (path, body, answer.text)
        assert (field, rule) in [(e["field"], e["rule"]) for e in answer.json()["errors"]], answer.text
    assert await store.head() == before


async def test_commissioning_names_a_registered_line_and_records_its_locations(service: Harness) -> None:
    await product(service.client)
    await batch(service.client)
    await site(service.client, lines=("LINE-1",))
    issued = await serials(service.client, 2)
    when = moment(offset_hours=1)
    body = {"gtin": GTIN, "lot": LOT, "serials": issued[:1], "event_time": when}
    unknown = await service.client.post("/v1/commissioning", json={**body, "line_id": "LINE-7"})
    assert unknown.status_code == 422
    assert [(e["field"], e["rule"]) for e in unknown.json()["errors"]] == [("line_id", "registered-line")]
    done = await service.client.post("/v1/commissioning", json={**body, "line_id": "LINE-1"})
    assert done.status_code == 201, done.text
    store = PostgresEventStore(service.composition.app_pool, "serial_issuance")
    (recorded,) = [e for e in await store.read_all(0, 1000) if e.event_type == "serials.SerialsCommissioned"]
    assert recorded.event_version == 2
    assert recorded.payload["read_point"] == "urn:epc:id:sgln:9506000.00000.LINE-1"
    assert recorded.payload["biz_location"] == "urn:epc:id:sgln:9506000.00000.0"
    assert recorded.payload["event_time"] == when  # the offset as sent


async def test_a_cmo_records_only_on_its_own_sites_lines(service: Harness) -> None:
    await product(service.client)
    await batch(service.client, lot="ACME-1", cmo_id="ACME")
    await site(service.client, lines=("OWN-1",))
    await site(service.client, "4000001000005", cmo_id="ACME", lines=("ACME-1",))
    issued = await serials(service.client, 2, lot="ACME-1")
    scope = Scope(company_prefixes=frozenset({"9506000"}), cmos=frozenset({"ACME"}))
    async with service.client_with(await service.token(Role.cmo, scope)) as acme:
        body = {"gtin": GTIN, "lot": "ACME-1", "serials": issued[:1], "event_time": moment()}
        theirs = await acme.post("/v1/commissioning", json={**body, "line_id": "OWN-1"})
        assert theirs.status_code == 403
        assert "lacks scope cmo (" in theirs.json()["detail"]
        assert (await acme.post("/v1/commissioning", json={**body, "line_id": "ACME-1"})).status_code == 201
        assert (await acme.get(f"/v1/sites/{GLN}")).status_code == 404  # the company's own site: not theirs
        assert (await acme.get("/v1/sites/4000001000005")).status_code == 200
        refused = await acme.post("/v1/sites/4000001000005/lines", json={"line_id": "ACME-2", "name": "x"})
        assert refused.status_code == 403  # registering locations is the company's (admin) task


def test_commissioning_recorded_before_locations_reads_with_unregistered_ones() -> None:
    from serial_issuance.bootstrap import SERVICE
    from serialtrail_contracts.serials import SerialsCommissioned

    stored = {
        "commissioning_id": "8f7c1e3a-4b2d-4c5e-9f60-1a2b3c4d5e6f",
        "gtin": GTIN,
        "lot": LOT,
        "expiry": "2028-06-30",
        "line_id": "L1",
        "event_time": "2026-11-22T08:00:00+01:00",
        "serials": ["A1"],
    }
    version, payload = SERVICE.upcasters.upcast(SerialsCommissioned.EVENT_TYPE, 1, stored)
    current = SerialsCommissioned.model_validate(payload)
    assert version == SerialsCommissioned.EVENT_VERSION == 2
    assert (current.read_point, current.biz_location) == (
        "urn:serialtrail:unregistered-line:L1",
        "urn:serialtrail:unregistered-site",
    )


async def test_review_findings_on_line_data(service: Harness) -> None:
    """New-user review: a malformed GLN is 422, not 'not registered'; a line id taken at another
    site says where; the serial's history keeps the offset the line sent; a scope names lines by
    id (an SGLN there would lock its holder out), refused when the key is created."""
    await product(service.client)
    await batch(service.client)
    await site(service.client, lines=("LINE-1",))
    for malformed in ("abc", "950600000000", "9506000000009"):
        answer = await service.client.get(f"/v1/sites/{malformed}")
        assert answer.status_code == 422, (malformed, answer.text)
    await site(service.client, "4000001000005", lines=())
    taken = await service.client.post("/v1/sites/4000001000005/lines", json={"line_id": "LINE-1", "name": "x"})
    assert taken.status_code == 409
    assert "at site 9506000000008" in taken.json()["detail"]
    issued = await serials(service.client, 1)
    when = datetime.now(timezone(timedelta(hours=5, minutes=30))).isoformat(timespec="seconds")  # a clock in India
    body = {"gtin": GTIN, "lot": LOT, "serials": issued, "line_id": "LINE-1", "event_time": when}
    assert (await service.client.post("/v1/commissioning", json=body)).status_code == 201
    history = (await service.client.get(f"/v1/serials/{GTIN}/{issued[0]}")).json()["history"]
    assert (history[1]["event_time"], history[1]["read_point"]) == (when, "urn:epc:id:sgln:9506000.00000.LINE-1")
    scope = {"company_prefixes": ["9506000"], "lines": ["urn:epc:id:sgln:9506000.00000.LINE-1"]}
    with pytest.raises(ScopeInvalid) as refused:
        Scope.checked(scope, Role.line)
    assert (refused.value.field, refused.value.rule) == ("scope.lines", "format")
