"""Packing 100 pallets x 50 cases x 100 units through the API, and hierarchy latency."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx
import orjson
from serialtrail_kit.testing.clock import moment

from bench.report import emit
from bench.serials import _gtin, _product

PALLETS, CASES, UNITS = 100, 50, 100
RUNS = 3
LATENCY_SAMPLES = 300


async def _commissioned_units(client: httpx.AsyncClient, gtin: str, lot: str, total: int) -> list[str]:
    created = await client.post("/v1/serial-requests", json={"gtin": gtin, "lot": lot, "quantity": total})
    created.raise_for_status()
    serials = (await client.get(created.json()["serials_url"])).text.splitlines()
    for start in range(0, total, 10_000):
        body = {"gtin": gtin, "serials": serials[start : start + 10_000], "lot": lot, "line_id": "L1"}
        response = await client.post("/v1/commissioning", json={**body, "event_time": moment()})
        response.raise_for_status()
    return [f"(01){gtin}(21){s}" for s in serials]


async def _ssccs(client: httpx.AsyncClient, extension: int, quantity: int) -> list[str]:
    body = {"company_prefix": "9506000", "extension_digit": extension, "quantity": quantity}
    created = await client.post("/v1/sscc-requests", json=body)
    created.raise_for_status()
    return (await client.get(f"/v1/sscc-requests/{created.json()['request_id']}/ssccs")).text.split()


async def _wait_known(client: httpx.AsyncClient, gtin: str, lot: str, total: int) -> None:
    """Until aggregation has learnt of every commissioned unit (so nothing is packed pending)."""
    while True:
        report = await client.get(f"/v1/batches/{gtin}/{lot}/aggregation-report", params={"limit": 0})
        if report.status_code == 200 and report.json()["commissioned"] >= total:
            return
        await asyncio.sleep(0.5)


def _pallet_body(pallet: str, cases: list[str], units: list[str]) -> dict[str, Any]:
    packs = [
        {"parent": case, "packaging_level": "case", "children": units[i * UNITS : (i + 1) * UNITS]}
        for i, case in enumerate(cases)
    ]
    packs.append({"parent": pallet, "packaging_level": "pallet", "children": cases})
    return {"packs": packs, "line_id": "L1", "event_time": moment(minutes=1)}


async def _pack_all(client: httpx.AsyncClient, bodies: list[dict[str, Any]], in_flight: int) -> None:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker() -> None:
        while not queue.empty():
            # orjson on the client too: it shares the two cores with the server under test.
            body = orjson.dumps(queue.get_nowait())
            response = await client.post("/v1/packings", content=body, headers={"content-type": "application/json"})
            response.raise_for_status()
            assert not any(p["pending_children"] for p in response.json()["packs"])

    await asyncio.gather(*(worker() for _ in range(in_flight)))


async def packing_throughput(base: str, key: str, in_flight: int = 2) -> None:
    runs, latencies = [], []
    per_pallet = CASES * UNITS
    async with httpx.AsyncClient(base_url=base, timeout=300, headers={"Authorization": f"Bearer {key}"}) as client:
        for run in range(RUNS):
            gtin, lot = _gtin(300 + run), f"A{run}"
            await _product(client, gtin, lot)
            units = await _commissioned_units(client, gtin, lot, PALLETS * per_pallet)
            ssccs = await _ssccs(client, run + 1, PALLETS * (CASES + 1))
            await _wait_known(client, gtin, lot, len(units))
            pallets = ssccs[:PALLETS]
            bodies = [
                _pallet_body(
                    pallets[p],
                    ssccs[PALLETS + p * CASES : PALLETS + (p + 1) * CASES],
                    units[p * per_pallet : (p + 1) * per_pallet],
                )
                for p in range(PALLETS)
            ]
            started = time.perf_counter()
            await _pack_all(client, bodies, in_flight)
            caught_up = await client.get(f"/v1/hierarchy/{pallets[-1]}")  # waits for the read model to catch up
            caught_up.raise_for_status()
            runs.append(len(units) / (time.perf_counter() - started))
            latencies += await _hierarchy_latency(client, pallets, per_pallet)
    emit(
        "pack 100 pallets x 50 cases x 100 units via POST /v1/packings (one pallet per request) until the read "
        "model caught up",
        runs,
        "units/s",
        ">= 50,000 units/s",
        in_flight=in_flight,
    )
    ordered = sorted(latencies)
    emit(
        "GET /v1/hierarchy/{pallet} of a 5,000-unit pallet, p99",
        [ordered[int(len(ordered) * 0.99) - 1] * 1000],
        "ms",
        "p99 <= 20 ms",
        p50_ms=round(statistics.median(ordered) * 1000, 2),
        samples=len(ordered),
    )


async def _hierarchy_latency(client: httpx.AsyncClient, pallets: list[str], per_pallet: int) -> list[float]:
    samples = []
    for i in range(LATENCY_SAMPLES // RUNS):
        started = time.perf_counter()
        response = await client.get(f"/v1/hierarchy/{pallets[i % len(pallets)]}")
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
        body = response.json()  # parsed outside the timed window: the latency is the server's
        assert body["counts"]["objects"] == per_pallet + CASES
    return samples
