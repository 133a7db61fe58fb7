"""A CMO reaches only its own batches; another CMO's batch answers like one that does not exist."""

from __future__ import annotations

from issuance_helpers import EXPIRY, GLN, GTIN, product, site
from serialtrail_contracts.identity import Role, Scope
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import Harness


async def test_a_cmo_reaches_only_its_own_batches(service: Harness) -> None:
    await product(service.client)
    for lot, cmo in (("ACME-1", "ACME"), ("OTHER-1", "OTHER")):
        response = await service.client.post(
            "/v1/batches", json={"gtin": GTIN, "lot": lot, "expiry": EXPIRY, "site_gln": GLN, "cmo_id": cmo}
        )
        assert response.status_code == 201, response.text
    await site(service.client, cmo_id="ACME", lines=("ACME-L1",))
    token = await service.token(Role.cmo, Scope(company_prefixes=frozenset({"9506000"}), cmos=frozenset({"ACME"})))
    async with service.client_with(token) as acme:
        own = await acme.post("/v1/serial-requests", json={"gtin": GTIN, "lot": "ACME-1", "quantity": 2})
        assert own.status_code == 201, own.text
        foreign = await acme.post("/v1/serial-requests", json={"gtin": GTIN, "lot": "OTHER-1", "quantity": 2})
        unknown = await acme.post("/v1/serial-requests", json={"gtin": GTIN, "lot": "NOPE", "quantity": 2})
        assert foreign.status_code == unknown.status_code == 422
        assert foreign.json()["errors"][0]["rule"] == unknown.json()["errors"][0]["rule"] == "registered-batch"
        assert (await acme.get(f"/v1/batches/{GTIN}/OTHER-1")).status_code == 404
        assert (await acme.get(f"/v1/batches/{GTIN}/OTHER-1/serial-summary")).status_code == 404
        assert (await acme.get(f"/v1/batches/{GTIN}/ACME-1")).status_code == 200
        commission = {
            "gtin": GTIN,
            "serials": ["X"],
            "lot": "OTHER-1",
            "line_id": "ACME-L1",
            "event_time": moment(),
        }
        assert (await acme.post("/v1/commissioning", json=commission)).json()["errors"][0]["rule"] == "registered-batch"
        for cmo_id in ("OTHER", None):
            body = {"gtin": GTIN, "lot": "NEW-1", "expiry": EXPIRY, "site_gln": GLN, "cmo_id": cmo_id}
            refused = await acme.post("/v1/batches", json=body)
            assert refused.status_code == 403
            assert "lacks scope cmo (" in refused.json()["detail"]
        mine = {"gtin": GTIN, "lot": "ACME-2", "expiry": EXPIRY, "site_gln": GLN, "cmo_id": "ACME"}
        assert (await acme.post("/v1/batches", json=mine)).status_code == 201


async def test_a_cmo_records_no_batch_at_another_cmos_site(service: Harness) -> None:
    """A site registered as another CMO's is theirs: no batch of ours is recorded as made there.
    A site of the company's own, or one not registered, names no CMO and is left as it was."""
    await product(service.client)
    others, own = "9506000000015", "9506000000022"
    await site(service.client, others, cmo_id="OTHER", lines=())
    await site(service.client, own, cmo_id="ACME", lines=())
    token = await service.token(Role.cmo, Scope(company_prefixes=frozenset({"9506000"}), cmos=frozenset({"ACME"})))
    async with service.client_with(token) as acme:
        for lot, gln, status in (("AT-OTHERS", others, 403), ("AT-OWN", own, 201), ("AT-UNREGISTERED", GLN, 201)):
            body = {"gtin": GTIN, "lot": lot, "expiry": EXPIRY, "site_gln": gln, "cmo_id": "ACME"}
            answered = await acme.post("/v1/batches", json=body)
            assert answered.status_code == status, (lot, answered.text)
        refused = await acme.post("/v1/batches", json=body | {"site_gln": others})
        assert "lacks scope cmo (" in refused.json()["detail"]
        assert "OTHER" not in refused.text
    assert (await service.client.get(f"/v1/batches/{GTIN}/AT-OTHERS")).status_code == 404


async def test_a_batch_made_at_a_cmos_site_is_that_cmos_whoever_registers_it(service: Harness) -> None:
    """Outside review: the company's key recorded ACME's batch at OTHER's site, and a batch with no
    CMO at a CMO's site (which that CMO's key could then never reach). Both are refused 422."""
    await product(service.client)
    others = "9506000000015"
    await site(service.client, others, cmo_id="OTHER", lines=())
    head = await PostgresEventStore(service.composition.app_pool, "serial_issuance").head()
    for cmo_id in ("ACME", None):
        body = {"gtin": GTIN, "lot": f"AT-OTHERS-{cmo_id}", "expiry": EXPIRY, "site_gln": others, "cmo_id": cmo_id}
        refused = await service.client.post("/v1/batches", json=body)
        assert refused.status_code == 422, refused.text
        assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("cmo_id", "made-by-sites-cmo")]
        assert "operated by CMO OTHER" in refused.json()["detail"]
    assert await PostgresEventStore(service.composition.app_pool, "serial_issuance").head() == head
    body = {"gtin": GTIN, "lot": "AT-OTHERS", "expiry": EXPIRY, "site_gln": others, "cmo_id": "OTHER"}
    assert (await service.client.post("/v1/batches", json=body)).status_code == 201


async def test_a_cmos_line_commissions_only_that_cmos_batches(service: Harness) -> None:
    """Outside review: a key narrowed to ACME's line (not to a CMO) commissioned OTHER's batch on it.
    A CMO's line makes that CMO's batches only, whoever sends the commissioning."""
    await product(service.client)
    for lot, cmo in (("ACME-1", "ACME"), ("OTHER-1", "OTHER"), ("OWN-1", None)):
        body = {"gtin": GTIN, "lot": lot, "expiry": EXPIRY, "site_gln": GLN, "cmo_id": cmo}
        assert (await service.client.post("/v1/batches", json=body)).status_code == 201
    await site(service.client, "9506000000015", cmo_id="ACME", lines=("ACME-L1",))
    token = await service.token(Role.line, Scope(company_prefixes=frozenset({"9506000"}), lines=frozenset({"ACME-L1"})))
    async with service.client_with(token) as line:
        for lot, status in (("OTHER-1", 422), ("OWN-1", 422), ("ACME-1", 201)):
            issued = await service.client.post("/v1/serial-requests", json={"gtin": GTIN, "lot": lot, "quantity": 1})
            serials = (await service.client.get(issued.json()["serials_url"])).text.split()
            commission = {"gtin": GTIN, "lot": lot, "serials": serials, "line_id": "ACME-L1", "event_time": moment()}
            answered = await line.post("/v1/commissioning", json=commission)
            assert answered.status_code == status, (lot, answered.text)
            if status == 422:
                assert [(e["field"], e["rule"]) for e in answered.json()["errors"]] == [("lot", "made-on-cmos-line")]
