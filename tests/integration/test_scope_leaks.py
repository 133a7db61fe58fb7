"""Each scope leak found by the attacker review (issue 10), as a named regression case against
the whole product: company A (prefix 9506000, CMOs ACME and OTHER) and company B (4000001).
Every refused change must leave the records as they were."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from issuance_helpers import batch, product, site
from serialtrail.services import SERVICES
from serialtrail_contracts.identity import AccessRefused, Role, Scope
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import Harness, make_settings, serve
from serialtrail_kit.testing.waiting import until

GTIN_A, GTIN_B = "09506000134352", "04000001000012"
SITE_A, SITE_B = "9506000000008", "4000001000005"
SITE_OTHER = "9506000000015"  # operated by the CMO OTHER: its line OTHER-L1


@dataclass
class World:
    harness: Harness
    acme_serials: list[str]  # requested for ACME's batch
    acme_request: str
    acme_case: str  # a case of ACME units, in a pallet
    acme_pallet: str
    a_ssccs: list[str]  # unused SSCCs of company A's range
    a_sscc_request: str
    b_units: list[str]  # commissioned units of company B
    b_case: str


def _sscc_uri(digits: str) -> str:
    return f"https://id.gs1.org/00/{digits}"


def _unit(gtin: str, serial: str) -> str:
    return f"(01){gtin}(21){serial}"


async def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json() if "json" in response.headers.get("content-type", "") else response.text


async def _company(client: httpx.AsyncClient, gtin: str, site: str, lots: dict[str, str | None]) -> None:
    await product(client, gtin)
    for lot, cmo in lots.items():
        await batch(client, gtin, lot, site_gln=site, cmo_id=cmo)


async def _serials(client: httpx.AsyncClient, gtin: str, lot: str, quantity: int) -> tuple[str, list[str]]:
    created = await _ok(await client.post("/v1/serial-requests", json={"gtin": gtin, "lot": lot, "quantity": quantity}))
    listed = await _ok(await client.get(created["serials_url"]))
    return created["request_id"], listed.split()


async def _commission(
    client: httpx.AsyncClient, gtin: str, lot: str, serials: list[str], line: str = "LINE-1"
) -> httpx.Response:
    body = {"gtin": gtin, "serials": serials, "lot": lot, "line_id": line, "event_time": moment()}
    return await client.post("/v1/commissioning", json=body)


async def _ssccs(client: httpx.AsyncClient, prefix: str, quantity: int) -> tuple[str, list[str]]:
    body = {"company_prefix": prefix, "extension_digit": 0, "quantity": quantity}
    created = await _ok(await client.post("/v1/sscc-requests", json=body))
    listed = await _ok(await client.get(created["ssccs_url"]))
    return created["request_id"], [_sscc_uri(s) for s in listed.split()]


def _pack(parent: str, children: list[str], level: str = "case", line: str = "LINE-1") -> dict[str, Any]:
    return {"parent": parent, "packaging_level": level, "children": children, "line_id": line, "event_time": moment()}


@pytest.fixture(scope="module")
async def world(module_database_dsn: str) -> AsyncIterator[World]:
    # Every refusal recorded one by one here (the throttle has its own tests).
    async with serve(module_database_dsn, SERVICES, make_settings(refusal_burst=10_000)) as harness:
        client = harness.client
        await _company(client, GTIN_A, SITE_A, {"ACME-1": "ACME", "OTHER-1": "OTHER"})
        await _company(client, GTIN_B, SITE_B, {"B-1": None})
        await site(client, SITE_A, lines=("LINE-1", "LINE-2"))
        await site(client, SITE_OTHER, cmo_id="OTHER", lines=("OTHER-L1",))
        await harness.runner("aggregation", "knowledge").caught_up(timeout=30)  # it packs on these lines
        acme_request, acme_serials = await _serials(client, GTIN_A, "ACME-1", 6)
        await _ok(await _commission(client, GTIN_A, "ACME-1", acme_serials[:3]))
        _, b_serials = await _serials(client, GTIN_B, "B-1", 2)
        await _ok(await _commission(client, GTIN_B, "B-1", b_serials))
        a_sscc_request, a_ssccs = await _ssccs(client, "9506000", 10)
        _, b_ssccs = await _ssccs(client, "4000001", 2)
        acme_case, acme_pallet = a_ssccs[0], a_ssccs[1]
        acme_units = [_unit(GTIN_A, s) for s in acme_serials[:2]]
        await _ok(await client.post("/v1/pack", json=_pack(acme_case, acme_units)))
        await _ok(await client.post("/v1/pack", json=_pack(acme_pallet, [acme_case], "pallet")))
        b_units = [_unit(GTIN_B, s) for s in b_serials]
        await _ok(await client.post("/v1/pack", json=_pack(b_ssccs[0], b_units[:1])))
        yield World(
            harness,
            acme_serials,
            acme_request,
            acme_case,
            acme_pallet,
            a_ssccs[2:],
            a_sscc_request,
            b_units,
            b_ssccs[0],
        )


async def _events(world: World, service: str) -> list[str]:
    """The service's log without refusals (which are recorded, as they should be)."""
    events = await PostgresEventStore(world.harness.composition.app_pool, service).read_all(0, 100_000)
    return [str(e.event_id) for e in events if e.event_type != AccessRefused.EVENT_TYPE]


async def _head(world: World, service: str) -> int:
    return await PostgresEventStore(world.harness.composition.app_pool, service).head()


async def _client(world: World, role: Role, **scope: frozenset[str]) -> httpx.AsyncClient:
    token = await world.harness.token(role, Scope(**scope))
    return world.harness.client_with(token)


B_LINE = {"company_prefixes": frozenset({"4000001"}), "lines": frozenset({"LINE-1"})}
OTHER_CMO = {"company_prefixes": frozenset({"9506000"}), "cmos": frozenset({"OTHER"})}
OWN = "OTHER-L1"  # the line OTHER records on


async def test_a_parent_formed_on_another_partys_line_is_not_the_cmos(world: World) -> None:
    """Attacker review: the company packed ACME's units into a case on OTHER's line; ACME's key
    read that case and closed it (the close recorded at OTHER's read point). A parent is also
    its line's: ACME is answered as for a parent that holds nothing, and nothing is recorded."""
    client = world.harness.client
    _, (case, never_used) = await _ssccs(client, "9506000", 2)
    _, (serial,) = await _serials(client, GTIN_A, "ACME-1", 1)
    await _ok(await _commission(client, GTIN_A, "ACME-1", [serial]))
    units = [_unit(GTIN_A, serial)]
    await _ok(await client.post("/v1/pack", json=_pack(case, units, line=OWN)))
    before = await _events(world, "aggregation")
    acme_scope = {"company_prefixes": frozenset({"9506000"}), "cmos": frozenset({"ACME"})}
    async with await _client(world, Role.cmo, **acme_scope) as acme:
        tree = await acme.get(f"/v1/hierarchy/{case}")
        closing = await acme.post(f"/v1/close/{case}", json={})
        never = await acme.post(f"/v1/close/{never_used}", json={})
        ancestors = await acme.get(f"/v1/ancestors/{units[0]}")
    assert tree.status_code == 404
    refusals = await PostgresEventStore(world.harness.composition.app_pool, "aggregation").read_all(0, 100_000)
    recorded = [e.payload for e in refusals if e.event_type == AccessRefused.EVENT_TYPE]
    # Each refusal records what the caller was answered (409 for the close, as for an unknown parent).
    assert any(p["path"] == f"/v1/close/{case}" and p["status"] == 409 for p in recorded)
    rules = [(r.status_code, [e["rule"] for e in r.json()["errors"]]) for r in (closing, never)]
    assert rules[0] == rules[1] == (409, ["known-parent"])
    assert ancestors.json()["ancestors"] == []
    async with await _client(world, Role.cmo, **acme_scope) as acme:  # re-test: the batch report named it
        report = (await acme.get(f"/v1/batches/{GTIN_A}/ACME-1/aggregation-report")).json()
    assert case not in str(report)
    assert None in [p["id"] for p in report["open_parents"]["items"]]  # counted, not named
    assert await _events(world, "aggregation") == before


async def test_a_cmos_key_records_only_on_its_own_sites_lines(world: World) -> None:
    """A line is its site's and its CMO's: OTHER naming the company's own line (by id or by its
    SGLN) is refused, naming the dimension it lacks but not whose the line is (the company's own,
    no CMO: learnt from records, which the access audit keeps); nothing else is recorded."""
    before = await _events(world, "aggregation"), await _events(world, "serial_issuance")
    heads = {service: await _head(world, service) for service in ("aggregation", "serial_issuance")}
    async with await _client(world, Role.cmo, **OTHER_CMO) as other:
        unit = f"{_unit(GTIN_A, 'OTHERNEW0009')}(10)OTHER-1"
        by_id = await other.post("/v1/pack", json=_pack(world.a_ssccs[1], [unit]))
        by_sgln = await other.post(
            "/v1/pack", json=_pack(world.a_ssccs[1], [unit], line="urn:epc:id:sgln:9506000.00000.LINE-1")
        )
        commissioning = await _commission(other, GTIN_A, "OTHER-1", [world.acme_serials[5]])
    for refused in (by_id, by_sgln, commissioning):
        assert refused.status_code == 403, refused.text
        assert "lacks scope cmo (which cmo is not said" in refused.json()["detail"]
        assert "(no cmo)" not in refused.text
    assert (await _events(world, "aggregation"), await _events(world, "serial_issuance")) == before
    for service, refusals in (("aggregation", 2), ("serial_issuance", 1)):
        events = await PostgresEventStore(world.harness.composition.app_pool, service).read_all(heads[service], 100)
        reasons = [e.payload["reason"] for e in events if e.event_type == AccessRefused.EVENT_TYPE]
        assert [reason.partition(" lacks scope ")[2] for reason in reasons] == ["cmo:(no cmo)"] * refusals, reasons


async def test_a_cmo_naming_another_cmos_line_is_not_told_whose_or_where_it_is(world: World) -> None:
    """Outside review: ACME's key naming OTHER's line was answered "lacks scope cmo:OTHER", which
    told one CMO who runs another's line. It is told the dimension only; the audit keeps the CMO."""
    head = await _head(world, "aggregation")
    acme_scope = {"company_prefixes": frozenset({"9506000"}), "cmos": frozenset({"ACME"})}
    async with await _client(world, Role.cmo, **acme_scope) as acme:
        refused = await acme.post(
            "/v1/pack", json=_pack(world.a_ssccs[1], [_unit(GTIN_A, world.acme_serials[0])], line="OTHER-L1")
        )
    assert refused.status_code == 403, refused.text
    assert "lacks scope cmo (which cmo is not said" in refused.json()["detail"]
    assert "cmo:OTHER" not in refused.text
    assert SITE_OTHER not in refused.text
    events = await PostgresEventStore(world.harness.composition.app_pool, "aggregation").read_all(head, 100)
    reasons = [e.payload["reason"] for e in events if e.event_type == AccessRefused.EVENT_TYPE]
    assert [reason.partition(" lacks scope ")[2] for reason in reasons] == ["cmo:OTHER"], reasons


async def test_a_line_key_naming_another_line_by_its_read_point_is_not_told_that_lines_id(world: World) -> None:
    """Outside review: a line key sending another party's read point (an SGLN) was answered
    "lacks scope line:<that line's id>", an id it never sent. It is told the dimension only."""
    created = await world.harness.client.post(
        f"/v1/sites/{SITE_OTHER}/lines", json={"line_id": "OTHER-SECRET-LINE", "name": "L", "extension": "77"}
    )
    assert created.status_code == 201, created.text
    head = await _head(world, "serial_issuance")
    acme_line = {"company_prefixes": frozenset({"9506000"}), "lines": frozenset({"LINE-1"})}
    async with await _client(world, Role.line, **acme_line) as line:
        body = {"gtin": GTIN_A, "lot": "ACME-1", "serials": world.acme_serials[-1:], "event_time": moment()}
        refused = await line.post("/v1/commissioning", json=body | {"line_id": "urn:epc:id:sgln:9506000.00001.77"})
    assert refused.status_code == 403, refused.text
    assert "lacks scope line (which line is not said" in refused.json()["detail"]
    assert "OTHER-SECRET-LINE" not in refused.text
    events = await PostgresEventStore(world.harness.composition.app_pool, "serial_issuance").read_all(head, 100)
    reasons = [e.payload["reason"] for e in events if e.event_type == AccessRefused.EVENT_TYPE]
    assert [reason.partition(" lacks scope ")[2] for reason in reasons] == ["line:OTHER-SECRET-LINE"], reasons


async def test_another_companys_line_key_cannot_unpack_close_or_repack_our_parents(world: World) -> None:
    before = await _events(world, "aggregation")
    async with await _client(world, Role.line, **B_LINE) as b_line:
        unpack = {"parent": world.acme_pallet, "reason": "rework", "line_id": "LINE-1", "event_time": moment()}
        closing = await b_line.post(f"/v1/close/{world.acme_case}", json={"line_id": "LINE-1"})
        unpacking = await b_line.post("/v1/unpack", json=unpack)
        repack = await b_line.post("/v1/pack", json=_pack(world.acme_case, world.b_units[1:]))
        into_our_range = await b_line.post("/v1/pack", json=_pack(world.a_ssccs[0], world.b_units[1:]))
    for refused in (closing, unpacking, repack, into_our_range):
        assert refused.status_code == 403, refused.text
        assert "lacks scope sscc:" in refused.json()["detail"]
    assert await _events(world, "aggregation") == before


async def test_another_cmos_key_cannot_unpack_or_close_our_parents_and_is_told_they_hold_nothing(
    world: World,
) -> None:
    before = await _events(world, "aggregation")
    async with await _client(world, Role.cmo, **OTHER_CMO) as other:
        closing = await other.post(f"/v1/close/{world.acme_case}", json={})
        unpack = {"parent": world.acme_case, "reason": "rework", "line_id": "OTHER-L1"}
        unpacking = await other.post("/v1/unpack", json=unpack)
        never = await other.post(f"/v1/close/{world.a_ssccs[-1]}", json={})
        repack = await other.post("/v1/pack", json=_pack(world.acme_case, [_unit(GTIN_A, "NEWUNIT00001")], line=OWN))

    def answer(response: httpx.Response) -> tuple[int, str, list[str]]:
        body = response.json()
        return response.status_code, body["type"], [e["rule"] for e in body["errors"]]

    assert answer(closing) == answer(never)
    assert closing.status_code == 409
    assert unpacking.status_code == 409
    assert unpacking.json()["errors"][0]["rule"] == "known-parent"
    assert repack.status_code == 409, repack.text
    assert repack.json()["errors"][0]["rule"] == "in-scope"
    assert await _events(world, "aggregation") == before


async def test_another_cmos_key_cannot_pack_our_units_not_yet_commissioned_as_pending(world: World) -> None:
    """Issued for ACME's batch but not commissioned yet, a unit is unknown to aggregation: OTHER
    packed it as pending before. Now a narrowed key's pending unit must carry the lot of a batch
    of its own; our units, whatever their state, all get one answer that tells nothing."""
    before = await _events(world, "aggregation")
    issued, commissioned = world.acme_serials[3], world.acme_serials[0]
    children = {
        "issued": _unit(GTIN_A, issued),
        "issued, our lot": f"{_unit(GTIN_A, issued)}(10)ACME-1",
        "commissioned": _unit(GTIN_A, commissioned),
        "never issued": _unit(GTIN_A, "NOSUCHSERIAL"),
    }
    async with await _client(world, Role.cmo, **OTHER_CMO) as other:
        answers = {}
        for name, child in children.items():
            refused = await other.post("/v1/pack", json=_pack(world.a_ssccs[1], [child], line=OWN))
            assert refused.status_code == 409, (name, refused.text)
            (error,) = refused.json()["errors"]
            answers[name] = (error["rule"], error["message"].split(" ", 1)[1])
        assert await _events(world, "aggregation") == before
        own_lot = await other.post(
            "/v1/pack", json=_pack(world.a_ssccs[1], [f"{_unit(GTIN_A, 'OTHERNEW0001')}(10)OTHER-1"], line=OWN)
        )
    assert len(set(answers.values())) == 1, answers
    assert next(iter(answers.values()))[0] == "in-scope"
    assert own_lot.status_code == 201, own_lot.text
    assert own_lot.json()["pending_children"] == [f"https://id.gs1.org/01/{GTIN_A}/21/OTHERNEW0001"]


async def test_another_cmos_key_cannot_read_stream_or_commission_our_serials(world: World) -> None:
    before = await _events(world, "serial_issuance")
    serial = world.acme_serials[0]
    async with await _client(world, Role.cmo, **OTHER_CMO) as other:
        status = await other.get(f"/v1/serials/{GTIN_A}/{serial}")
        unknown = await other.get(f"/v1/serials/{GTIN_A}/NOSUCHSERIAL")
        streamed = await other.get(f"/v1/serial-requests/{world.acme_request}/serials")
        taken = await _commission(other, GTIN_A, "OTHER-1", [world.acme_serials[5]], line=OWN)
    assert status.status_code == unknown.status_code == 404
    assert streamed.status_code == 404
    assert taken.status_code == 422, taken.text
    assert taken.json()["errors"][0]["rule"] == "issued-for-gtin"
    assert await _events(world, "serial_issuance") == before
    own = {"company_prefixes": frozenset({"9506000"}), "cmos": frozenset({"ACME"})}
    async with await _client(world, Role.cmo, **own) as acme:
        assert (await acme.get(f"/v1/serials/{GTIN_A}/{serial}")).status_code == 200
        assert (await acme.get(f"/v1/serial-requests/{world.acme_request}/serials")).status_code == 200


async def test_ancestors_and_sscc_requests_of_another_company_are_not_readable(world: World) -> None:
    async with await _client(world, Role.line, **B_LINE) as b_line:
        ancestors = await b_line.get(f"/v1/ancestors/{world.acme_case}")
        listing = await b_line.get(f"/v1/sscc-requests/{world.a_sscc_request}/ssccs")
        unknown_listing = await b_line.get(f"/v1/sscc-requests/{uuid.uuid4()}/ssccs")
    assert ancestors.status_code == 403
    assert listing.status_code == unknown_listing.status_code == 404
    async with await _client(world, Role.cmo, **OTHER_CMO) as other:
        hidden = await other.get(f"/v1/ancestors/{_unit(GTIN_A, world.acme_serials[0])}")
    assert hidden.status_code == 200
    assert hidden.json()["ancestors"] == []
    admin = await world.harness.client.get(f"/v1/ancestors/{_unit(GTIN_A, world.acme_serials[0])}")
    assert [a["id"] for a in admin.json()["ancestors"]] == [world.acme_case, world.acme_pallet]


async def test_a_scoped_principal_cannot_read_a_whole_log(world: World) -> None:
    narrowed = {"company_prefixes": frozenset({"4000001"})}
    async with await _client(world, Role.auditor, **narrowed) as auditor:
        response = await auditor.get("/v1/audit-trail/serial_issuance")
    assert response.status_code == 403
    assert "lacks scope over every audit-trail" in response.json()["detail"]


async def test_a_hidden_resource_is_recorded_as_refused(world: World) -> None:
    async with await _client(world, Role.cmo, **OTHER_CMO) as other:
        assert (await other.get(f"/v1/serials/{GTIN_A}/{world.acme_serials[1]}")).status_code == 404
    events = await PostgresEventStore(world.harness.composition.app_pool, "serial_issuance").read_all(0, 100_000)
    hidden = [e.payload for e in events if e.event_type == AccessRefused.EVENT_TYPE and e.payload["status"] == 404]
    assert any(p["path"].endswith(world.acme_serials[1]) and "cmo:ACME" in p["reason"] for p in hidden)


A_OTHER_LINE = {"company_prefixes": frozenset({"9506000"}), "lines": frozenset({"LINE-2"})}


async def test_another_lines_key_cannot_touch_or_read_parents_formed_on_our_line(world: World) -> None:
    """The second review: a LINE-1 key packed into, unpacked and closed LINE-2's cases, then
    read them through a parent of its own. A parent belongs to the line it was formed on."""
    before = await _events(world, "aggregation")
    async with await _client(world, Role.line, **A_OTHER_LINE) as line_2:
        never_used = world.a_ssccs[-1]
        packing = await line_2.post(
            "/v1/pack", json={**_pack(world.acme_case, [_unit(GTIN_A, "NEWUNIT00002")]), "line_id": "LINE-2"}
        )
        unpack = {"parent": world.acme_case, "reason": "rework", "line_id": "LINE-2", "event_time": moment()}
        unpacking = await line_2.post("/v1/unpack", json=unpack)
        closing = await line_2.post(f"/v1/close/{world.acme_case}", json={"line_id": "LINE-2"})
        closing_unknown = await line_2.post(f"/v1/close/{never_used}", json={"line_id": "LINE-2"})
        tree = await line_2.get(f"/v1/hierarchy/{world.acme_pallet}")
        ancestors = await line_2.get(f"/v1/ancestors/{_unit(GTIN_A, world.acme_serials[0])}")
        unknown_tree = await line_2.get(f"/v1/hierarchy/{never_used}")
    assert (packing.status_code, packing.json()["errors"][0]["rule"]) == (409, "in-scope")
    assert unpacking.status_code == 409
    rules = [(r.status_code, [e["rule"] for e in r.json()["errors"]]) for r in (closing, closing_unknown)]
    assert rules[0] == rules[1] == (409, ["known-parent"])  # answered as one never used
    assert (tree.status_code, unknown_tree.status_code) == (404, 404)
    assert (ancestors.status_code, ancestors.json()["ancestors"]) == (200, [])  # the case and pallet are LINE-1's
    assert await _events(world, "aggregation") == before


async def test_a_narrowed_key_is_not_told_which_parent_holds_a_unit(world: World) -> None:
    """The third review: a LINE-2 key packing a unit that sits in a LINE-1 case was told that
    case's SSCC, which it cannot read. A narrowed principal learns only that the unit is packed."""
    packed_unit = _unit(GTIN_A, world.acme_serials[0])  # in ACME's case, formed on LINE-1
    before = await _events(world, "aggregation")
    async with await _client(world, Role.line, **A_OTHER_LINE) as line_2:
        answer = await line_2.post("/v1/pack", json={**_pack(world.a_ssccs[2], [packed_unit]), "line_id": "LINE-2"})
    assert answer.status_code == 409, answer.text
    (error,) = answer.json()["errors"]
    assert error["rule"] == "not-already-packed"
    assert "another parent" in error["message"]
    assert world.acme_case not in answer.text
    assert await _events(world, "aggregation") == before
    whole_company = await world.harness.client.post("/v1/pack", json=_pack(world.a_ssccs[2], [packed_unit]))
    assert world.acme_case in whole_company.json()["errors"][0]["message"]  # an unnarrowed key is told where


async def test_a_unit_claimed_for_another_batch_is_an_error_once_commissioned(world: World) -> None:
    """The third review: OTHER packed a unit issued for ACME's batch, not yet commissioned, by
    scanning it with OTHER's own lot. Aggregation cannot tell then (serials are derived with a
    key it does not hold); once the unit is commissioned into ACME's batch the link is an error
    in ACME's report. Meanwhile ACME's report does not list OTHER's pending units (it did, by GTIN)."""
    claimed = _unit(GTIN_A, world.acme_serials[4])
    async with await _client(world, Role.cmo, **OTHER_CMO) as other:
        packing = await other.post("/v1/pack", json=_pack(world.a_ssccs[3], [f"{claimed}(10)OTHER-1"], line=OWN))
    assert packing.status_code == 201, packing.text
    uri = packing.json()["pending_children"][0]
    acme_scope = {"company_prefixes": frozenset({"9506000"}), "cmos": frozenset({"ACME"})}
    report_url = f"/v1/batches/{GTIN_A}/ACME-1/aggregation-report"
    async with await _client(world, Role.cmo, **acme_scope) as acme:
        before = (await acme.get(report_url)).json()
        assert uri not in str(before["pending_links"])
        await _ok(await _commission(world.harness.client, GTIN_A, "ACME-1", [world.acme_serials[4]]))

        latest: dict[str, Any] = {}

        async def flagged() -> bool:
            latest.update((await acme.get(report_url)).json())
            return bool(latest["errors"]["count"] > before["errors"]["count"])

        await until(flagged, timeout=30)
        report = latest
    problem = "packed as lot OTHER-1, commissioned into lot ACME-1"
    # ACME is told of the error, not of OTHER's case (formed on OTHER's line): counted, not named.
    assert {"child": uri, "parent": None, "problem": problem} in report["errors"]["items"]
    whole = (await world.harness.client.get(report_url)).json()
    assert {"child": uri, "parent": world.a_ssccs[3], "problem": problem} in whole["errors"]["items"]
    assert report["complete"] is False


async def test_a_narrowed_key_cannot_pack_another_partys_case_into_its_own_pallet(world: World) -> None:
    """The fourth review: OTHER (a CMO key) and a LINE-2 key each packed a case of ACME's, formed
    on LINE-1, into a pallet of their own (201), taking it from its owner. A case or pallet packed
    is whose its contents and its line make it, as a parent is."""
    acme_case = world.a_ssccs[4]
    await _ok(
        await world.harness.client.post("/v1/pack", json=_pack(acme_case, [_unit(GTIN_A, world.acme_serials[2])]))
    )
    before = await _events(world, "aggregation")
    async with await _client(world, Role.cmo, **OTHER_CMO) as other:
        by_cmo = await other.post("/v1/pack", json=_pack(world.a_ssccs[5], [acme_case], "pallet", line=OWN))
    async with await _client(world, Role.line, **A_OTHER_LINE) as line_2:
        by_line = await line_2.post(
            "/v1/pack", json={**_pack(world.a_ssccs[6], [acme_case], "pallet"), "line_id": "LINE-2"}
        )
    for refused in (by_cmo, by_line):
        assert refused.status_code == 409, refused.text
        assert [e["rule"] for e in refused.json()["errors"]] == ["in-scope"]
    assert await _events(world, "aggregation") == before


async def test_a_line_key_reads_a_batch_report_without_other_lines_parents(world: World) -> None:
    """The fourth review: a line key's batch report named cases formed on other lines (which it
    reads as unknown). They are counted, their ids withheld."""
    url = f"/v1/batches/{GTIN_A}/ACME-1/aggregation-report"
    whole = (await world.harness.client.get(url)).json()
    async with await _client(world, Role.line, **A_OTHER_LINE) as line_2:
        seen = (await line_2.get(url)).json()
    assert world.acme_case in [p["id"] for p in whole["open_parents"]["items"]]
    assert seen["open_parents"]["count"] == whole["open_parents"]["count"] > 0
    named = [p["id"] for p in seen["open_parents"]["items"] + seen["pending_parents"]["items"]]
    named += [link["parent"] for link in seen["pending_links"]["items"] + seen["errors"]["items"]]
    assert named
    assert set(named) == {None}  # every one of them was formed on another line (LINE-1, OTHER-L1)


async def test_a_line_key_cannot_pack_another_lines_bundle_into_its_own_case(world: World) -> None:
    """The session-22 review: a LINE-2 key packed a bundle formed on LINE-1 into a case of its
    own (201), taking it from its line, and its own case then answered 404 to it. A unit that
    holds units is whose its contents and its line make it, as an SSCC case is."""
    client = world.harness.client
    _, serials = await _serials(client, GTIN_A, "ACME-1", 3)
    await _ok(await _commission(client, GTIN_A, "ACME-1", serials))
    bundle = _unit(GTIN_A, serials[0])
    await _ok(await client.post("/v1/pack", json=_pack(bundle, [_unit(GTIN_A, s) for s in serials[1:]], "bundle")))
    before = await _events(world, "aggregation")
    async with await _client(world, Role.line, **A_OTHER_LINE) as line_2:
        taken = await line_2.post("/v1/pack", json={**_pack(world.a_ssccs[7], [bundle]), "line_id": "LINE-2"})
    assert taken.status_code == 409, taken.text
    assert [e["rule"] for e in taken.json()["errors"]] == ["in-scope"]
    assert await _events(world, "aggregation") == before
