"""Events of the aggregation service, published on `serialtrail.aggregation.v1`.

`ChildrenPacked` and `ChildrenUnpacked` are EPCIS AggregationEvents (action ADD and
DELETE; bizStep packing and unpacking) and map to them field for field: `parent_id` →
parentID, `child_ids` → childEPCs, `event_time` → eventTime, `read_point` → readPoint,
`biz_location` → bizLocation (`line_id` is the line's registered code).
Identifiers are canonical GS1 Digital Link URIs (`https://id.gs1.org/01/…/21/…`,
`https://id.gs1.org/00/…`), valid EPCIS 2.0 identifiers that need no company prefix length.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from serialtrail_contracts.base import EventContract, event_types
from serialtrail_contracts.epcis import CaptureDecision
from serialtrail_contracts.locations import Sgln, with_unregistered_locations

ObjectUri = str  # canonical GS1 Digital Link URI of an SGTIN or SSCC


class PackagingLevel(StrEnum):
    """The level of the parent being filled (GS1 packaging hierarchy)."""

    bundle = "bundle"
    case = "case"
    pallet = "pallet"


class UnpackReason(StrEnum):
    rework = "rework"
    damaged = "damaged"
    sampling = "sampling"
    correction = "correction"  # the physical packing differs from what was recorded


class ChildrenPacked(EventContract):
    """EPCIS AggregationEvent ADD, bizStep packing, disposition in_progress.

    `pending_child_ids` (and `parent_pending`) record which objects this service had not
    yet seen commissioned or allocated when the packing was recorded. They are evidence of
    what was known at that moment, not the link's status: a reader derives the status from
    the commissioning facts it holds, so the outcome does not depend on arrival order."""

    EVENT_TYPE: ClassVar[str] = "aggregation.ChildrenPacked"
    EVENT_VERSION: ClassVar[int] = 3  # v2: `scanned_lots`; v3: read_point, biz_location (see UPCASTS)

    pack_id: UUID
    parent_id: ObjectUri
    packaging_level: PackagingLevel
    child_ids: tuple[ObjectUri, ...] = Field(min_length=1)
    line_id: str
    read_point: Sgln
    biz_location: Sgln
    event_time: datetime
    pending_child_ids: tuple[ObjectUri, ...] = ()
    parent_pending: bool = False
    # The lot each pending child's scan carried: checked against the batch its commissioning
    # names when that arrives (a link to a unit commissioned into another lot is an error).
    scanned_lots: dict[ObjectUri, str] = Field(default_factory=dict)


def children_packed_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Packs recorded before scanned lots were kept: none was kept."""
    return {**payload, "scanned_lots": {}}


class ChildrenUnpacked(EventContract):
    """EPCIS AggregationEvent DELETE, bizStep unpacking. Removing children from a closed
    parent reopens it (rework: a replacement is packed and the parent closed again)."""

    EVENT_TYPE: ClassVar[str] = "aggregation.ChildrenUnpacked"
    EVENT_VERSION: ClassVar[int] = 2  # v2: read_point, biz_location

    unpack_id: UUID
    parent_id: ObjectUri
    child_ids: tuple[ObjectUri, ...] = Field(min_length=1)
    reason: UnpackReason
    comment: str | None = None
    line_id: str
    read_point: Sgln
    biz_location: Sgln
    event_time: datetime


class ParentClosed(EventContract):
    """The parent is complete: nothing more may be packed into it until it is reopened. In
    EPCIS an ObjectEvent OBSERVE of the parent, bizStep packing, disposition
    completeness_verified (counted against `expected_count`) or completeness_inferred. The
    line is the one named, else the one the parent was formed on."""

    EVENT_TYPE: ClassVar[str] = "aggregation.ParentClosed"
    EVENT_VERSION: ClassVar[int] = 2  # v2: line_id required, read_point, biz_location

    parent_id: ObjectUri
    child_count: int = Field(ge=0)
    expected_count: int | None = Field(default=None, ge=0)
    line_id: str
    read_point: Sgln
    biz_location: Sgln
    event_time: datetime


class CaptureDecided(CaptureDecision):
    """The packing and unpacking AggregationEvents of an EPCIS capture, decided (see
    `CaptureDecision`): those applied are the `ChildrenPacked` and `ChildrenUnpacked` this
    stream's unit recorded with it."""

    EVENT_TYPE: ClassVar[str] = "aggregation.CaptureDecided"
    EVENT_VERSION: ClassVar[int] = 1


EVENTS = event_types(ChildrenPacked, ChildrenUnpacked, ParentClosed, CaptureDecided)


def _parent_closed_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Closes recorded before locations named a line only when the caller gave one."""
    return with_unregistered_locations({**payload, "line_id": payload.get("line_id") or "unknown"})


# Older payload versions and the step lifting each to the next (see serials.UPCASTS).
UPCASTS: dict[tuple[str, int], Any] = {
    (ChildrenPacked.EVENT_TYPE, 1): children_packed_v1_to_v2,
    (ChildrenPacked.EVENT_TYPE, 2): with_unregistered_locations,
    (ChildrenUnpacked.EVENT_TYPE, 1): with_unregistered_locations,
    (ParentClosed.EVENT_TYPE, 1): _parent_closed_v1_to_v2,
}
