"""One JSON line per figure, with the machine's CPU count and the peak RSS of the process under test;
and at the end of `make bench`, a table of every figure printed (on stderr, so stdout stays one JSON
line per figure)."""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.memory import reset_peak, status_mb

PRINTED: list[dict[str, Any]] = []  # every line printed in this process, for the summary
# The process under test, innermost last: a served benchmark's server. With none, the code under
# test runs in the benchmark's own process (the log and the relay, against their own PostgreSQL).
WATCHED: list[tuple[int, str]] = []
OWN = "the benchmark's own process, where the code under test runs"
# The stated bound on any figure's peak: request bodies are capped and long answers stream, so no
# process under test may hold more, whatever the size of one request. A row above it is marked.
RSS_BOUND_MB = 512


@contextmanager
def watching(pid: int, what: str) -> Iterator[None]:
    """Figures emitted meanwhile report `pid`'s peak RSS (`what` names it), each since the previous figure."""
    WATCHED.append((pid, what))
    reset_peak(pid)
    try:
        yield
    finally:
        WATCHED.pop()
        reset_peak(os.getpid())


def peak_rss() -> dict[str, Any]:
    """The watched process's peak RSS since the previous figure (or since it started, where the peak
    cannot be started over), and the peak started over for the next figure."""
    pid, what = WATCHED[-1] if WATCHED else (os.getpid(), OWN)
    peak = status_mb(pid, "VmHWM:")
    since = "the previous figure (its setup included)" if reset_peak(pid) else "the process started"
    if peak is None:
        return {"peak_rss_of": f"{what}: gone before it could be read"}
    return {"peak_rss_mb": round(peak, 1), "peak_rss_of": what, "peak_rss_since": since}


def emit(name: str, runs: list[float], unit: str, target: str, **extra: Any) -> None:
    line = {
        "benchmark": name,
        "median": round(statistics.median(runs), 4),
        "unit": unit,
        "runs": [round(r, 4) for r in runs],
        "target": target,
        "cpu_count": os.cpu_count(),
        # A benchmark that watches its own server more closely (only during the measured part) says so.
        **({} if any(k.endswith("peak_rss_mb") for k in extra) else peak_rss()),
        **extra,
    }
    printed(line)


def printed(line: dict[str, Any]) -> None:
    """Print one figure's JSON line (also a benchmark's own shape of line, a skip or a failure)."""
    PRINTED.append(line)
    print(json.dumps(line), flush=True)


def summary(lines: list[dict[str, Any]]) -> str:
    """One row per figure: its median and unit against its target, the CPU count, the runs and the
    peak RSS of the process under test."""
    rows = [("benchmark", "median", "target", "cpus", "runs", "peak RSS")]
    for line in lines:
        if "median" not in line:
            said = line.get("skipped") or line.get("failed") or "no figure"
            rows.append((str(line.get("benchmark", "?")), f"({said})", "", "", "", ""))
            continue
        runs = ", ".join(f"{run:g}" for run in line.get("runs", []))
        median = f"{line['median']:g} {line.get('unit', '')}".strip()
        target, cpus = str(line.get("target", "")), str(line.get("cpu_count", ""))
        rows.append((str(line["benchmark"]), median, target, cpus, runs, _peak(line)))
    widths = [min(60, max(len(row[i]) for row in rows)) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell[:60].ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def print_summary() -> None:
    if PRINTED:
        print("\n" + summary(PRINTED), file=sys.stderr, flush=True)


def _peak(line: dict[str, Any]) -> str:
    """The first peak RSS a line reports (`peak_rss_mb`, or a benchmark's own `server_peak_rss_mb`…)."""
    found = next((value for key, value in line.items() if key.endswith("peak_rss_mb")), None)
    if found is None:
        return ""
    return f"{found:g} MB" + (f" > {RSS_BOUND_MB} MB bound" if found > RSS_BOUND_MB else "")
