"""Serial allocation + streaming and commissioning throughput through the HTTP API."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from serialtrail_kit.testing.clock import moment

from bench.report import emit

RUNS = 5


def _gtin(index: int) -> str:
    body = f"0950600{index:06d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


async def _product(client: httpx.AsyncClient, gtin: str, lot: str) -> None:
    response = await client.post(
        "/v1/products",
        json={
            "gtin": gtin,
            "company_prefix_length": 7,
            "name": "bench",
            "serial_length": 12,
            "serial_alphabet": "alphanumeric",
        },
    )
    response.raise_for_status()
    batch = {"gtin": gtin, "lot": lot, "expiry": "2030-12-31", "site_gln": "9506000000008"}
    (await client.post("/v1/batches", json=batch)).raise_for_status()
    await _line(client)


async def _line(client: httpx.AsyncClient) -> None:
    """The site and the line "L1" the benchmarks record on (registering the same again is answered)."""
    address = {"street": "Benchstr. 1", "city": "Mainz", "postal_code": "55116", "country": "DE"}
    site = {"gln": "9506000000008", "company_prefix_length": 7, "name": "bench site", "address": address}
    (await client.post("/v1/sites", json=site)).raise_for_status()
    line = {"line_id": "L1", "name": "bench line"}
    (await client.post("/v1/sites/9506000000008/lines", json=line)).raise_for_status()


async def allocate_and_stream(base: str, key: str) -> None:
    runs = []
    async with httpx.AsyncClient(base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}) as client:
        for run in range(RUNS):
            gtin = _gtin(100 + run)
            await _product(client, gtin, "B1")
            started = time.perf_counter()
            created = await client.post("/v1/serial-requests", json={"gtin": gtin, "quantity": 1_000_000})
            created.raise_for_status()
            lines = 0
            async with client.stream("GET", created.json()["serials_url"]) as response:
                async for chunk in response.aiter_bytes():
                    lines += chunk.count(b"\n")
            runs.append(time.perf_counter() - started)
            assert lines == 1_000_000, lines
    emit("allocate+stream 1,000,000 serials over HTTP", runs, "s", "<= 1 s")


async def commissioning_throughput(
    base: str, key: str, total: int = 500_000, batch: int = 10_000, in_flight: int = 4
) -> None:
    runs = []
    async with httpx.AsyncClient(base_url=base, timeout=300, headers={"Authorization": f"Bearer {key}"}) as client:
        for run in range(3):
            gtin, lot = _gtin(200 + run), f"C{run}"
            await _product(client, gtin, lot)
            created = await client.post("/v1/serial-requests", json={"gtin": gtin, "lot": lot, "quantity": total})
            serials = (await client.get(created.json()["serials_url"])).text.splitlines()
            chunks = [serials[i : i + batch] for i in range(0, total, batch)]
            queue: asyncio.Queue[list[str]] = asyncio.Queue()
            for chunk in chunks:
                queue.put_nowait(chunk)

            async def worker(queue: asyncio.Queue[list[str]], gtin: str, lot: str) -> None:
                while not queue.empty():
                    chunk = queue.get_nowait()
                    body = {
                        "gtin": gtin,
                        "serials": chunk,
                        "lot": lot,
                        "line_id": "L1",
                        "event_time": moment(),
                    }
                    response = await client.post(
                        "/v1/commissioning", json=body, headers={"x-request-id": str(uuid.uuid4())}
                    )
                    response.raise_for_status()

            started = time.perf_counter()
            await asyncio.gather(*(worker(queue, gtin, lot) for _ in range(in_flight)))
            while (await client.get(f"/v1/batches/{gtin}/{lot}/serial-summary")).json()["commissioned"] < total:
                await asyncio.sleep(0.01)
            runs.append(total / (time.perf_counter() - started))
    emit(
        "commission via HTTP in batches of 10,000 until the read model caught up",
        runs,
        "serials/s",
        ">= 300,000 serials/s",
        total=total,
        in_flight=in_flight,
    )
