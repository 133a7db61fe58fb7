"""One JSON line per figure, with the machine's CPU count; and at the end of `make bench`, a table of
every figure printed (on stderr, so stdout stays one JSON line per figure)."""

from __future__ import annotations

import json
import os
import statistics
import sys
from typing import Any

PRINTED: list[dict[str, Any]] = []  # every line printed in this process, for the summary


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
    printed(line)


def printed(line: dict[str, Any]) -> None:
    """Print one figure's JSON line (also a benchmark's own shape of line, a skip or a failure)."""
    PRINTED.append(line)
    print(json.dumps(line), flush=True)


def summary(lines: list[dict[str, Any]]) -> str:
    """One row per figure: its median and unit against its target, the CPU count and the runs."""
    rows = [("benchmark", "median", "target", "cpus", "runs")]
    for line in lines:
        if "median" not in line:
            said = line.get("skipped") or line.get("failed") or "no figure"
            rows.append((str(line.get("benchmark", "?")), f"({said})", "", "", ""))
            continue
        runs = ", ".join(f"{run:g}" for run in line.get("runs", []))
        median = f"{line['median']:g} {line.get('unit', '')}".strip()
        rows.append((str(line["benchmark"]), median, str(line.get("target", "")), str(line.get("cpu_count", "")), runs))
    widths = [min(60, max(len(row[i]) for row in rows)) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell[:60].ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def print_summary() -> None:
    if PRINTED:
        print("\n" + summary(PRINTED), file=sys.stderr, flush=True)
