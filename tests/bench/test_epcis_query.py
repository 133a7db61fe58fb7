"""The `epcis-query` benchmark's repository and percentiles (the benchmark itself never runs in
`make test`): the events it records are what the capture route accepts from the capturing key, a
million of them in 500 lot documents over 30 days, each serial its own, and the cases it queries
for are in the repository as sampled."""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is not an installed package

from epcis_reporting.domain.capture import scope_violations
from serialtrail_gs1.epcis_checks import check_event

from bench.epcis_query import (
    CAPTURER,
    DOCUMENT_EVENTS,
    SPAN,
    START,
    Known,
    Layout,
    document,
    percentile,
    serial,
)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1000, 0, -1)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (500.0, 990.0, 1000.0)
    assert percentile([7.0], 99) == 7.0


def test_each_serial_is_its_own() -> None:
    serials = [serial(n) for n in range(100_000)]
    assert len(set(serials)) == len(serials)
    assert all(len(s) == 12 and s.isdigit() for s in serials)


def test_a_million_events_in_500_lots_over_30_days() -> None:
    layout = Layout(1_000_000)
    assert layout.documents == 500
    assert sum(layout.size(d) for d in range(layout.documents)) == 1_000_000
    assert layout.time(0, 0) == START
    assert layout.time(499, DOCUMENT_EVENTS - 1) < START + SPAN
    assert 1_300 < 4 * DOCUMENT_EVENTS / (layout.turn.total_seconds() / 3600) < 1_450  # events in any hour


def test_a_lot_document_is_what_the_capture_route_accepts_from_the_line() -> None:
    known: list[Known] = []
    events = document(Layout(1_000_000), 499, known)
    kinds = Counter((e["type"], e["bizStep"]) for e in events)
    assert kinds == {
        ("ObjectEvent", "commissioning"): 960,
        ("AggregationEvent", "packing"): 960,
        ("ObjectEvent", "shipping"): 80,
    }
    for index, event in enumerate(events):
        checked = check_event(index, event)
        assert checked.violations == ()
        assert scope_violations(CAPTURER, checked.keys, f"eventList[{index}]") == []
    packed = {e["parentID"]: e for e in events if e["type"] == "AggregationEvent"}
    assert known
    for case in known:
        assert case.sgtin in packed[case.sscc]["childEPCs"]
        when = dt.datetime.fromisoformat(packed[case.sscc]["eventTime"])
        assert dt.timedelta(0) <= case.packed - when < dt.timedelta(milliseconds=1)


def test_the_last_document_ends_where_the_count_does() -> None:
    known: list[Known] = []
    events = document(Layout(DOCUMENT_EVENTS + 10), 1, known)
    assert len(events) == 10
    kept = {e["parentID"] for e in events if e["type"] == "AggregationEvent"}
    assert {case.sscc for case in known} <= kept
