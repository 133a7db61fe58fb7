"""EPCIS capture through the HTTP API (issue 14): the shared benchmark documents (`../shared/bench`,
the same bytes other systems are measured on), EPCIS 1.2 XML of a lot's line and shipping
(`gen_epcis12.py 1000 100`) and EPCIS 2.0 JSON-LD commissioning events of the same size, posted to
`POST /v1/epcis/capture` until the job answers, each run seeded afresh so that no event is a
duplicate of an earlier run's. EPCs/s is distinct EPCs over the time from the first byte sent to the
job's answer.

Routing captured events to their owners (serial issuance, aggregation) is not built yet: this is
the capturing service's share of the end-to-end figure the issue asks for."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.report import emit

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "bench"
RUNS = 3


@dataclass(frozen=True)
class Shape:
    """A shared benchmark document: its generator, its arguments, its events and EPCs."""

    generator: str
    arguments: tuple[str, ...]
    media_type: str
    events: int
    epcs: int


# 101,100 EPCs each: gen_epcis12.py 1000 100, and a JSON-LD document of commissioning events as large.
JSON_LD = Shape("gen_epcis20.py", ("1011", "100"), "application/ld+json", 1_011, 101_100)
XML_1_2 = Shape("gen_epcis12.py", ("1000", "100"), "application/xml", 2_301, 101_100)


def _document(shape: Shape, folder: str, seed: int) -> bytes:
    out = Path(folder) / f"{shape.generator}-{seed}"
    command = [sys.executable, str(SHARED / shape.generator), *shape.arguments, str(out), "--seed", str(seed)]
    subprocess.run([*command, "--no-validate"] if shape is JSON_LD else command, check=True, capture_output=True)
    return out.read_bytes()


def capture_throughput(base: str, key: str) -> None:
    if not SHARED.exists():
        print(json.dumps({"benchmark": "EPCIS capture", "skipped": f"{SHARED} not found"}), flush=True)
        return
    for shape in (JSON_LD, XML_1_2):
        _capture(base, key, shape)


def _capture(base: str, key: str, shape: Shape) -> None:
    runs, size = [], 0
    headers = {"Authorization": f"Bearer {key}", "Content-Type": shape.media_type}
    with tempfile.TemporaryDirectory() as folder, httpx.Client(base_url=base, timeout=600, headers=headers) as client:
        for run in range(RUNS):
            body = _document(shape, folder, 1000 + run)  # a fresh seed: no event a duplicate of another run's
            started = time.perf_counter()
            response = client.post("/v1/epcis/capture", content=body)
            elapsed = time.perf_counter() - started
            job = response.json()
            if response.status_code != 202 or job["captured"] != shape.events:
                raise RuntimeError(f"capture failed: {response.status_code} {response.text[:2000]}")
            runs.append(shape.epcs / elapsed)
            size = len(body)
    emit(
        f"EPCIS capture, {shape.generator} {' '.join(shape.arguments)} ({shape.media_type}), until the job answered",
        runs,
        "EPCs/s",
        ">= 50,000 EPCs/s end to end (routing to owners not built yet: capture alone)",
        events=shape.events,
        epcs=shape.epcs,
        bytes=size,
    )
