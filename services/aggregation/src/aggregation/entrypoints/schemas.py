"""HTTP request and response bodies, with OpenAPI examples."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from serialtrail_contracts.aggregation import PackagingLevel, UnpackReason
from serialtrail_kit.http.body import Body, Count, Timestamp

from aggregation.domain.hierarchy import MAX_CHILDREN

MAX_PACKS = 1_000
CASE = "https://id.gs1.org/00/095060000000000015"
PALLET = "urn:epc:id:sscc:9506000.1000000002"
UNITS = ["(01)09506000134352(21)7Q4XK2M9PZ3A", "urn:epc:id:sgtin:9506000.013435.H2JD8W5NQ0RT"]
ObjectIdText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="SGTIN or SSCC as a line sends it: raw scanner data (symbology identifier ]d2, ]C1 or ]Q3, "
        "GS separators, AIs in any order), HRI, element string, EPC URI, GS1 Digital Link URI, or 18-digit SSCC; "
        "a lot (10) or expiry (17) it carries must be its batch's",
    ),
]
LineId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="the registered packaging line, by its id or its read point's SGLN URI (EPCIS readPoint)",
    ),
]


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class PackIn(Body):
    model_config = _examples(
        {
            "parent": CASE,
            "packaging_level": "case",
            "children": UNITS,
            "line_id": "LINE-1",
            "event_time": "2026-11-22T08:15:00Z",
        }
    )
    parent: ObjectIdText
    packaging_level: PackagingLevel
    children: Annotated[list[ObjectIdText], Field(min_length=1, max_length=MAX_CHILDREN)]
    line_id: LineId
    event_time: Timestamp


class PackEntry(Body):
    parent: ObjectIdText
    packaging_level: PackagingLevel
    children: Annotated[list[ObjectIdText], Field(min_length=1, max_length=MAX_CHILDREN)]


class PackingsIn(Body):
    model_config = _examples(
        {
            "packs": [
                {"parent": CASE, "packaging_level": "case", "children": UNITS},
                {"parent": PALLET, "packaging_level": "pallet", "children": [CASE]},
            ],
            "line_id": "LINE-1",
            "event_time": "2026-11-22T08:30:00Z",
        }
    )
    packs: Annotated[list[PackEntry], Field(min_length=1, max_length=MAX_PACKS)]
    line_id: LineId
    event_time: Timestamp


class PackOut(BaseModel):
    pack_id: UUID
    parent: str
    packaging_level: PackagingLevel
    children: int
    pending_children: list[str] = Field(description="not yet known as commissioned/allocated: links pending")
    parent_pending: bool
    hierarchy_url: str


class PackingsOut(BaseModel):
    packs: list[PackOut]


class UnpackIn(Body):
    model_config = _examples(
        {
            "parent": CASE,
            "children": UNITS[:1],
            "reason": "damaged",
            "comment": "crushed corner found at check weigher",
            "line_id": "LINE-1",
            "event_time": "2026-11-22T08:20:00Z",
        }
    )
    parent: ObjectIdText
    children: Annotated[
        list[ObjectIdText] | None, Field(max_length=MAX_CHILDREN, description="omit to remove every child")
    ] = None
    reason: UnpackReason
    comment: Annotated[str | None, Field(max_length=500)] = None
    line_id: LineId
    event_time: Timestamp


class UnpackOut(BaseModel):
    unpack_id: UUID
    parent: str
    children: list[str]
    reason: UnpackReason


class CloseIn(Body):
    model_config = _examples({"expected_count": 100, "line_id": "LINE-1", "event_time": "2026-11-22T08:25:00Z"})
    expected_count: Annotated[Count | None, Field(ge=0, description="a mismatch is refused, naming the count")] = None
    line_id: LineId | None = None
    event_time: Timestamp | None = Field(default=None, description="defaults to the server's time")


class CloseOut(BaseModel):
    parent: str
    child_count: int
    expected_count: int | None
