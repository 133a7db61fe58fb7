"""`GET /v1/epcis/events` latency on a 1,000,000-event repository (issue 14: "p99 for a 1M-event
repository with a MATCH_epc and a time-range query").

The repository is built once per invocation, on a server of its own (`running_process`, which
`running_server` wraps: its process is watched for its peak RSS, and its data directory is this
benchmark's, so the bench can reach its database), then measured through HTTP:

Building. Capturing a million events through `POST /v1/epcis/capture` takes 20 minutes and more, so
the documents are recorded the way that route records them once it has read a document, by
EPCIS reporting's own capture handler (`CaptureHandlers.record`, through the service's write model
and write side, in this process): every event checked by `check_event` and the capturing key's scope
as the route checks it, identified by its real CBV 2.0 Event Hash ID (`event_hash_id`), recorded as
`CaptureReceived`, `EventsCaptured` (in the handler's own batches) and `CaptureFinished` on the
service's log. The server's repository read model folds them into `captured_events` (the real fold,
nothing inserted into a read model here); the build ends when every reader of every log on the
server has caught up (`/health/ready`: lag 0), then the read model's tables are VACUUM ANALYZEd, as
autovacuum would in time. The server routes nothing to the owners
(`SERIALTRAIL_EPCIS_REPORTING_ROUTE_TO=[]`, "events are only kept for queries"), as the handler here
does: routed, serial issuance would first need every serial registered, and the captures would be
settled only once each owner had decided on 4.8 million packs.

The documents are a packaging site's over 30 days (2026-09-01 to 2026-10-01, local time +01:00):
4 lines (2 products), each sending one EPCIS 2.0 JSON-LD document per lot of 9,600 packs, 2,000 events:
for every 12 cases, 12 commissioning ObjectEvents of 10 SGTINs (ILMD lot and expiry), 12 packing
AggregationEvents of those 10 into the case's SSCC, and one shipping ObjectEvent of the 12 SSCCs
(purchase order, despatch advice, source and destination parties and locations). 500 documents,
480,000 cases, 4.8 million SGTINs; any hour holds about 1,390 events (4 lines at one event each
10.4 s).

Measuring: one client, sequential requests (keep-alive) as an admin key (no scope narrows it), each
query kind `WARM_UP` requests then `REQUESTS` timed (first byte sent to the whole body received), in
each of `RUNS` runs (a run: every kind in turn, on a sample of its own):
  MATCH_epc=<an SGTIN of the repository>                       (its commissioning and its packing)
  GE_eventTime/LT_eventTime: one hour anywhere in the 30 days   (perPage 30, the default; and 1,000)
  MATCH_anyEPC=<a case's SSCC> and the hour around its packing  (its packing and its shipping)
One JSON line per kind: the median over the runs of the p99 is the figure; p50, p95, p99 and max of
each run beside it, and the load average before each run (other work on the machine shows there).

A kind's run stops after BENCH_EPCIS_QUERY_BUDGET_S seconds (default 900) even short of `REQUESTS`,
and its figure says so (`cut_short`, the requests each run made): a query that reads the whole
repository takes seconds, and a thousand of them three times would hold the shared machine for hours.
BENCH_EPCIS_QUERY_EVENTS (default 1,000,000) and BENCH_EPCIS_QUERY_REQUESTS (1,000) scale it down to
check the script; BENCH_EPCIS_QUERY_DATA_DIR keeps the server's data directory there (it must not
exist yet) for EXPLAIN by hand afterwards; `python -m bench.epcis_query` runs it alone."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from epcis_reporting.application.capture import CaptureHandlers, Document
from epcis_reporting.bootstrap import REPOSITORY, SERVICE
from epcis_reporting.domain.capture import INVALID, Candidate, scope_violations
from epcis_reporting.projections.repository import RM
from serialtrail.embedded import DATABASE
from serialtrail.served import running_process
from serialtrail_contracts.epcis import DocumentFormat, ErrorBehaviour
from serialtrail_contracts.identity import RECORDED_BY_EVERY_SERVICE, Principal, Role, Scope
from serialtrail_gs1.epcis import CONTEXT
from serialtrail_gs1.epcis_checks import check_event
from serialtrail_gs1.event_hash import event_hash_id
from serialtrail_kit.db import APP_ROLE, Pool, create_pool
from serialtrail_kit.eventstore.metadata import local_metadata
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.pgserver import EmbeddedPostgres
from serialtrail_kit.writes.model import WriteModel

from bench.memory import reset_peak, status_mb
from bench.report import emit, printed

EVENTS = int(os.environ.get("BENCH_EPCIS_QUERY_EVENTS", "1000000"))
REQUESTS = int(os.environ.get("BENCH_EPCIS_QUERY_REQUESTS", "1000"))  # timed, per kind and run
KEEP = os.environ.get("BENCH_EPCIS_QUERY_DATA_DIR")
WARM_UP = 100  # per kind and run, untimed
# Seconds one kind's run may take (its warm-up: a minute), see above.
BUDGET_S = float(os.environ.get("BENCH_EPCIS_QUERY_BUDGET_S", "900"))
WARM_UP_BUDGET_S = 60.0
RUNS = 3
CATCH_UP_DEADLINE = 3 * 3600.0  # seconds the server's readers may take to fold the repository
TARGET = "p99 <= 50 ms (this benchmark's: issue 14 states none)"
TARGET_LARGE_PAGE = "report (issue 14 states none: a page of 1,000 events is about 1 MB of JSON-LD)"

# The site, its lines and products (the shared generators' company prefix and item reference).
PREFIX = "0312345"
ITEMS = ("067890", "067891")  # indicator digit and item reference: line n makes product n // 2
LINES = 4
SITE = f"urn:epc:id:sgln:{PREFIX}.00001"
PARTNER_PREFIX = "0614141"
CASE_UNITS, SHIPMENT_CASES = 10, 12
SHIPMENT_EVENTS = 2 * SHIPMENT_CASES + 1  # commission and pack each case, then ship them
DOCUMENT_EVENTS = 80 * SHIPMENT_EVENTS  # 2,000: one lot of 960 cases
START = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
SPAN = dt.timedelta(days=30)
LOCAL = dt.timezone(dt.timedelta(hours=1))
WINDOW = dt.timedelta(hours=1)
SAMPLES = 20_000  # cases whose SGTINs and SSCC the queries ask for, spread over the repository


@dataclass(frozen=True)
class Layout:
    """Where and when each of `events` events is: documents of `DOCUMENT_EVENTS`, line by line, each
    lot's events spread evenly over its line's turn, the turns filling `SPAN` from `START`."""

    events: int

    @property
    def documents(self) -> int:
        return math.ceil(self.events / DOCUMENT_EVENTS)

    @property
    def turn(self) -> dt.timedelta:
        """How long one line takes for one lot (its document's events)."""
        return SPAN / math.ceil(self.documents / LINES)

    def size(self, document: int) -> int:
        return min(DOCUMENT_EVENTS, self.events - document * DOCUMENT_EVENTS)

    def time(self, document: int, index: int) -> dt.datetime:
        line, turn = document % LINES, document // LINES
        return START + turn * self.turn + self.turn * index / DOCUMENT_EVENTS + dt.timedelta(seconds=3 * line)


@dataclass(frozen=True)
class Known:
    """A case of the repository: one of its SGTINs, its SSCC, when it was packed."""

    sgtin: str
    sscc: str
    packed: dt.datetime


def serial(number: int) -> str:
    """The `number`th serial of the site: 12 digits that look random, each number its own (a
    three-round Feistel permutation of 0 to 10^12 - 1)."""
    left, right = divmod(number, 10**6)
    for round_key in (104_729, 611_953, 882_377):
        left, right = right, (left + (right * 7_919 + round_key) ** 2) % 10**6
    return f"{left:06d}{right:06d}"


def _moment(when: dt.datetime) -> str:
    local = when.astimezone(LOCAL)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}+01:00"


def _gln(prefix: str, location: str) -> str:
    body = prefix + location
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def document(layout: Layout, number: int, known: list[Known] | None = None) -> list[dict[str, Any]]:
    """The events of document `number` (its line's lot), appending to `known` every case sampled."""
    line, size = number % LINES, layout.size(number)
    item = ITEMS[line * len(ITEMS) // LINES]
    ilmd = {
        "cbvmda:lotNumber": f"L{number:06d}",
        "cbvmda:itemExpirationDate": (layout.time(number, 0) + dt.timedelta(days=730)).strftime("%Y-%m-%d"),
    }
    where = {"readPoint": {"id": f"{SITE}.{101 + line}"}, "bizLocation": {"id": f"{SITE}.0"}}
    stride = max(1, layout.events // (2 * SAMPLES))  # cases sampled: about SAMPLES in all
    case = number * (DOCUMENT_EVENTS // SHIPMENT_EVENTS) * SHIPMENT_CASES
    events: list[dict[str, Any]] = []
    while len(events) < size:
        shipment = []
        for _ in range(SHIPMENT_CASES):
            units = [f"urn:epc:id:sgtin:{PREFIX}.{item}.{serial(case * CASE_UNITS + u)}" for u in range(CASE_UNITS)]
            sscc = f"urn:epc:id:sscc:{PREFIX}.1{case:09d}"
            at = layout.time(number, len(events))
            events.append(_event("ObjectEvent", at, {"epcList": units}, "commissioning", "active", where, ilmd=ilmd))
            packed = layout.time(number, len(events))
            events.append(
                _event(
                    "AggregationEvent", packed, {"parentID": sscc, "childEPCs": units}, "packing", "in_progress", where
                )
            )
            if known is not None and case % stride == 0 and len(events) <= size:
                known.append(Known(units[case % CASE_UNITS], sscc, packed))
            shipment.append(sscc)
            case += 1
        events.append(_shipped(layout.time(number, len(events)), shipment, number))
    return events[:size]


def _event(
    kind: str,
    when: dt.datetime,
    objects: dict[str, Any],
    step: str,
    disposition: str,
    where: dict[str, Any],
    **more: Any,
) -> dict[str, Any]:
    return {
        "type": kind,
        "eventTime": _moment(when),
        "eventTimeZoneOffset": "+01:00",
        **objects,
        "action": "OBSERVE" if step == "shipping" else "ADD",
        "bizStep": step,
        "disposition": disposition,
        **where,
        **more,
    }


def _shipped(when: dt.datetime, ssccs: list[str], number: int) -> dict[str, Any]:
    partner = _gln(PARTNER_PREFIX, "00001")
    despatch = ssccs[0].rsplit(".", 1)[1]
    return _event(
        "ObjectEvent",
        when,
        {"epcList": ssccs},
        "shipping",
        "in_transit",
        {"readPoint": {"id": f"{SITE}.DOCK1"}, "bizLocation": {"id": f"{SITE}.0"}},
        bizTransactionList=[
            {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{partner}:PO-{number:06d}"},
            {"type": "desadv", "bizTransaction": f"urn:epcglobal:cbv:bt:{_gln(PREFIX, '00000')}:DA-{despatch}"},
        ],
        sourceList=[
            {"type": "owning_party", "source": f"urn:epc:id:pgln:{PREFIX}.00000"},
            {"type": "location", "source": f"{SITE}.0"},
        ],
        destinationList=[
            {"type": "owning_party", "destination": f"urn:epc:id:pgln:{PARTNER_PREFIX}.00000"},
            {"type": "location", "destination": f"urn:epc:id:sgln:{PARTNER_PREFIX}.00001.0"},
        ],
    )


# --- building the repository (reported, not a figure) -------------------------------------------------

CAPTURER = Principal(
    id="bench:line-capture",
    name="bench packaging lines",
    role=Role.line,
    auth_method="api-key",
    scope=Scope(company_prefixes=frozenset({PREFIX}), sites=frozenset({_gln(PREFIX, "00001")})),
)


@dataclass
class Built:
    known: list[Known] = field(default_factory=list)
    captures: int = 0
    started: float = 0.0  # perf_counter() when the first capture began
    recorded_s: float = 0.0  # the first capture recorded until the last
    caught_up_s: float = 0.0  # ... until every reader on the server had folded them
    vacuum_s: float = 0.0  # VACUUM ANALYZE of the repository's tables, after
    sizes: dict[str, str] = field(default_factory=dict)


def checked(layout: Layout, number: int, known: list[Known]) -> Document:
    """Document `number` as the capture route has it once read: every event checked (the EPCIS
    schema, identifiers, vocabulary, the capturing key's scope) and identified by its hash id."""
    events = document(layout, number, known)
    envelope = {"@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0"}
    envelope["creationDate"] = events[-1]["eventTime"]
    body = orjson.dumps({**envelope, "epcisBody": {"eventList": events}})
    candidates = []
    for index, event in enumerate(events):
        found = check_event(index, event)
        problems = [*found.violations, *scope_violations(CAPTURER, found.keys, f"eventList[{index}]")]
        if problems:
            raise AssertionError(f"document {number}, event {index}: {problems[:3]}")
        candidates.append(Candidate(index, event, event_hash_id(event, envelope["@context"]), (), INVALID, found.keys))
    return Document(DocumentFormat.jsonld_2_0, len(body), hashlib.sha256(body).hexdigest(), envelope, candidates)


async def build(base: str, dsn: str, layout: Layout) -> Built:
    """Every document captured through EPCIS reporting's capture handler (on the server's database,
    `dsn`), then until the server's readers folded them all (its repository read model among them)."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        build_id = (await client.get("/health/live")).json()["build"]
        admin = await create_pool(dsn, max_size=2)
        pool = await create_pool(dsn, role=APP_ROLE, max_size=2)
        try:
            built = await _record(pool, layout, build_id)
            await _caught_up(client, built)
            started = time.perf_counter()
            async with admin.acquire() as conn:
                # The views of RM name the active generation's tables (what VACUUM must be given).
                schema = await conn.fetchval(
                    f"SELECT active_schema FROM {SERVICE.name}.projections WHERE name = $1", REPOSITORY.name
                )
                await conn.execute(f"VACUUM (ANALYZE) {schema}.captured_events, {schema}.captures")
                built.sizes = await _sizes(conn, schema)
            built.vacuum_s = time.perf_counter() - started
        finally:
            await pool.close()
            await admin.close()
    return built


async def _record(pool: Pool, layout: Layout, build_id: str) -> Built:
    store = PostgresEventStore(pool, SERVICE.name, SERVICE.upcasters)
    writes = WriteModel(store, {**RECORDED_BY_EVERY_SERVICE, **SERVICE.events}, SERVICE.write_side)
    handlers = CaptureHandlers(writes, DOCUMENT_EVENTS, route_to=())
    built = Built(started=time.perf_counter())
    next_one = asyncio.ensure_future(asyncio.to_thread(checked, layout, 0, built.known))
    for number in range(layout.documents):
        prepared = await next_one
        if number + 1 < layout.documents:  # checked and hashed while this one is recorded
            next_one = asyncio.ensure_future(asyncio.to_thread(checked, layout, number + 1, built.known))
        meta = local_metadata(
            principal_id=CAPTURER.id,
            role=CAPTURER.role.value,
            auth_method=CAPTURER.auth_method,
            reason="bench epcis-query: a packaging line's lot document",
            software_version=build_id,
            config_digest="sha256:bench-epcis-query",
        )
        _, outcome = await handlers.record(prepared, ErrorBehaviour.rollback, CAPTURER, meta)
        if outcome.errors or len(outcome.captured) != layout.size(number):
            raise AssertionError(f"document {number}: {len(outcome.captured)} captured, {outcome.errors[:3]}")
        built.captures += 1
    built.recorded_s = time.perf_counter() - built.started
    return built


async def _caught_up(client: httpx.AsyncClient, built: Built) -> None:
    """Until /health/ready shows every reader of every log at lag 0 (and none failing)."""
    while time.perf_counter() - built.started < CATCH_UP_DEADLINE:
        ready = (await client.get("/health/ready")).json()
        if ready["failures"]:
            raise RuntimeError(f"the server's readers fail: {json.dumps(ready['failures'])[:2000]}")
        if all(p["lag"] == 0 for p in [*ready["projections"].values(), *ready["relays"].values()]):
            built.caught_up_s = time.perf_counter() - built.started
            return
        await asyncio.sleep(1.0)
    raise RuntimeError(f"the server's readers had not caught up after {CATCH_UP_DEADLINE:.0f} s")


async def _sizes(conn: Any, schema: str) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT c.relname, pg_size_pretty(pg_total_relation_size(c.oid)) AS size FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
        schema,
    )
    found = {row["relname"]: row["size"] for row in rows}
    found["database"] = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    count = await conn.fetchval(f"SELECT count(*) FROM {RM}.captured_events")
    found["captured_events rows"] = f"{count:,}"
    return found


# --- measuring ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A query kind: its figure's name, the query string of the `n`th request, its target."""

    name: str
    params: Callable[[random.Random, list[Known], Layout], dict[str, str]]
    target: str = TARGET


def _utc(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _any_hour(rng: random.Random, _: list[Known], layout: Layout) -> dict[str, str]:
    start = START + dt.timedelta(minutes=rng.randrange(int((SPAN - WINDOW) / dt.timedelta(minutes=1))))
    return {"GE_eventTime": _utc(start), "LT_eventTime": _utc(start + WINDOW)}


def _case_hour(rng: random.Random, known: list[Known], _: Layout) -> dict[str, str]:
    case = rng.choice(known)
    window = {"GE_eventTime": _utc(case.packed - WINDOW / 2), "LT_eventTime": _utc(case.packed + WINDOW / 2)}
    return {"MATCH_anyEPC": case.sscc, **window}


KINDS = (
    Kind("MATCH_epc=<an SGTIN>", lambda rng, known, _: {"MATCH_epc": rng.choice(known).sgtin}),
    Kind("GE_eventTime & LT_eventTime (one hour), perPage 30", _any_hour),
    Kind(
        "GE_eventTime & LT_eventTime (one hour), perPage 1000",
        lambda rng, known, layout: {**_any_hour(rng, known, layout), "perPage": "1000"},
        TARGET_LARGE_PAGE,
    ),
    Kind("MATCH_anyEPC=<a case's SSCC> & the hour around its packing", _case_hour),
)


@dataclass(frozen=True)
class Latencies:
    """One run of one kind: each request's time (ms) and how many events it answered."""

    ms: list[float]
    events: list[int]

    def percentile(self, q: float) -> float:
        return percentile(self.ms, q)


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank `q` percentile (0 < q <= 100): the smallest value that `q` % of them are at most."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _requests(
    client: httpx.Client, kind: Kind, rng: random.Random, built: Built, layout: Layout, n: int, budget_s: float
) -> Latencies:
    """`n` requests, or as many as `budget_s` seconds allow (at least one)."""
    ms: list[float] = []
    events: list[int] = []
    deadline = time.perf_counter() + budget_s
    while len(ms) < n and (not ms or time.perf_counter() < deadline):
        params = kind.params(rng, built.known, layout)
        started = time.perf_counter()
        response = client.get("/v1/epcis/events", params=params)
        ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET /v1/epcis/events?{params}: {response.status_code} {response.text[:2000]}")
        events.append(len(response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]))
    return Latencies(ms, events)


def measure(base: str, key: str, built: Built, layout: Layout) -> tuple[dict[str, list[Latencies]], list[Any]]:
    """`RUNS` runs, each every kind in turn: `WARM_UP` requests, then `REQUESTS` timed."""
    found: dict[str, list[Latencies]] = {kind.name: [] for kind in KINDS}
    loads = []
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for run in range(RUNS):
            loads.append([round(x, 2) for x in os.getloadavg()])
            for kind in KINDS:
                rng = random.Random(f"{kind.name} {run}")
                _requests(client, kind, rng, built, layout, WARM_UP, WARM_UP_BUDGET_S)
                found[kind.name].append(_requests(client, kind, rng, built, layout, REQUESTS, BUDGET_S))
    return found, loads


def _peak_mb(pid: int) -> float:
    peak = status_mb(pid, "VmHWM:")
    if peak is None:
        raise RuntimeError(f"the server (pid {pid}) is gone")
    return peak


@contextlib.contextmanager
def _data_dir() -> Iterator[Path]:
    if KEEP:
        kept = Path(KEEP)
        kept.mkdir(parents=True)  # refused when it exists: a server's first start prints its admin key
        os.chmod(kept, 0o755)  # the unprivileged postgres user must reach its data dir
        yield kept
        return
    with tempfile.TemporaryDirectory(prefix="serialtrail-bench-epcis-query-") as folder:
        os.chmod(folder, 0o755)  # as above
        yield Path(folder)


def epcis_query_benchmark(events: int = EVENTS) -> None:
    layout = Layout(events)
    with _data_dir() as data_dir, running_process(data_dir=str(data_dir), epcis_reporting_route_to="[]") as served:
        base, key, process = served
        dsn = EmbeddedPostgres.running_dsn(data_dir.resolve(), DATABASE)
        if dsn is None:
            raise RuntimeError(f"no embedded PostgreSQL runs on {data_dir}")
        built = asyncio.run(build(base, dsn, layout))
        build_peak_mb = _peak_mb(process.pid)
        peak_reset = reset_peak(process.pid)
        printed(_build_line(layout, built, build_peak_mb))
        found, loads = measure(base, key, built, layout)
        peak_mb = _peak_mb(process.pid)
    for kind in KINDS:
        _emit(kind, found[kind.name], loads, layout, round(peak_mb, 1), peak_reset)


def _build_line(layout: Layout, built: Built, peak_mb: float) -> dict[str, Any]:
    return {
        "benchmark": f"GET /v1/epcis/events: building the {layout.events:,}-event repository (not a figure)",
        "events": layout.events,
        "captures": built.captures,
        "recorded_s": round(built.recorded_s, 1),
        "caught_up_s": round(built.caught_up_s, 1),
        "vacuum_analyze_s": round(built.vacuum_s, 1),
        "events_per_s_until_caught_up": round(layout.events / built.caught_up_s),
        "sizes": built.sizes,
        "cases_queried_from": len(built.known),
        "server_peak_rss_mb": round(peak_mb, 1),
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _emit(kind: Kind, runs: list[Latencies], loads: list[Any], layout: Layout, peak_mb: float, reset: bool) -> None:
    def each(q: float) -> list[float]:
        return [round(run.percentile(q), 2) for run in runs]

    maxima = [round(max(run.ms), 2) for run in runs]
    emit(
        f"GET /v1/epcis/events?{kind.name} on a {layout.events:,}-event repository, p99",
        [run.percentile(99) for run in runs],
        "ms",
        kind.target,
        p50_ms=statistics.median(each(50)),
        p95_ms=statistics.median(each(95)),
        p99_ms=statistics.median(each(99)),
        max_ms=statistics.median(maxima),
        p50_runs_ms=each(50),
        p95_runs_ms=each(95),
        p99_runs_ms=each(99),
        max_runs_ms=maxima,
        requests_per_run=[len(run.ms) for run in runs],
        warm_up_per_run=f"{WARM_UP} (or {WARM_UP_BUDGET_S:.0f} s)",
        **({"cut_short": f"a run stops after {BUDGET_S:.0f} s"} if any(len(r.ms) < REQUESTS for r in runs) else {}),
        events_per_answer=round(statistics.mean(n for run in runs for n in run.events), 1),
        empty_answers=sum(n == 0 for run in runs for n in run.events),
        load_average_before_runs=loads,
        server_peak_rss_mb=peak_mb,  # the serialtrail process while queried (PostgreSQL's are its own)
        **({} if reset else {"server_peak_rss_includes": "the build (its peak could not be reset)"}),
    )


if __name__ == "__main__":
    epcis_query_benchmark()
