"""A refusal is recorded by the service that refused it, in its own hash-chained log, and the
identity service gathers every service's refusals into the access audit."""

from __future__ import annotations

from issuance_helpers import GTIN
from serialtrail.services import SERVICES
from serialtrail_contracts.identity import AccessRefused, Role, Scope
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.harness import serve
from serialtrail_kit.testing.waiting import until


async def test_each_service_records_its_own_refusals_and_the_audit_gathers_them(database_dsn: str) -> None:
    async with serve(database_dsn, SERVICES) as harness:
        line = await harness.token(Role.line, Scope(company_prefixes=frozenset({"9506000"})))
        async with harness.client_with(line) as client:
            assert (await client.post("/v1/products", json={"gtin": GTIN})).status_code == 403
            assert (await client.get("/v1/api-keys")).status_code == 403
        async with harness.client_with(None) as anonymous:
            assert (await anonymous.get("/v1/hierarchy/urn:epc:id:sscc:9506000.0000000001")).status_code == 401

        pool = harness.composition.app_pool
        refused = {}
        for service in ("serial_issuance", "identity", "aggregation"):
            events = await PostgresEventStore(pool, service).read_all(0, 10_000)
            refused[service] = [e.payload["path"] for e in events if e.event_type == AccessRefused.EVENT_TYPE]
        assert refused == {
            "serial_issuance": ["/v1/products"],
            "identity": ["/v1/api-keys"],
            "aggregation": ["/v1/hierarchy/urn:epc:id:sscc:9506000.0000000001"],
        }

        async def gathered() -> bool:
            audit = (await harness.client.get("/v1/access-audit")).json()
            return {(r["service"], r["path"]) for r in audit} >= {
                ("serial_issuance", "/v1/products"),
                ("identity", "/v1/api-keys"),
                ("aggregation", "/v1/hierarchy/urn:epc:id:sscc:9506000.0000000001"),
            }

        await until(gathered)
