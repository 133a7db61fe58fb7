"""CBV 2.0 Event Hash IDs (serialtrail_gs1.event_hash) over the shared benchmark documents: EPCIS 2.0
JSON-LD commissioning events from `../shared/bench/gen_epcis20.py` (same bytes as other systems are
measured on), one EPC per event and 100 EPCs per event. Two figures each: one core (`event_hash_id`
event by event) and every CPU this process may use (`event_hash_ids` over the whole document, the
forks and the collection of the children's ids included in the time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from serialtrail_gs1.event_hash import event_hash_id, event_hash_ids

from bench.report import emit, printed

GENERATOR = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "gen_epcis20.py"
EVENTS, RUNS = 2_000, 5
TARGET = ">= 50,000 events/s on 2 cores"


def _document(epcs_per_event: int, folder: str) -> dict[str, Any]:
    out = Path(folder) / f"epcis20-{EVENTS}-{epcs_per_event}.jsonld"
    command = [sys.executable, str(GENERATOR), str(EVENTS), str(epcs_per_event), str(out), "--no-validate"]
    subprocess.run(command, check=True, capture_output=True)
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def _rates(hash_document: Callable[[], list[str]], events: int) -> list[float]:
    runs = []
    for _ in range(RUNS):
        started = time.perf_counter()
        hash_document()
        runs.append(events / (time.perf_counter() - started))
    return runs


def event_hash_throughput() -> None:
    if not GENERATOR.exists():
        printed({"benchmark": "event hash ids", "skipped": f"{GENERATOR} not found"})
        return
    with tempfile.TemporaryDirectory() as folder:
        for epcs_per_event in (1, 100):
            _measure(_document(epcs_per_event, folder), epcs_per_event)


def _measure(document: dict[str, Any], epcs_per_event: int) -> None:
    events, context = document["epcisBody"]["eventList"], document["@context"]
    cpus = len(os.sched_getaffinity(0))
    name = f"CBV 2.0 Event Hash IDs, gen_epcis20.py {EVENTS} {epcs_per_event}"
    # No warm-up: the first run of the first document starts with cold caches, as a fresh process does.
    one_core = _rates(lambda: [event_hash_id(event, context) for event in events], len(events))
    emit(f"{name}, one core", one_core, "events/s", TARGET, epcs_per_event=epcs_per_event, processes=1)
    all_cores = _rates(lambda: event_hash_ids(events, context, processes=cpus), len(events))
    emit(f"{name}, all cores", all_cores, "events/s", TARGET, epcs_per_event=epcs_per_event, processes=cpus)
    if event_hash_ids(events, context, processes=cpus) != [event_hash_id(event, context) for event in events]:
        raise AssertionError("the document hashed by several processes differs from event by event")


if __name__ == "__main__":
    event_hash_throughput()
