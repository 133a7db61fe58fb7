"""A CMO reaches only its own batches; another CMO's batch answers like one that does not exist."""

from __future__ import annotations

from issuance_helpers import EXPIRY, GLN, GTIN, product, site
from serialtrail_contracts.identity import Role, Scope
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
