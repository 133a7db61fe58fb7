"""`make bench` ends with a table of every figure it printed: its median against its target, the
CPU count and the runs, and the benchmarks that printed no figure, with why."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is not an installed package

from bench.report import summary


def test_the_summary_has_a_row_per_figure_and_says_why_one_is_missing() -> None:
    lines: list[dict[str, Any]] = [
        {
            "benchmark": "relay",
            "median": 27200.5,
            "unit": "events/s",
            "runs": [25600, 27200.5, 28000],
            "target": ">= 30,000 events/s",
            "cpu_count": 2,
        },
        {"benchmark": "EPCIS capture", "skipped": "../shared/bench not found"},
    ]
    rows = summary(lines).splitlines()
    assert rows[0].split() == ["benchmark", "median", "target", "cpus", "runs"]
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
    ]
    assert rows[2].split() == ["EPCIS", "capture", "(../shared/bench", "not", "found)"]
    assert len(rows) == 3
