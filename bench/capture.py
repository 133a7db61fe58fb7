"""EPCIS 2.0 capture through the HTTP API (issue 14): the shared benchmark document of EPCIS 2.0
JSON-LD commissioning events (`../shared/bench/gen_epcis20.py`, the same bytes other systems are
measured on), posted to `POST /v1/epcis/capture` until its job answers, each run seeded afresh so
that no event is a duplicate of an earlier run's. EPCs/s is distinct EPCs over the time from the
first byte sent to the job's answer.

Routing captured events to their owners (serial issuance, aggregation) is not built yet: this is
the capturing service's share of the end-to-end figure the issue asks for."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.report import emit

GENERATOR = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "gen_epcis20.py"
EVENTS, EPCS_PER_EVENT, RUNS = 1_011, 100, 3  # 101,100 EPCs: the size of gen_epcis12.py 1000 100


def _document(folder: str, seed: int) -> bytes:
    out = Path(folder) / f"epcis20-{seed}.jsonld"
    command = [sys.executable, str(GENERATOR), str(EVENTS), str(EPCS_PER_EVENT), str(out)]
    subprocess.run([*command, "--seed", str(seed), "--no-validate"], check=True, capture_output=True)
    return out.read_bytes()


def capture_throughput(base: str, key: str) -> None:
    if not GENERATOR.exists():
        print(json.dumps({"benchmark": "EPCIS capture", "skipped": f"{GENERATOR} not found"}), flush=True)
        return
    runs, sizes = [], []
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/ld+json"}
    with tempfile.TemporaryDirectory() as folder, httpx.Client(base_url=base, timeout=600, headers=headers) as client:
        for run in range(RUNS):
            body = _document(folder, 1000 + run)
            started = time.perf_counter()
            response = client.post("/v1/epcis/capture", content=body)
            elapsed = time.perf_counter() - started
            job = response.json()
            if response.status_code != 202 or job["captured"] != EVENTS:
                raise RuntimeError(f"capture failed: {response.status_code} {response.text[:2000]}")
            runs.append(EVENTS * EPCS_PER_EVENT / elapsed)
            sizes.append(len(body))
    emit(
        f"EPCIS 2.0 JSON-LD capture, gen_epcis20.py {EVENTS} {EPCS_PER_EVENT}, until the job answered",
        runs,
        "EPCs/s",
        ">= 50,000 EPCs/s end to end (routing to owners not built yet: capture alone)",
        events=EVENTS,
        epcs=EVENTS * EPCS_PER_EVENT,
        bytes=sizes[0],
    )
