"""Role x scope x endpoint → allowed / forbidden / hidden, against the real app.

Every /v1 endpoint of every service must appear in ENDPOINTS; the test fails when a new
route is added without extending the matrix."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from issuance_helpers import GLN, GTIN, LOT, batch, product
from serialtrail.services import SERVICES
from serialtrail_contracts.identity import UNSCOPED_BY_DEFAULT, Role, Scope
from serialtrail_gs1.keys import sscc
from serialtrail_kit.access.authz import MARKER
from serialtrail_kit.access.permissions import by_name
from serialtrail_kit.http import audit_trail
from serialtrail_kit.testing.harness import Harness, serve

IN_SCOPE = Scope(company_prefixes=frozenset({"9506000"}), sites=frozenset({GLN}), lines=frozenset({"LINE-1"}))
OUT_OF_SCOPE = Scope(
    company_prefixes=frozenset({"4000001"}), sites=frozenset({"4000001000005"}), lines=frozenset({"X"})
)


@dataclass(frozen=True)
class Endpoint:
    method: str
    route: str  # the route template, as FastAPI knows it
    path: Callable[[dict[str, str]], str]
    permission: str  # its name, as declared by the service
    scoped: bool  # does the request name something scoped (so out-of-scope is refused)?
    by_id: bool = False  # addressed by an id: out of scope must look like "not found"
    body: Callable[[], dict[str, Any]] | None = None


def _fresh_sscc() -> str:
    return f"https://id.gs1.org/00/{sscc(0, '9506000', 5000 + uuid.uuid4().int % 100_000)}"


def _fresh_unit() -> str:
    return f"(01){GTIN}(21)M{uuid.uuid4().hex[:11].upper()}"


def _pack() -> dict[str, Any]:
    return {
        "parent": _fresh_sscc(),
        "packaging_level": "case",
        "children": [_fresh_unit()],
        "line_id": "LINE-1",
        "event_time": "2026-11-22T08:00:00Z",
    }


def _commission() -> dict[str, Any]:
    return {
        "gtin": GTIN,
        "serials": ["NOT-ISSUED-1"],
        "lot": LOT,
        "line_id": "LINE-1",
        "event_time": "2026-11-22T08:00:00Z",
    }


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/products",
        lambda _: "/v1/products",
        "master-data:write",
        True,
        body=lambda: {
            "gtin": GTIN,
            "company_prefix_length": 7,
            "name": "Paracetamol 500 mg",
            "serial_length": 12,
            "serial_alphabet": "alphanumeric",
            "target_markets": ["DE"],
        },
    ),
    Endpoint("GET", "/v1/products/{gtin}", lambda _: f"/v1/products/{GTIN}", "master-data:read", True),
    Endpoint(
        "POST",
        "/v1/batches",
        lambda _: "/v1/batches",
        "batches:write",
        True,
        body=lambda: {"gtin": GTIN, "lot": LOT, "expiry": "2028-06-30", "site_gln": GLN},
    ),
    Endpoint("GET", "/v1/batches/{gtin}/{lot}", lambda _: f"/v1/batches/{GTIN}/{LOT}", "master-data:read", True),
    Endpoint(
        "POST",
        "/v1/serial-requests",
        lambda _: "/v1/serial-requests",
        "serials:request",
        True,
        body=lambda: {"gtin": GTIN, "quantity": 3},
    ),
    Endpoint(
        "GET",
        "/v1/serial-requests/{request_id}/serials",
        lambda ids: f"/v1/serial-requests/{ids['serials']}/serials",
        "serials:read",
        True,
        by_id=True,
    ),
    Endpoint(
        "POST",
        "/v1/serial-imports",
        lambda _: "/v1/serial-imports",
        "serials:import",
        True,
        body=lambda: {"gtin": GTIN, "source": "CMO", "serials": [f"IMP{uuid.uuid4().hex[:10].upper()}"]},
    ),
    Endpoint(
        "POST",
        "/v1/sscc-requests",
        lambda _: "/v1/sscc-requests",
        "sscc:request",
        True,
        body=lambda: {"company_prefix": "9506000", "extension_digit": 1, "quantity": 2},
    ),
    Endpoint(
        "GET",
        "/v1/sscc-requests/{request_id}/ssccs",
        lambda ids: f"/v1/sscc-requests/{ids['ssccs']}/ssccs",
        "serials:read",
        True,
        by_id=True,
    ),
    Endpoint(
        "POST",
        "/v1/commissioning",
        lambda _: "/v1/commissioning",
        "serials:commission",
        True,
        body=_commission,
    ),
    Endpoint(
        "GET",
        "/v1/serials/{gtin}/{serial}",
        lambda ids: f"/v1/serials/{GTIN}/{ids['serial']}",
        "serials:read",
        True,
    ),
    Endpoint(
        "GET",
        "/v1/batches/{gtin}/{lot}/serial-summary",
        lambda _: f"/v1/batches/{GTIN}/{LOT}/serial-summary",
        "serials:read",
        True,
    ),
    Endpoint("POST", "/v1/pack", lambda _: "/v1/pack", "aggregation:pack", True, body=_pack),
    Endpoint(
        "POST",
        "/v1/packings",
        lambda _: "/v1/packings",
        "aggregation:pack",
        True,
        body=lambda: {"packs": [_pack()], "line_id": "LINE-1", "event_time": "2026-11-22T08:00:00Z"},
    ),
    Endpoint(
        "POST",
        "/v1/unpack",
        lambda _: "/v1/unpack",
        "aggregation:pack",
        True,
        body=lambda: {
            "parent": _fresh_sscc(),
            "children": [_fresh_unit()],
            "reason": "rework",
            "line_id": "LINE-1",
            "event_time": "2026-11-22T08:00:00Z",
        },
    ),
    Endpoint(
        "POST",
        "/v1/close/{parent:path}",
        lambda _: f"/v1/close/{_fresh_sscc()}",
        "aggregation:pack",
        True,
        body=lambda: {"line_id": "LINE-1"},
    ),
    Endpoint(
        "GET",
        "/v1/hierarchy/{object_id:path}",
        lambda ids: f"/v1/hierarchy/{ids['case']}",
        "aggregation:read",
        True,
        by_id=True,
    ),
    Endpoint(
        "GET",
        "/v1/ancestors/{object_id:path}",
        lambda ids: f"/v1/ancestors/(01){GTIN}(21){ids['serial']}",
        "aggregation:read",
        True,
    ),
    Endpoint(
        "GET",
        "/v1/batches/{gtin}/{lot}/aggregation-report",
        lambda _: f"/v1/batches/{GTIN}/{LOT}/aggregation-report",
        "aggregation:read",
        True,
    ),
    Endpoint(
        "POST",
        "/v1/api-keys",
        lambda _: "/v1/api-keys",
        "identity:admin",
        False,
        body=lambda: {"name": "matrix", "role": "auditor"},
    ),
    Endpoint("GET", "/v1/api-keys", lambda _: "/v1/api-keys", "identity:admin", False),
    Endpoint(
        "POST",
        "/v1/api-keys/{key_id}/revoke",
        lambda ids: f"/v1/api-keys/{ids['key']}/revoke",
        "identity:admin",
        False,
        body=lambda: {"reason": "matrix"},
    ),
    Endpoint("GET", "/v1/access-audit", lambda _: "/v1/access-audit", "access-audit:read", False),
    Endpoint(
        "GET", "/v1/audit-trail/{service}", lambda _: "/v1/audit-trail/serial_issuance", "audit-trail:read", False
    ),
    Endpoint(
        "POST",
        "/v1/audit-trail/{service}/{global_position}/signatures",
        lambda _: "/v1/audit-trail/serial_issuance/1/signatures",
        "records:sign",
        False,
        body=lambda: {"meaning": "reviewed", "credential": "SELF"},
    ),
    Endpoint(
        "GET",
        "/v1/audit-trail/{service}/signatures/{signature_id}",
        lambda ids: f"/v1/audit-trail/serial_issuance/signatures/{ids['signature']}",
        "signatures:read",
        False,
    ),
]

# Every permission the composed services and the kit's own routes declare, by name.
PERMISSIONS = by_name([*audit_trail.ALL, *(p for s in SERVICES for p in s.permissions)])

PRINCIPALS = [(role, None) for role in sorted(UNSCOPED_BY_DEFAULT)] + [
    (role, scope) for role in (Role.cmo, Role.line, Role.partner) for scope in (IN_SCOPE, OUT_OF_SCOPE)
]


def expected(endpoint: Endpoint, role: Role, scope: Scope | None) -> str:
    if not PERMISSIONS[endpoint.permission].allows(role):
        return "forbidden"
    if endpoint.scoped and scope is OUT_OF_SCOPE:
        return "hidden" if endpoint.by_id else "forbidden"
    return "allowed"


@pytest.fixture(scope="module")
async def world(postgres_admin_dsn: str) -> AsyncIterator[tuple[Harness, dict[str, str]]]:
    import asyncpg

    name = f"matrix_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = postgres_admin_dsn.rsplit("/", 1)[0] + "/" + name
    try:
        async with serve(dsn, SERVICES) as harness:
            await product(harness.client)
            await batch(harness.client)
            serials = await harness.client.post("/v1/serial-requests", json={"gtin": GTIN, "quantity": 3})
            ssccs = await harness.client.post(
                "/v1/sscc-requests", json={"company_prefix": "9506000", "extension_digit": 0, "quantity": 2}
            )
            listed = await harness.client.get(serials.json()["serials_url"])
            case = _fresh_sscc()
            packed = await harness.client.post(
                "/v1/pack", json={**_pack(), "parent": case, "children": [f"(01){GTIN}(21){listed.text.split()[0]}"]}
            )
            assert packed.status_code == 201, packed.text
            key_id, _ = await harness.issue_key(name="victim", role=Role.auditor)
            qa = await harness.token(Role.qa)
            async with harness.client_with(qa) as signer:
                signature = await signer.post(
                    "/v1/audit-trail/serial_issuance/1/signatures", json={"meaning": "reviewed", "credential": qa}
                )
                assert signature.status_code == 201, signature.text
            yield (
                harness,
                {
                    "signature": signature.json()["signature_id"],
                    "serials": serials.json()["request_id"],
                    "ssccs": ssccs.json()["request_id"],
                    "serial": listed.text.split()[0],
                    "key": key_id,
                    "case": case,
                },
            )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_every_v1_route_requires_a_principal_and_is_in_the_matrix(world: tuple[Harness, dict[str, str]]) -> None:
    harness, _ = world
    declared = {(e.method, e.route): e.permission for e in ENDPOINTS}
    for route in harness.composition.app.routes:
        if not isinstance(route, APIRoute) or not route.path.startswith("/v1/"):
            continue
        permissions = [getattr(d.call, MARKER).name for d in route.dependant.dependencies if hasattr(d.call, MARKER)]
        for method in route.methods or ():
            assert (method, route.path) in declared, f"{method} {route.path} is missing from the matrix"
            assert declared[(method, route.path)] in permissions, f"{method} {route.path} declares no requirement"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.route}")
async def test_without_credentials_every_endpoint_is_401(
    world: tuple[Harness, dict[str, str]], endpoint: Endpoint
) -> None:
    harness, ids = world
    async with harness.client_with(None) as anonymous:
        body = endpoint.body() if endpoint.body else None
        response = await anonymous.request(endpoint.method, endpoint.path(ids), json=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("role", "scope"),
    PRINCIPALS,
    ids=lambda p: str(
        p.value
        if isinstance(p, Role)
        else ("in-scope" if p is IN_SCOPE else "out-of-scope" if p is OUT_OF_SCOPE else "unscoped")
    ),
)
async def test_role_scope_endpoint_matrix(
    world: tuple[Harness, dict[str, str]], role: Role, scope: Scope | None
) -> None:
    harness, ids = world
    token = await harness.token(role, scope)
    async with harness.client_with(token) as client:
        for endpoint in ENDPOINTS:
            if endpoint.route == "/v1/api-keys/{key_id}/revoke":
                key_id, _ = await harness.issue_key(name="victim", role=Role.auditor)
                ids = {**ids, "key": key_id}
            body = endpoint.body() if endpoint.body else None
            if body is not None and body.get("credential") == "SELF":
                body["credential"] = token
            response = await client.request(endpoint.method, endpoint.path(ids), json=body)
            want, where = expected(endpoint, role, scope), f"{role.value} {endpoint.method} {endpoint.route}"
            if want == "allowed":
                assert response.status_code not in (401, 403, 404), f"{where}: {response.text}"
            elif want == "forbidden":
                assert response.status_code == 403, f"{where}: {response.text}"
                assert ("lacks permission" in response.json()["detail"]) or ("lacks scope" in response.json()["detail"])
            else:
                assert response.status_code == 404, f"{where}: {response.text}"
