"""Serial issuance and aggregation composed: serials commissioned in one are packable in
the other, which learns of them only through serial issuance's log."""

from __future__ import annotations

from aggregation_helpers import pack_body
from issuance_helpers import GTIN, LOT, batch, commission, product, serials, site
from serialtrail.services import SERVICES
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import serve


async def test_commissioned_serials_and_allocated_ssccs_are_packable(database_dsn: str) -> None:
    async with serve(database_dsn, SERVICES) as harness:
        client = harness.client
        await product(client)
        await batch(client)
        await site(client)
        issued = await serials(client, 4)
        assert (await commission(client, issued)).status_code == 201
        ssccs = await client.post(
            "/v1/sscc-requests", json={"company_prefix": "9506000", "extension_digit": 0, "quantity": 1}
        )
        case = (await client.get(f"/v1/sscc-requests/{ssccs.json()['request_id']}/ssccs")).text.split()[0]
        await harness.runner("aggregation", "knowledge").caught_up()

        units = [f"(01){GTIN}(21){s}" for s in issued]
        packed = await client.post("/v1/pack", json=pack_body(case, units, event_time=moment()))
        assert packed.status_code == 201, packed.text
        assert (packed.json()["pending_children"], packed.json()["parent_pending"]) == ([], False)
        report = (await client.get(f"/v1/batches/{GTIN}/{LOT}/aggregation-report")).json()
        assert (report["commissioned"], report["aggregated"], report["pending_links"]["count"]) == (4, 4, 0)
        assert [p["id"] for p in report["open_parents"]["items"]] == [f"https://id.gs1.org/00/{case}"]
