"""What the service knows about a physical object from other services' topics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple


class Label(NamedTuple):
    """A unit's lot and expiry: as its scan carried them (None: not on the scan), or as its batch has them."""

    lot: str | None
    expiry: date | None


class Line(NamedTuple):
    """A registered packaging line, as serial issuance published it: what events record it by."""

    line_id: str
    read_point: str  # SGLN URI
    biz_location: str  # its site's SGLN URI
    site_gln: str
    cmo_id: str | None


class Standing(StrEnum):
    known = "known"  # commissioned (SGTIN) or inside an allocated range (SSCC)
    unknown = "unknown"  # not seen yet: a link to it is pending until it is


@dataclass(frozen=True)
class Knowledge:
    """A snapshot for the objects one request names. `owner` maps commissioned SGTINs to
    the CMO of their batch (None when the batch names none); `pending_owner` maps SGTINs not
    commissioned yet to the CMO of the known batch their scan named by its lot (AI 10)."""

    known: frozenset[str] = frozenset()
    owner: Mapping[str, str | None] = field(default_factory=dict)
    pending_owner: Mapping[str, str | None] = field(default_factory=dict)
    ssccs: frozenset[str] = frozenset()  # every SSCC named: scoped by its range and contents instead
    scanned: Mapping[str, Label] = field(default_factory=dict)  # units whose scan carried a lot or expiry
    batch_label: Mapping[str, Label] = field(default_factory=dict)  # those commissioned: their batch's
    decommissioned: Mapping[str, str] = field(default_factory=dict)  # object → reason
    held: Mapping[str, str] = field(default_factory=dict)  # object → the containment hold holding it
    # Commissioned SGTINs dated after the pack (less the skew): their commissioning time.
    commissioned_at: Mapping[str, datetime] = field(default_factory=dict)

    def standing(self, uri: str) -> Standing:
        return Standing.known if uri in self.known else Standing.unknown
