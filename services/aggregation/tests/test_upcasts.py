"""Every payload version a log may still hold reads as the current contract (upcast on read,
stored rows untouched): line events recorded before locations were registered keep their
free-text line and say that their locations were never registered."""

from __future__ import annotations

from typing import Any

import pytest
from aggregation.bootstrap import SERVICE
from serialtrail_contracts import aggregation, serials
from serialtrail_contracts.base import EventContract

UPCASTERS = SERVICE.upcasters  # as declared: aggregation reads all of these
PARENT = "https://id.gs1.org/00/095060000000000018"
UNIT = "https://id.gs1.org/01/09506000134352/21/A1"
WHEN = "2026-11-22T08:00:00+01:00"

BEFORE_LOCATIONS: list[tuple[type[EventContract], int, dict[str, Any]]] = [
    (
        serials.SerialsCommissioned,
        1,
        {
            "commissioning_id": "8f7c1e3a-4b2d-4c5e-9f60-1a2b3c4d5e6f",
            "gtin": "09506000134352",
            "lot": "L1",
            "expiry": "2028-06-30",
            "line_id": "Line 4 (old)",
            "event_time": WHEN,
            "serials": ["A1"],
        },
    ),
    (
        aggregation.ChildrenPacked,
        2,
        {
            "pack_id": "8f7c1e3a-4b2d-4c5e-9f60-1a2b3c4d5e6f",
            "parent_id": PARENT,
            "packaging_level": "case",
            "child_ids": [UNIT],
            "line_id": "Line 4 (old)",
            "event_time": WHEN,
            "scanned_lots": {},
        },
    ),
    (
        aggregation.ChildrenUnpacked,
        1,
        {
            "unpack_id": "8f7c1e3a-4b2d-4c5e-9f60-1a2b3c4d5e6f",
            "parent_id": PARENT,
            "child_ids": [UNIT],
            "reason": "damaged",
            "line_id": "Line 4 (old)",
            "event_time": WHEN,
        },
    ),
    (
        aggregation.ParentClosed,
        1,
        {"parent_id": PARENT, "child_count": 1, "line_id": "Line 4 (old)", "event_time": WHEN},
    ),
]


@pytest.mark.parametrize(("model", "version", "stored"), BEFORE_LOCATIONS, ids=lambda v: getattr(v, "__name__", ""))
def test_line_events_from_before_locations_read_as_the_current_version(
    model: type[EventContract], version: int, stored: dict[str, Any]
) -> None:
    kept = dict(stored)
    reached, payload = UPCASTERS.upcast(model.EVENT_TYPE, version, stored)
    assert reached == model.EVENT_VERSION
    current = model.model_validate(payload)
    assert current.read_point == "urn:serialtrail:unregistered-line:Line%204%20%28old%29"  # type: ignore[attr-defined]
    assert current.biz_location == "urn:serialtrail:unregistered-site"  # type: ignore[attr-defined]
    assert current.line_id == "Line 4 (old)"  # type: ignore[attr-defined]
    assert stored == kept  # the stored payload is not changed


def test_a_close_that_named_no_line_reads_as_one_on_an_unknown_line() -> None:
    stored = {"parent_id": PARENT, "child_count": 0, "event_time": WHEN}
    _, payload = UPCASTERS.upcast(aggregation.ParentClosed.EVENT_TYPE, 1, stored)
    closed = aggregation.ParentClosed.model_validate(payload)
    assert (closed.line_id, closed.read_point) == ("unknown", "urn:serialtrail:unregistered-line:unknown")
