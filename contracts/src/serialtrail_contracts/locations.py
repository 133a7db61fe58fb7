"""Where line events happen, as EPCIS names it: every line event carries its read point (the
line's SGLN) and business location (its site's SGLN), both registered master data.

Events recorded before locations were registered named their line by free text only. They
are upcast on read (stored rows never change) to locations that say so, under a URN of our
own, rather than to SGLNs nobody registered: an inspector sees which events predate it."""

from __future__ import annotations

from typing import Any

Sgln = str  # SGLN pure identity URI: urn:epc:id:sgln:<company prefix>.<location ref>.<extension>

UNREGISTERED_LINE = "urn:serialtrail:unregistered-line:"
UNREGISTERED_SITE = "urn:serialtrail:unregistered-site"


def unregistered_read_point(line_id: str | None) -> str:
    return UNREGISTERED_LINE + _percent_encoded(line_id or "unknown")


def _percent_encoded(text: str) -> str:
    """RFC 3986: unreserved characters as they are, every other byte as %XX."""
    return "".join(
        char if char.isascii() and (char.isalnum() or char in "-._~") else "".join(f"%{b:02X}" for b in char.encode())
        for char in text
    )


def with_unregistered_locations(payload: dict[str, Any]) -> dict[str, Any]:
    """Upcaster step for a line event recorded before locations: its free-text line kept."""
    return {
        **payload,
        "read_point": unregistered_read_point(payload.get("line_id")),
        "biz_location": UNREGISTERED_SITE,
    }
