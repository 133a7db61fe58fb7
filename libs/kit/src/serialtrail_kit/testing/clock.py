"""Times for requests in tests: servers refuse event times far ahead of their clock, and
records dated before what they depend on (a batch registered today), so tests send times
near now, in the offset a line would send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone


def moment(*, minutes: float = 0, offset_hours: int = 0) -> str:
    """Now plus `minutes`, as RFC 3339 with the offset `offset_hours` (whole seconds)."""
    zone = UTC if offset_hours == 0 else timezone(timedelta(hours=offset_hours))
    return (datetime.now(zone) + timedelta(minutes=minutes)).isoformat(timespec="seconds")
