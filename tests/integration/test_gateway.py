"""The gateway routes every operation to the service that declares it, from the services' own
OpenAPI documents: each service composed alone (as in distributed mode) gives its document."""

from __future__ import annotations

import re
from typing import Any

import pytest
from serialtrail.services import SERVICES
from serialtrail_kit.http.gateway import combined_openapi, parse_upstreams
from serialtrail_kit.http.gateway_routes import RouteTable, routes_of
from serialtrail_kit.testing.harness import serve

DIGITAL_LINK = "https://id.gs1.org/01/09506000134352/21/ABC123"


async def documents(database_dsn: str) -> dict[str, dict[str, Any]]:
    found = {}
    for service in SERVICES:
        async with serve(database_dsn, [service]) as harness:
            found[service.name] = (await harness.client.get("/openapi.json")).json()
    return found


def concrete(template: str, operation: dict[str, Any]) -> str:
    parameters = operation.get("parameters", [])
    enums = {p["name"]: p["schema"]["enum"][0] for p in parameters if "enum" in p.get("schema", {})}
    return re.sub(r"\{([^}]+)\}", lambda m: str(enums.get(m.group(1), "X1")), template)


async def test_every_operation_reaches_the_service_that_declares_it(database_dsn: str) -> None:
    docs = await documents(database_dsn)
    table = RouteTable(route for name, doc in docs.items() for route in routes_of(name, doc))
    checked = 0
    for name, doc in docs.items():
        for template, item in doc["paths"].items():
            for method, operation in item.items():
                if template.startswith("/health"):
                    continue  # the gateway answers its own health
                found = table.find(method.upper(), concrete(template, operation))
                assert found is not None, f"{method} {template}"
                assert found.upstream == name, f"{method.upper()} {template} went to {found.upstream}, not {name}"
                checked += 1
    assert checked >= 25
    # Paths only the full set of documents tells apart, ids holding slashes, a method not served:
    assert table.find("GET", "/v1/batches/09506000134352/L1/aggregation-report").upstream == "aggregation"  # type: ignore[union-attr]
    assert table.find("GET", "/v1/batches/09506000134352/L1/serial-summary").upstream == "serial_issuance"  # type: ignore[union-attr]
    assert table.find("GET", f"/v1/hierarchy/{DIGITAL_LINK}").upstream == "aggregation"  # type: ignore[union-attr]
    for service in ("identity", "aggregation", "serial_issuance"):
        assert table.find("GET", f"/v1/audit-trail/{service}").upstream == service  # type: ignore[union-attr]
    unknown_log = table.find("GET", "/v1/audit-trail/nope")  # answered by a service: 404 known-log
    assert unknown_log is not None
    assert unknown_log.upstream in {s.name for s in SERVICES}
    refused = table.find("DELETE", "/v1/products")
    assert refused is not None
    assert refused.upstream is None
    assert "POST" in refused.allowed
    assert table.find("GET", "/v1/no-such-thing") is None

    combined = combined_openapi("Serialtrail", "test", docs)
    assert set(combined["paths"]) == {path for doc in docs.values() for path in doc["paths"]}
    parameters = combined["paths"]["/v1/audit-trail/{service}"]["get"]["parameters"]
    (trail,) = [p for p in parameters if p["name"] == "service"]
    assert trail["schema"]["enum"] == sorted(s.name for s in SERVICES)
    # What the gateway answers itself is declared beside each service's own refusals, once.
    for template, item in combined["paths"].items():
        for method, operation in item.items() if template.startswith("/v1/") else ():
            declared = [(d["status"], d["type"].rsplit("/", 1)[1]) for d in operation["x-serialtrail-problems"]]
            where = f"{method} {template}"
            assert {(502, "upstream-unavailable"), (408, "request-timeout"), (413, "too-large")} <= set(declared), where
            assert len(declared) == len(set(declared)), where
            assert "upstream-unavailable" in operation["responses"]["502"]["description"], where


def test_upstreams_name_every_service_once() -> None:
    names = ["aggregation", "identity"]
    given = "identity=http://identity:8000, aggregation=http://aggregation:8000/"
    assert parse_upstreams(given, names) == {
        "identity": "http://identity:8000",
        "aggregation": "http://aggregation:8000",
    }
    with pytest.raises(ValueError, match="missing: aggregation"):
        parse_upstreams("identity=http://identity:8000", names)
    with pytest.raises(ValueError, match="no service is called billing"):
        parse_upstreams(given + ",billing=http://b:1", names)
    with pytest.raises(ValueError, match="identity is named twice"):
        parse_upstreams(given + ",identity=http://other:8000", names)
    with pytest.raises(ValueError, match="is not name="):
        parse_upstreams("identity=identity:8000", names)
