"""Building requests to the EU Hub simulator for its tests. Product codes and serials are random
per test, so tests sharing one simulator never meet each other's data."""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import orjson

ALNUM = string.ascii_uppercase + string.digits
DAY = 24 * 3600.0
LOCATION = "GLN-4012345000009"


def key() -> str:
    return str(uuid.uuid4())


def gtin() -> str:
    """A random GTIN-14 whose check digit is computed here, independently of the simulator's rules."""
    body = "0" + "".join(secrets.choice(string.digits) for _ in range(12))
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def serials(n: int) -> list[str]:
    prefix = "".join(secrets.choice(ALNUM) for _ in range(8))
    return [f"{prefix}{i:08d}" for i in range(n)]


def yymmdd(days_from_today: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days_from_today)).strftime("%y%m%d")


LATER = yymmdd(3 * 365)


def product(version: int = 1, markets: Sequence[str] = ("DE",), scheme: str = "GTIN", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "coding_scheme": scheme,
        "version": version,
        "name": "Paracetamol 500 mg tablets",
        "common_name": "paracetamol",
        "pharmaceutical_form": "tablet",
        "strength": "500 mg",
        "pack_type": "blister pack in box",
        "pack_size": 20,
        "markets": [{"market": m, "national_code": f"NC-{m}-{version}"} for m in markets],
        "mah": {"name": "Example Pharma GmbH", "id": "MAH-0001"},
        "wholesalers": [{"name": "Wholesale AG", "id": "WH-1"}],
    }
    body.update(changes)
    return body


def chunk(
    codes: Sequence[object],
    expiry: str = LATER,
    upload_id: str | None = None,
    index: int = 0,
    count: int = 1,
    markets: Sequence[str] = ("DE",),
    version: int = 1,
) -> dict[str, Any]:
    return {
        "expiry": expiry,
        "master_data_version": version,
        "markets": list(markets),
        "upload_id": upload_id or key(),
        "chunk": {"index": index, "count": count},
        "serials": list(codes),
    }


def seg(text: str) -> str:
    """A path segment as a sender must send it (a batch id may hold a slash)."""
    return quote(text, safe="")


async def put_product(client: httpx.AsyncClient, code: str, body: Any, idem: str | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return await client.put(f"/v1/products/{seg(code)}", content=content, headers={"Idempotency-Key": idem or key()})


async def upload(
    client: httpx.AsyncClient, code: str, batch: str, body: Any, idem: str | None = None
) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    path = f"/v1/batches/{seg(code)}/{seg(batch)}/packs"
    return await client.post(path, content=content, headers={"Idempotency-Key": idem or key()})


async def new_product(client: httpx.AsyncClient, markets: Sequence[str] = ("DE",)) -> str:
    code = gtin()
    answer = await put_product(client, code, product(markets=markets))
    assert answer.status_code == 200, answer.text
    return code


async def new_batch(
    client: httpx.AsyncClient, n: int = 5, expiry: str = LATER, markets: Sequence[str] = ("DE",)
) -> tuple[str, str, list[str]]:
    """A product with one batch of n Active packs: (product code, batch id, serials)."""
    code = await new_product(client, markets)
    batch = "B-" + secrets.token_hex(4)
    packs = serials(n)
    answer = await upload(client, code, batch, chunk(packs, expiry=expiry, markets=markets))
    assert answer.status_code == 200, answer.text
    return code, batch, packs


async def get_batch(client: httpx.AsyncClient, code: str, batch: str) -> httpx.Response:
    return await client.get(f"/v1/batches/{seg(code)}/{seg(batch)}")


async def set_batch(
    client: httpx.AsyncClient, code: str, batch: str, state: str, idem: str | None = None
) -> httpx.Response:
    return await client.post(
        f"/v1/batches/{seg(code)}/{seg(batch)}/state",
        json={"state": state, "reason": "quality defect"},
        headers={"Idempotency-Key": idem or key()},
    )


async def change(
    client: httpx.AsyncClient,
    code: str,
    serial: str,
    state: str,
    batch: str,
    expiry: str = LATER,
    location: str = LOCATION,
    undo: bool = False,
) -> httpx.Response:
    body = {"batch_id": batch, "expiry": expiry, "state": state, "location": location, "undo": undo}
    return await client.post(
        f"/v1/packs/{seg(code)}/{seg(serial)}/state", json=body, headers={"Idempotency-Key": key()}
    )


def refused(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error body, after checking the status, the NMVS code and the error shape."""
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert len(body.get("details", [])) <= 10
    return body
