"""Events of the line exceptions service, published on `serialtrail.exceptions.v1`.

Only the fact other services already depend on is defined here: packs taken out of the
supply chain. The line exceptions service (raise, resolve, rework old → new serial) will
publish it and add its own events beside it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from serialtrail_contracts.base import EventContract, event_types


class DecommissionReason(StrEnum):
    """CBV 2.0 dispositions a decommissioned pack ends in, plus the line's own causes."""

    destroyed = "destroyed"
    damaged = "damaged"
    stolen = "stolen"
    lost = "lost"
    sample = "sample"  # QC / retention sample
    misprint = "misprint"
    unreadable = "unreadable"


class SerialsDecommissioned(EventContract):
    """EPCIS ObjectEvent DELETE, bizStep decommissioning: these packs no longer exist as
    saleable units. A parent that still holds one has an aggregation error."""

    EVENT_TYPE: ClassVar[str] = "exceptions.SerialsDecommissioned"
    EVENT_VERSION: ClassVar[int] = 1

    exception_id: UUID
    gtin: str
    serials: tuple[str, ...] = Field(min_length=1)
    reason: DecommissionReason
    line_id: str | None = None
    event_time: datetime


EVENTS = event_types(SerialsDecommissioned)
