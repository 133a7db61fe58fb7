"""CBV 2.0 Event Hash IDs (serialtrail_gs1.event_hash) over the shared benchmark documents: EPCIS 2.0
JSON-LD commissioning events from `../shared/bench/gen_epcis20.py` (same bytes as other systems are
measured on), one EPC per event and 100 EPCs per event, on one core."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from serialtrail_gs1.event_hash import event_hash_id

from bench.report import emit

GENERATOR = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "gen_epcis20.py"
EVENTS, RUNS = 2_000, 3


def _document(epcs_per_event: int, folder: str) -> dict[str, object]:
    out = Path(folder) / f"epcis20-{EVENTS}-{epcs_per_event}.jsonld"
    command = [sys.executable, str(GENERATOR), str(EVENTS), str(epcs_per_event), str(out), "--no-validate"]
    subprocess.run(command, check=True, capture_output=True)
    document: dict[str, object] = json.loads(out.read_text())
    return document


def event_hash_throughput() -> None:
    if not GENERATOR.exists():
        print(json.dumps({"benchmark": "event hash ids", "skipped": f"{GENERATOR} not found"}), flush=True)
        return
    with tempfile.TemporaryDirectory() as folder:
        for epcs_per_event in (1, 100):
            document = _document(epcs_per_event, folder)
            events = document["epcisBody"]["eventList"]  # type: ignore[index]
            context = document["@context"]
            runs = []
            for _ in range(RUNS):
                started = time.perf_counter()
                for event in events:
                    event_hash_id(event, context)
                runs.append(len(events) / (time.perf_counter() - started))
            emit(
                f"CBV 2.0 Event Hash IDs, gen_epcis20.py {EVENTS} {epcs_per_event}, one core",
                runs,
                "events/s",
                ">= 50,000 events/s on 2 cores",
                epcs_per_event=epcs_per_event,
            )


if __name__ == "__main__":
    event_hash_throughput()
