"""EPCIS capture end to end through the HTTP API (issue 14): the shared benchmark documents
(`../shared/bench`, the same generators other systems are measured with), EPCIS 1.2 XML of a lot's
line and shipping (`gen_epcis12.py 1000 100`: 2,301 events, 101,100 EPCs) and EPCIS 2.0 JSON-LD
commissioning events of the same size (`gen_epcis20.py 1011 100`), posted to `POST /v1/epcis/capture`
until every owner's read model reflects them: the job answers `running: false` (serial issuance,
where the commissioning events are routed, has decided) and serial issuance's serial summary counts
every commissioned serial. EPCs/s is distinct EPCs over the time from the first byte sent to then.

Before each (untimed) run, what the document names is registered so that serial issuance accepts
every commissioning: the unit and case products, the batch (the ILMD's lot and expiry) of each, the
site and line whose SGLN is the document's read point, and every SGTIN the document commissions,
imported for its product and batch. The document is then written again with its events starting now
(after the batch was registered, as serial issuance requires): `gen_epcis12.py --start NOW
--step-ms 1`; `gen_epcis20.py` has no such option, so its `build(..., start=NOW, step_ms=1)` is
called and written as its command line writes it. Each run has its own seed (its own lot and
serials: a serial is imported and commissioned once per product). A generator's serials are unique
within its document only (random 12-digit numbers), so two documents share a serial now and then
(about one chance in 17 for two of 100,000): a seed whose document shares a serial or lot with an
earlier run's on this server is passed over for the next (the seeds used are reported).

Also reported, under another name: the capturing service alone (the first byte sent until the 202,
when the document is read, checked and recorded, before its owners decide). Beside the end-to-end
figure: when the job finished, when the serial summaries counted, when EPCIS reporting's own event
query first answered the document's last SGTIN (asked once the job finished), and the job's
createdAt to finishedAt as the server recorded them."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from bench.report import emit, printed

# Beside the repository (../shared/bench), or where SERIALTRAIL_BENCH_SHARED says (a clone elsewhere).
SHARED = Path(
    os.environ.get("SERIALTRAIL_BENCH_SHARED") or Path(__file__).resolve().parents[1].parent / "shared" / "bench"
)
RUNS = 3
POLL = 0.05  # seconds between two reads of the job (and of the serial summaries)
DEADLINE = 900.0  # seconds a run may take before it is reported as failed
STEP_MS = 1  # between two events' times: the whole document within seconds of now
IMPORT_CHUNK = 50_000  # serials per POST /v1/serial-imports (the API takes 1 to 1,000,000, bodies <= 16 MiB)
SOURCE = "bench-capture"
TARGET = ">= 50,000 EPCs/s end to end on 2 cores"
# The products' serial format. "unpooled" (the default): 20 digits, so the documents' 12-digit serials are
# imported as a list outside the pool serial requests draw from (a CMO's own serials). "pooled"
# (SERIALTRAIL_BENCH_CAPTURE_SERIALS=pooled): 12 digits, as the documents' serials are, so every import
# reserves its serials' counters in the product's serial pool; serial issuance then folds the whole pool
# (a bisect.insort per reserved counter) for each commissioning event, seconds per event once 100,000
# serials are reserved, and each run's serials add to the next's: the figure is not reachable so (today).
SERIALS = os.environ.get("SERIALTRAIL_BENCH_CAPTURE_SERIALS", "unpooled")
SERIAL_LENGTH = {"unpooled": 20, "pooled": 12}


class CaptureFailed(RuntimeError):
    """The run did not end as it must (the job's errors included): no figure is reported."""


@dataclass(frozen=True)
class Shape:
    """A shared benchmark document: its generator, its arguments, its events and EPCs."""

    generator: str
    arguments: tuple[str, ...]
    media_type: str
    events: int
    epcs: int
    first_seed: int

    @property
    def label(self) -> str:
        return f"{self.generator} {' '.join(self.arguments)} ({self.media_type})"


# 101,100 EPCs each: gen_epcis12.py 1000 100, and a JSON-LD document of commissioning events as large.
JSON_LD = Shape("gen_epcis20.py", ("1011", "100"), "application/ld+json", 1_011, 101_100, 2000)
XML_1_2 = Shape("gen_epcis12.py", ("1000", "100"), "application/xml", 2_301, 101_100, 1000)


@dataclass(frozen=True)
class Named:
    """What a document names that serial issuance must know before it commissions."""

    serials: dict[str, list[str]]  # GTIN -> the serials of its SGTINs, in document order
    prefix_lengths: dict[str, int]  # GTIN -> its company prefix length, as the SGTIN URNs split it
    lot: str
    expiry: str
    site_gln: str
    site_prefix_length: int
    extension: str  # of the read point's SGLN: the line's


@dataclass
class Used:
    """The serials and lots of each product that earlier runs registered on this server."""

    serials: dict[str, set[str]] = field(default_factory=dict)
    lots: dict[str, set[str]] = field(default_factory=dict)

    def take(self, named: Named) -> bool:
        """Whether `named` is new (then it is taken), or shares a serial or lot with an earlier run's."""
        for gtin, serials in named.serials.items():
            if named.lot in self.lots.get(gtin, ()) or not self.serials.get(gtin, set()).isdisjoint(serials):
                return False
        for gtin, serials in named.serials.items():
            self.serials.setdefault(gtin, set()).update(serials)
            self.lots.setdefault(gtin, set()).add(named.lot)
        return True


@dataclass
class Run:
    seed: int
    preparation: float = 0.0  # seconds: writing the document twice, registering, importing
    accepted: float = 0.0  # the first byte sent until the 202
    job_finished: float = 0.0  # ... until the job answered running: false
    read_model: float = 0.0  # ... until every serial summary counted the document's serials
    queryable: float = 0.0  # ... until EPCIS reporting's event query answered the document's last SGTIN
    job_span: float = 0.0  # the job's createdAt to finishedAt, as the server recorded them
    size: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def end_to_end(self) -> float:
        return max(self.job_finished, self.read_model)


def capture_throughput(base: str, key: str) -> None:
    if not SHARED.exists():
        printed({"benchmark": "EPCIS capture", "skipped": f"{SHARED} not found"})
        return
    if SERIALS not in SERIAL_LENGTH:
        raise SystemExit(f"SERIALTRAIL_BENCH_CAPTURE_SERIALS is {SERIALS!r}: one of {', '.join(SERIAL_LENGTH)}")
    used, failed = Used(), []
    for shape in (JSON_LD, XML_1_2):
        try:
            asyncio.run(_capture(base, key, shape, used))
        except CaptureFailed as failure:  # no figure: the other document is still measured
            failed.append(shape.label)
            printed({"benchmark": f"EPCIS capture end to end, {shape.label}", "failed": str(failure)})
            print(f"EPCIS capture end to end, {shape.label} FAILED: {failure}", file=sys.stderr, flush=True)
    if failed:
        raise CaptureFailed(f"EPCIS capture end to end failed for {', '.join(failed)} (see above)")


async def _capture(base: str, key: str, shape: Shape, used: Used) -> None:
    runs: list[Run] = []
    load_before = os.getloadavg()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, timeout=DEADLINE, headers=headers) as client:
        with tempfile.TemporaryDirectory() as folder:
            seed = shape.first_seed
            for _ in range(RUNS):
                run = Run(seed=seed)
                body = await _prepare(client, shape, Path(folder), run, used)
                await _timed(client, shape, body, run)
                runs.append(run)
                seed = run.seed + 1
    load_after = os.getloadavg()
    accepted = [r.accepted for r in runs]
    emit(
        f"EPCIS capture end to end, {shape.label}: the first byte sent until the job finished and "
        "serial issuance's serial summary counts every serial commissioned",
        [shape.epcs / r.end_to_end for r in runs],
        "EPCs/s",
        TARGET,
        events=shape.events,
        epcs=shape.epcs,
        seeds=[r.seed for r in runs],
        bytes=runs[-1].size,
        serials=f"{SERIALS} (products' serials {SERIAL_LENGTH[SERIALS]} digits)",
        end_to_end_s=_seconds(r.end_to_end for r in runs),
        job_finished_s=_seconds(r.job_finished for r in runs),
        read_model_s=_seconds(r.read_model for r in runs),
        epcis_query_s=_seconds(r.queryable for r in runs),
        accepted_s=_seconds(accepted),
        job_created_to_finished_s=_seconds(r.job_span for r in runs),
        median_end_to_end_s=round(statistics.median(r.end_to_end for r in runs), 3),
        commissioned=runs[-1].counts,
        preparation_s=_seconds(r.preparation for r in runs),
        load_average_before=[round(x, 2) for x in load_before],
        load_average_after=[round(x, 2) for x in load_after],
    )
    emit(
        f"EPCIS capture accepted only (capturing service alone), {shape.label}: the first byte sent until "
        "the 202, owners not awaited",
        [shape.epcs / s for s in accepted],
        "EPCs/s",
        f"none of its own: a share of the end-to-end figure ({TARGET})",
        accepted_s=_seconds(accepted),
        median_accepted_s=round(statistics.median(accepted), 3),
    )


def _seconds(values: Any) -> list[float]:
    return [round(v, 3) for v in values]


# --- preparation (untimed) --------------------------------------------------------------------------


async def _prepare(client: httpx.AsyncClient, shape: Shape, folder: Path, run: Run, used: Used) -> bytes:
    """Register what the document names, then write it with its events starting now."""
    started = time.perf_counter()
    while True:
        path = folder / f"{shape.generator}-{run.seed}"
        _write(shape, path, run.seed, start=None)
        named = _named(path.read_bytes())
        if used.take(named):
            break
        run.seed += 1  # a serial or lot of an earlier run's: serial issuance would refuse it
    await _register(client, named)
    start = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")  # after the batches were registered
    _write(shape, path, run.seed, start=start)
    body = path.read_bytes()
    if _named(body) != named:
        raise CaptureFailed(f"{shape.generator} --seed {run.seed} named other things when written again")
    run.counts = {gtin: len(serials) for gtin, serials in named.serials.items()}
    if sum(run.counts.values()) > shape.epcs or shape.epcs - sum(run.counts.values()) > shape.epcs // 100:
        raise CaptureFailed(f"{shape.generator} commissions {run.counts} SGTINs, not about {shape.epcs}")
    run.size = len(body)
    run.preparation = time.perf_counter() - started
    return body


def _write(shape: Shape, out: Path, seed: int, start: str | None) -> None:
    """The shared generator's document (its default event times when `start` is None)."""
    if shape.generator == "gen_epcis12.py":
        command = [sys.executable, str(SHARED / shape.generator), *shape.arguments, str(out), "--seed", str(seed)]
        times = ["--no-validate"] if start is None else ["--start", start, "--step-ms", str(STEP_MS)]
        subprocess.run([*command, *times], check=True, capture_output=True)
        return
    events, per_event = (int(a) for a in shape.arguments)
    at = {} if start is None else {"start": start, "step_ms": STEP_MS}
    document, _ = _generator("gen_epcis20").build(events, per_event, seed=seed, **at)
    with out.open("w", encoding="utf-8") as written:  # as gen_epcis20.py's main writes it
        json.dump(document, written, indent=1)
        written.write("\n")


def _generator(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(SHARED))  # gen_epcis20 imports gen_epcis12 from beside it
    spec = importlib.util.spec_from_file_location(name, SHARED / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_SGTIN = re.compile(rb"urn:epc:id:sgtin:(\d+)\.(\d+)\.([^<\"\s]+)")
_LOT = re.compile(rb"lotNumber\"?\s*[:>]\s*\"?([^<\"\s]+)")  # <cbvmda:lotNumber>L1< or "cbvmda:lotNumber": "L1"
_EXPIRY = re.compile(rb"itemExpirationDate\"?\s*[:>]\s*\"?([^<\"\s]+)")
_READ_POINT = re.compile(rb"readPoint\W+id\W+urn:epc:id:sgln:(\d+)\.(\d*)\.([^<\"\s]+)")


def _named(document: bytes) -> Named:
    """Read off the document (1.2 XML or 2.0 JSON-LD alike): every SGTIN, lot, expiry and read point."""
    serials: dict[str, dict[str, None]] = {}
    prefix_lengths: dict[str, int] = {}
    for prefix, reference, serial in _SGTIN.findall(document):
        body = (reference[:1] + prefix + reference[1:]).decode()
        gtin = body + _check_digit(body)
        serials.setdefault(gtin, {})[serial.decode()] = None
        prefix_lengths[gtin] = len(prefix)
    lots, expiries = set(_LOT.findall(document)), set(_EXPIRY.findall(document))
    places = set(_READ_POINT.findall(document))
    if len(lots) != 1 or len(expiries) != 1 or len(places) != 1:
        raise CaptureFailed(f"expected one lot, expiry and read point; found {lots}, {expiries}, {places}")
    prefix, location, extension = (p.decode() for p in places.pop())
    gln = prefix + location
    return Named(
        serials={gtin: list(found) for gtin, found in serials.items()},
        prefix_lengths=prefix_lengths,
        lot=lots.pop().decode(),
        expiry=expiries.pop().decode(),
        site_gln=gln + _check_digit(gln),
        site_prefix_length=len(prefix),
        extension=extension,
    )


def _check_digit(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


async def _register(client: httpx.AsyncClient, named: Named) -> None:
    """Products, site and line (once: registering them again is refused or answered alike), then this
    run's batches and the serials it commissions."""
    address = {"street": "Benchstr. 1", "city": "Exampleville", "postal_code": "07001", "country": "US"}
    for gtin, length in named.prefix_lengths.items():
        product = {
            "gtin": gtin,
            "company_prefix_length": length,
            "name": "bench",
            "serial_length": SERIAL_LENGTH[SERIALS],
        }
        await _once(client, "/v1/products", product)
    site = {"gln": named.site_gln, "company_prefix_length": named.site_prefix_length, "name": "bench capture site"}
    await _once(client, "/v1/sites", {**site, "address": address})
    line = {"line_id": f"EPCIS-{named.extension}", "name": "bench capture line", "extension": named.extension}
    await _once(client, f"/v1/sites/{named.site_gln}/lines", line)
    for gtin, serials in named.serials.items():
        batch = {"gtin": gtin, "lot": named.lot, "expiry": named.expiry, "site_gln": named.site_gln}
        _expect(await client.post("/v1/batches", json=batch), 201)
        for start in range(0, len(serials), IMPORT_CHUNK):
            chunk = serials[start : start + IMPORT_CHUNK]
            imported = {"gtin": gtin, "lot": named.lot, "source": SOURCE, "serials": chunk}
            _expect(await client.post("/v1/serial-imports", json=imported), 201)
    # Serial issuance's read models done with the imports before the clock starts.
    await _counted(client, named.lot, {g: len(s) for g, s in named.serials.items()}, time.perf_counter(), "imported")


async def _once(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    response = await client.post(path, json=body)
    if response.status_code not in (200, 201, 409):  # 409: registered by an earlier run
        raise CaptureFailed(f"POST {path}: {response.status_code} {response.text[:2000]}")


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        request = response.request
        raise CaptureFailed(f"{request.method} {request.url.path}: {response.status_code} {response.text[:2000]}")


# --- the timed part ----------------------------------------------------------------------------------


async def _timed(client: httpx.AsyncClient, shape: Shape, body: bytes, run: Run) -> None:
    lot = _named(body).lot
    started = time.perf_counter()
    response = await client.post("/v1/epcis/capture", content=body, headers={"Content-Type": shape.media_type})
    run.accepted = time.perf_counter() - started
    if response.status_code != 202:
        raise CaptureFailed(f"capture answered {response.status_code}: {response.text[:2000]}")
    summaries = asyncio.create_task(_counted(client, lot, run.counts, started, "commissioned"))
    try:
        job, run.job_finished = await _finished(client, response.headers["Location"], started)
        if not job["success"] or job["captured"] != shape.events:
            raise CaptureFailed(
                f"capture job {job['captureID']} (seed {run.seed}): success {job['success']}, captured "
                f"{job['captured']} of {shape.events} events; errors: {json.dumps(job['errors'])[:4000]}"
            )
        run.read_model = await summaries
        last = _SGTIN.findall(body)[-1]
        run.queryable = await _queryable(client, b"urn:epc:id:sgtin:%b.%b.%b" % last, started)
    finally:
        summaries.cancel()
    created, finished = (dt.datetime.fromisoformat(job[k]) for k in ("createdAt", "finishedAt"))
    run.job_span = (finished - created).total_seconds()


async def _finished(client: httpx.AsyncClient, location: str, started: float) -> tuple[dict[str, Any], float]:
    """The job once it answers running: false, and when (seconds since `started`)."""
    while time.perf_counter() - started < DEADLINE:
        response = await client.get(location)
        if response.status_code != 200:
            raise CaptureFailed(f"GET {location}: {response.status_code} {response.text[:2000]}")
        job: dict[str, Any] = response.json()
        if not job["running"]:
            return job, time.perf_counter() - started
        await asyncio.sleep(POLL)
    raise CaptureFailed(f"the capture job {location} still ran after {DEADLINE:.0f} s")


async def _counted(client: httpx.AsyncClient, lot: str, counts: dict[str, int], started: float, what: str) -> float:
    """When every batch's serial summary first counted its serials (`what`: imported, commissioned), in
    seconds since `started`."""
    waiting = dict(counts)
    while waiting and time.perf_counter() - started < DEADLINE:
        for gtin, expected in list(waiting.items()):
            response = await client.get(f"/v1/batches/{gtin}/{lot}/serial-summary")
            if response.status_code == 503:  # its read model still catching up with the log
                continue
            if response.status_code != 200:
                raise CaptureFailed(f"serial summary of {gtin} {lot}: {response.status_code} {response.text[:2000]}")
            counted = response.json()[what]
            if counted > expected:
                raise CaptureFailed(f"serial summary of {gtin} {lot}: {counted} {what}, {expected} sent")
            if counted == expected:
                del waiting[gtin]
        if waiting:
            await asyncio.sleep(POLL)
    if waiting:
        raise CaptureFailed(f"after {DEADLINE:.0f} s serial issuance has not {what} every serial of {waiting}")
    return time.perf_counter() - started


async def _queryable(client: httpx.AsyncClient, epc: bytes, started: float) -> float:
    """When EPCIS reporting's query read model first answered an event of `epc` (the document's last
    SGTIN), in seconds since `started`: asked once the job finished (a query waits for its read model)."""
    while time.perf_counter() - started < DEADLINE:
        response = await client.get("/v1/epcis/events", params={"MATCH_anyEPC": epc.decode(), "perPage": 1})
        if response.status_code == 200 and response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]:
            return time.perf_counter() - started
        if response.status_code not in (200, 503):
            raise CaptureFailed(f"events of {epc.decode()}: {response.status_code} {response.text[:2000]}")
        await asyncio.sleep(POLL)
    raise CaptureFailed(f"after {DEADLINE:.0f} s no event of {epc.decode()} could be queried")
