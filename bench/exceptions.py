"""Line exceptions through the HTTP API (issue 13): single-unit records sent several at once,
as a line's systems send them, until the records read model caught up; and how long the
exception summary QA reviews takes for the batch holding them.

BENCH_EXCEPTIONS_RECORDS (default 100,000) scales it down, e.g. to 2,000 to check the script;
`python -m bench.exceptions` runs it alone. Its own server, so that the server's peak RSS is
this benchmark's."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
from serialtrail.served import running_process
from serialtrail_kit.testing.clock import moment

from bench.memory import status_mb
from bench.report import emit
from bench.serials import _gtin, _product

RECORDS = int(os.environ.get("BENCH_EXCEPTIONS_RECORDS", "100000"))
RUNS = 3
IN_FLIGHT = 8  # records on the wire at once (each a connection of its own)
COMMISSION_BATCH, COMMISSION_IN_FLIGHT = 10_000, 4  # as the commissioning benchmark sends them
LATENCY_SAMPLES = 200  # per run
TYPES = ("damaged", "label-misprint")  # both take the unit out of the supply chain
JSON = {"content-type": "application/json"}


async def _batch(client: httpx.AsyncClient, gtin: str, lot: str) -> None:
    batch = {"gtin": gtin, "lot": lot, "expiry": "2030-12-31", "site_gln": "9506000000008"}
    (await client.post("/v1/batches", json=batch)).raise_for_status()


async def _commission(client: httpx.AsyncClient, gtin: str, lot: str, total: int) -> list[str]:
    """`total` serials of the batch commissioned on L1, as fast as the API takes them."""
    created = await client.post("/v1/serial-requests", json={"gtin": gtin, "lot": lot, "quantity": total})
    created.raise_for_status()
    serials = (await client.get(created.json()["serials_url"])).text.splitlines()
    assert len(serials) == total, len(serials)
    chunks = iter(range(0, total, COMMISSION_BATCH))

    async def worker() -> None:
        for start in chunks:
            body = {"gtin": gtin, "serials": serials[start : start + COMMISSION_BATCH], "lot": lot, "line_id": "L1"}
            response = await client.post("/v1/commissioning", json={**body, "event_time": moment()})
            response.raise_for_status()

    await asyncio.gather(*(worker() for _ in range(COMMISSION_IN_FLIGHT)))
    return serials


def _record(gtin: str, lot: str, kind: str, unit: str) -> dict[str, Any]:
    return {
        "type": kind,
        "batch": {"gtin": gtin, "lot": lot},
        "units": [unit],
        "line_id": "L1",
        "event_time": moment(),
        "description": f"{kind} at the vision station",
        "observed_by": "bench line operator",
    }


async def _settled(client: httpx.AsyncClient, gtin: str, lot: str, probe_lot: str, probe: str, total: int) -> None:
    """Until every service has learnt of the commissioned units, so the clock starts on a quiet
    server: serial issuance's and aggregation's counts, and line exceptions taking a record of
    `probe` (commissioned last, in a lot of its own) rather than refusing it as unknown."""
    async with asyncio.timeout(600):
        while (await client.get(f"/v1/batches/{gtin}/{lot}/serial-summary")).json()["commissioned"] < total:
            await asyncio.sleep(0.2)
        while True:
            report = await client.get(f"/v1/batches/{gtin}/{lot}/aggregation-report", params={"limit": 0})
            if report.status_code == 200 and report.json()["commissioned"] >= total:
                break
            await asyncio.sleep(0.2)
        while True:
            recorded = await client.post("/v1/exceptions", json=_record(gtin, probe_lot, "unreadable", probe))
            if recorded.status_code == 201:
                return
            assert recorded.status_code == 422, recorded.text  # not yet known to line exceptions
            await asyncio.sleep(0.2)


async def _record_all(client: httpx.AsyncClient, gtin: str, lot: str, units: list[str], in_flight: int) -> None:
    indexes: Iterator[int] = iter(range(len(units)))

    async def worker() -> None:
        for i in indexes:
            # orjson on the client too: it shares the two cores with the server under test.
            body = orjson.dumps(_record(gtin, lot, TYPES[i % len(TYPES)], units[i]))
            response = await client.post("/v1/exceptions", content=body, headers=JSON)
            if response.status_code != 201:
                raise RuntimeError(f"record {i}: {response.status_code} {response.text}")

    await asyncio.gather(*(worker() for _ in range(in_flight)))


async def _summary(client: httpx.AsyncClient, gtin: str, lot: str) -> httpx.Response:
    """The batch's summary, read-your-writes: asked again while the read model is catching up (503)."""
    while True:
        response = await client.get(f"/v1/batches/{gtin}/{lot}/exception-summary")
        if response.status_code != 503:
            response.raise_for_status()
            return response


async def _aggregation_knows_taken_out(client: httpx.AsyncClient, gtin: str, lot: str) -> None:
    """Until aggregation has folded every unit taken out (none of the batch left loose), so the
    summary is timed, and the next run starts, on a quiet server."""
    async with asyncio.timeout(600):
        while True:
            report = await client.get(f"/v1/batches/{gtin}/{lot}/aggregation-report", params={"limit": 1})
            if report.status_code == 200 and report.json()["not_aggregated"]["count"] == 0:
                return
            await asyncio.sleep(0.2)


async def _summary_latency(client: httpx.AsyncClient, gtin: str, lot: str, total: int) -> list[float]:
    samples = []
    for _ in range(LATENCY_SAMPLES):
        started = time.perf_counter()
        response = await client.get(f"/v1/batches/{gtin}/{lot}/exception-summary")
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
        body = response.json()  # parsed outside the timed window: the latency is the server's
        assert (body["records"], body["units_taken_out"]) == (total, total), body
    return sorted(samples)


def _p99(ordered: list[float]) -> float:
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


async def _measure(base: str, key: str, total: int, in_flight: int) -> tuple[list[float], list[list[float]]]:
    rates, latencies = [], []
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=max(in_flight, COMMISSION_IN_FLIGHT), max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(base_url=base, timeout=300, headers=headers, limits=limits) as client:
        for run in range(RUNS):
            gtin, lot, probe_lot = _gtin(400 + run), f"X{run}", f"XP{run}"
            await _product(client, gtin, lot)
            await _batch(client, gtin, probe_lot)
            serials = await _commission(client, gtin, lot, total)
            (probe,) = await _commission(client, gtin, probe_lot, 1)
            await _settled(client, gtin, lot, probe_lot, f"(01){gtin}(21){probe}", total)
            units = [f"(01){gtin}(21){s}" for s in serials]

            started = time.perf_counter()
            await _record_all(client, gtin, lot, units, in_flight)
            caught_up = await _summary(client, gtin, lot)  # waits for the records read model to catch up
            rates.append(total / (time.perf_counter() - started))
            assert caught_up.json()["records"] == total, caught_up.json()

            await _aggregation_knows_taken_out(client, gtin, lot)
            latencies.append(await _summary_latency(client, gtin, lot, total))
    return rates, latencies


def exceptions_benchmark(total: int = RECORDS, in_flight: int = IN_FLIGHT) -> None:
    started = time.perf_counter()
    with running_process() as (base, key, process):
        rates, latencies = asyncio.run(_measure(base, key, total, in_flight))
        peak_rss_mb = round(status_mb(process.pid, "VmHWM:") or 0.0, 1)
    seconds = round(time.perf_counter() - started, 1)
    emit(
        f"exception records via POST /v1/exceptions ({total:,} single-unit records, {in_flight} in flight) "
        "until the records read model caught up",
        rates,
        "records/s",
        "report",
        records=total,
        in_flight=in_flight,
        types=list(TYPES),
        server_peak_rss_mb=peak_rss_mb,  # the serialtrail process (PostgreSQL's are its own)
        seconds=seconds,  # the whole benchmark: server start, commissioning, every run
    )
    emit(
        f"GET /v1/batches/{{gtin}}/{{lot}}/exception-summary of a batch with {total:,} records, p99",
        [_p99(run) * 1000 for run in latencies],
        "ms",
        "report",
        p50_ms=round(statistics.median([s for run in latencies for s in run]) * 1000, 2),
        p50_runs_ms=[round(statistics.median(run) * 1000, 2) for run in latencies],
        samples=sum(len(run) for run in latencies),
        server_peak_rss_mb=peak_rss_mb,
    )


if __name__ == "__main__":
    exceptions_benchmark()
