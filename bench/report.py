"""One JSON line per figure, with the machine's CPU count."""

from __future__ import annotations

import json
import os
import statistics
from typing import Any


def emit(name: str, runs: list[float], unit: str, target: str, **extra: Any) -> None:
    line = {
        "benchmark": name,
        "median": round(statistics.median(runs), 4),
        "unit": unit,
        "runs": [round(r, 4) for r in runs],
        "target": target,
        "cpu_count": os.cpu_count(),
        **extra,
    }
    print(json.dumps(line), flush=True)
