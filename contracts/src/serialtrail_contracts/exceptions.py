"""Events of the line exceptions service, published on `serialtrail.exceptions.v1`.

An exception record's life is a stream of its own (`exception-<id>`): recorded, then
perhaps under investigation, then resolved or cancelled. When the record takes packs out of
the supply chain, `SerialsDecommissioned` (the fact aggregation depends on) is recorded with
it, in the same stream and transaction. What each type means in CBV 2.0, the EU FMD hub and
the DSCSA is `exception_vocabulary`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field, model_validator

from serialtrail_contracts.base import EventContract, event_types
from serialtrail_contracts.deviations import DEVIATION_EVENTS
from serialtrail_contracts.epcis import CaptureDecision
from serialtrail_contracts.locations import Sgln


class DecommissionReason(StrEnum):
    """CBV 2.0 dispositions a decommissioned pack ends in, plus the line's own causes."""

    destroyed = "destroyed"
    damaged = "damaged"
    stolen = "stolen"
    lost = "lost"
    sample = "sample"  # QC / retention sample
    misprint = "misprint"
    unreadable = "unreadable"


class ExceptionType(StrEnum):
    unreadable = "unreadable"  # a failed or unreadable scan
    label_misprint = "label-misprint"
    wrong_label = "wrong-label"  # another product's or batch's data on the label
    rework = "rework"  # relabelled: the old serial replaced by a new one
    qc_sample = "qc-sample"
    destroyed = "destroyed"
    damaged = "damaged"
    stolen = "stolen"
    lost = "lost"  # lost or missing


class Outcome(StrEnum):
    """How a record was resolved."""

    confirmed = "confirmed"  # it happened as recorded; the units stay where the record put them
    corrected = "corrected"  # the cause was put right on the line (relabelled, reprinted, re-read)
    no_defect = "no-defect"  # on review the units were found fine


class ExceptionRecorded(EventContract):
    """Something went wrong with these units at this line. `serials` are the units named (of
    one batch); for rework, `replacement_serial` is the serial relabelled in the first's place
    (the record links both ways). `parents` are cases, pallets or bundles named as a whole;
    with `cascade` every unit below them is taken out too (each in a `SerialsDecommissioned`
    naming its parent). `observed_by` is who saw it, as the line states it; who recorded it is
    in the record's metadata."""

    EVENT_TYPE: ClassVar[str] = "exceptions.ExceptionRecorded"
    EVENT_VERSION: ClassVar[int] = 1

    exception_id: UUID
    exception_type: ExceptionType
    gtin: str
    lot: str
    serials: tuple[str, ...] = ()
    replacement_serial: str | None = None
    parents: tuple[str, ...] = ()  # canonical GS1 Digital Link URIs (SSCCs, or SGTINs of bundles)
    cascade: bool = False
    line_id: str
    read_point: Sgln
    biz_location: Sgln
    site_gln: str  # the line's site
    cmo_id: str | None = None  # the batch's CMO, when a CMO packs it
    event_time: datetime
    description: str
    observed_by: str

    @model_validator(mode="after")
    def _names_something(self) -> ExceptionRecorded:
        if not (self.serials or self.parents):
            raise ValueError("a record names units or parents")
        return self


class InvestigationStarted(EventContract):
    EVENT_TYPE: ClassVar[str] = "exceptions.InvestigationStarted"
    EVENT_VERSION: ClassVar[int] = 1

    exception_id: UUID
    note: str


class ExceptionResolved(EventContract):
    """Closed with an outcome and a reason. A record that took units out of the supply chain
    is signed by QA (the signature is recorded next, bound to this record's hash)."""

    EVENT_TYPE: ClassVar[str] = "exceptions.ExceptionResolved"
    EVENT_VERSION: ClassVar[int] = 1

    exception_id: UUID
    outcome: Outcome
    reason: str


class ExceptionCancelled(EventContract):
    """Recorded in error (the wrong unit scanned, a duplicate record)."""

    EVENT_TYPE: ClassVar[str] = "exceptions.ExceptionCancelled"
    EVENT_VERSION: ClassVar[int] = 1

    exception_id: UUID
    reason: str


class HoldPlaced(EventContract):
    """Containment: "isolate the affected product" as an electronic state. A hold names a batch
    and holds either all of it (`whole_batch`) or the units and parents named (a parent holds
    everything below it). Held units are refused by packing, and will be by shipping and
    release, until the hold is lifted. `cmo_id` is the batch's CMO when it was placed."""

    EVENT_TYPE: ClassVar[str] = "exceptions.HoldPlaced"
    EVENT_VERSION: ClassVar[int] = 1

    hold_id: UUID
    gtin: str
    lot: str
    whole_batch: bool
    serials: tuple[str, ...] = ()  # SGTINs of `gtin`, by serial number
    parents: tuple[str, ...] = ()  # canonical GS1 Digital Link URIs (SSCCs, or SGTINs of bundles)
    cmo_id: str | None = None
    reason: str
    event_time: datetime
    line_id: str | None = None  # the line whose hold it is; none: the batch's, at every line
    # A line's output in a time window: the units commissioned on `line_id` in [start, end),
    # as known when the hold was placed, are `serials`.
    window_start: datetime | None = None
    window_end: datetime | None = None


class HoldLifted(EventContract):
    """Released, with a reason and a QA e-signature (recorded next to it, bound to its hash)."""

    EVENT_TYPE: ClassVar[str] = "exceptions.HoldLifted"
    EVENT_VERSION: ClassVar[int] = 1

    hold_id: UUID
    reason: str


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
    parent_id: str | None = None  # taken out with this parent (a cascade), not named one by one


class DecommissionUndone(EventContract):
    """A decommission undone, as the EU FMD rules allow (within 10 days, at the same location,
    never from Stolen or Destroyed, never for a recalled or expired batch): these packs are back
    in the supply chain. `line_id` is where it was undone."""

    EVENT_TYPE: ClassVar[str] = "exceptions.DecommissionUndone"
    EVENT_VERSION: ClassVar[int] = 1

    exception_id: UUID
    gtin: str
    serials: tuple[str, ...] = Field(min_length=1)
    reason: str
    line_id: str
    event_time: datetime


class CaptureDecided(CaptureDecision):
    """The decommissioning, destroying and sampling ObjectEvents of an EPCIS capture, decided
    (see `CaptureDecision`): those applied are the `ExceptionRecorded` (and the
    `SerialsDecommissioned` with each) this stream's unit recorded with it."""

    EVENT_TYPE: ClassVar[str] = "exceptions.CaptureDecided"
    EVENT_VERSION: ClassVar[int] = 1


EVENTS = event_types(
    ExceptionRecorded,
    InvestigationStarted,
    ExceptionResolved,
    ExceptionCancelled,
    SerialsDecommissioned,
    DecommissionUndone,
    HoldPlaced,
    HoldLifted,
    *DEVIATION_EVENTS,
    CaptureDecided,
)
