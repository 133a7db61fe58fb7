"""`make bench` ends with a table of every figure it printed: its median against its target, the
CPU count, the runs and the peak RSS of the process under test, and the benchmarks that printed no
figure, with why. Each figure's peak is its own: the peak is started over between figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is not an installed package

from bench.report import OWN, RSS_BOUND_MB, peak_rss, summary, watching


def test_the_summary_has_a_row_per_figure_and_says_why_one_is_missing() -> None:
    lines: list[dict[str, Any]] = [
        {
            "benchmark": "relay",
            "median": 27200.5,
            "unit": "events/s",
            "runs": [25600, 27200.5, 28000],
            "target": ">= 30,000 events/s",
            "cpu_count": 2,
            "peak_rss_mb": 180.5,
        },
        {"benchmark": "EPCIS capture", "skipped": "../shared/bench not found"},
        {"benchmark": "upload", "median": 6.6, "unit": "s", "runs": [6.6], "service_peak_rss_mb": 700},
    ]
    rows = summary(lines).splitlines()
    assert rows[0].split() == ["benchmark", "median", "target", "cpus", "runs", "peak", "RSS"]
    assert rows[1].split() == [
        "relay",
        "27200.5",
        "events/s",
        ">=",
        "30,000",
        "events/s",
        "2",
        "25600,",
        "27200.5,",
        "28000",
        "180.5",
        "MB",
    ]
    assert rows[2].split() == ["EPCIS", "capture", "(../shared/bench", "not", "found)"]
    # A benchmark's own peak, above the bound: marked.
    assert rows[3].split()[-6:] == ["700", "MB", ">", f"{RSS_BOUND_MB}", "MB", "bound"]
    assert len(rows) == 4


# Holds 200 MB, lets go of it, says so, and waits to be told to end.
HOLDER = "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); del b; print('freed', flush=True); input()"


def test_each_figure_reports_the_peak_of_the_watched_process_since_the_previous_one() -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "freed\n"
        with watching(holder.pid, "the holder"):
            first, second = peak_rss(), peak_rss()
    finally:
        holder.communicate("\n", timeout=10)
    # `watching` starts the peak over, yet a held-then-freed 200 MB was before it: only a process
    # whose peak cannot be started over reports it, and says since when.
    assert first["peak_rss_of"] == "the holder"
    if first["peak_rss_since"] == "the process started":
        assert first["peak_rss_mb"] >= 200
    else:
        assert first["peak_rss_mb"] < 100
        assert second["peak_rss_mb"] < 100
    assert peak_rss()["peak_rss_of"] == OWN  # once no longer watched


def test_a_figure_reports_the_peak_reached_since_the_previous_one() -> None:
    peak_rss()  # the peak starts over
    held = bytearray(150 * 2**20)
    held[::4096] = b"x" * len(held[::4096])  # touched: resident
    del held
    first, second = peak_rss(), peak_rss()
    assert first["peak_rss_of"] == OWN
    assert first["peak_rss_mb"] >= 150
    if second["peak_rss_since"] != "the process started":
        assert second["peak_rss_mb"] < first["peak_rss_mb"] - 100
