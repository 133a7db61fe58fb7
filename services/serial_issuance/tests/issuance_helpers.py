"""Shared request builders for the serial issuance tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
from serialtrail_kit.testing.clock import moment

GTIN = "09506000134352"
GLN = "9506000000008"
LOT = "L2026A"
EXPIRY = date(datetime.now(UTC).year + 2, 6, 30).isoformat()  # plausible whenever the tests run


async def product(client: httpx.AsyncClient, gtin: str = GTIN, **overrides: Any) -> dict[str, Any]:
    body = {
        "gtin": gtin,
        "company_prefix_length": 7,
        "name": "Paracetamol 500 mg",
        "serial_length": 12,
        "serial_alphabet": "alphanumeric",
        "target_markets": ["DE"],
        **overrides,
    }
    response = await client.post("/v1/products", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def batch(
    client: httpx.AsyncClient, gtin: str = GTIN, lot: str = LOT, *, site_gln: str = GLN, cmo_id: str | None = None
) -> None:
    body = {"gtin": gtin, "lot": lot, "expiry": EXPIRY, "site_gln": site_gln, "cmo_id": cmo_id}
    response = await client.post("/v1/batches", json=body)
    assert response.status_code == 201, response.text


async def site(
    client: httpx.AsyncClient, gln: str = GLN, *, cmo_id: str | None = None, lines: tuple[str, ...] = ("LINE-1",)
) -> dict[str, Any]:
    """A site and its lines (each line's GLN extension is its id). Returns the site as answered."""
    body = {
        "gln": gln,
        "company_prefix_length": 7,
        "name": "Packaging plant",
        "address": {"street": "Industriestr. 1", "city": "Mainz", "postal_code": "55116", "country": "DE"},
        "cmo_id": cmo_id,
    }
    response = await client.post("/v1/sites", json=body)
    assert response.status_code == 201, response.text
    for line_id in lines:
        created = await client.post(f"/v1/sites/{gln}/lines", json={"line_id": line_id, "name": f"Line {line_id}"})
        assert created.status_code == 201, created.text
    return dict((await client.get(f"/v1/sites/{gln}")).json())


async def serials(client: httpx.AsyncClient, quantity: int, gtin: str = GTIN, lot: str | None = LOT) -> list[str]:
    response = await client.post("/v1/serial-requests", json={"gtin": gtin, "lot": lot, "quantity": quantity})
    assert response.status_code == 201, response.text
    listing = await client.get(response.json()["serials_url"])
    assert listing.status_code == 200, listing.text
    return listing.text.splitlines()


async def commission(client: httpx.AsyncClient, values: list[str], gtin: str = GTIN, lot: str = LOT) -> httpx.Response:
    return await client.post(
        "/v1/commissioning",
        json={
            "gtin": gtin,
            "serials": values,
            "lot": lot,
            "line_id": "LINE-1",
            "event_time": moment(),
        },
    )
