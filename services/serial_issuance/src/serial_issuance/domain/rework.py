"""Rework, as serial issuance keeps it: a reworked serial's own stream of the replacements
that stood in for its pack (one, unless a decommission was undone and the pack reworked again)."""

from __future__ import annotations


def stream_id(gtin: str, serial: str) -> str:
    return f"rework-{gtin}-{serial}"
