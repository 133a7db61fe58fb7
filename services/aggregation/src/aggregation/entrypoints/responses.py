"""What the reads of the hierarchy answer, for the OpenAPI document only.

The routes render answers PostgreSQL mostly built (a tree's lists of leaves reach the client
without being parsed); these models are attached with `responses=`, so an answer is neither
re-validated nor changed. They are closed (`extra="forbid"`): a field an answer gains without
being described here fails test_documented_reads."""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import Field
from serialtrail_contracts.aggregation import PackagingLevel
from serialtrail_gs1.identity import Kind
from serialtrail_kit.http.answers import Answer

Id = Annotated[str, Field(description="canonical GS1 Digital Link URI (https://id.gs1.org/01/…/21/… or /00/…)")]
Level = Annotated[PackagingLevel | None, Field(description="the level it was filled as; null: never packed into")]
Closed = Annotated[bool, Field(description="closed: nothing more can be packed into it (absent when read `?at=`)")]
Status = Annotated[
    Literal["confirmed", "pending", "error"],
    Field(
        description="confirmed: known as commissioned (or allocated); pending: not known yet, accepted as "
        "scanned; error: decommissioned, commissioned into another lot than scanned, or packed before its "
        "commissioning"
    ),
]
Held = Annotated[
    bool,
    Field(
        description="present (true) only when a containment hold holds it: itself, its batch, or (the root) a parent"
    ),
]


class Node(Answer):
    """One object in the tree; a parent among them carries its level and its own children."""

    id: Id
    status: Status
    held: Held = True
    level: Level = None
    closed: Closed = False
    children: list[Node] = Field(default_factory=list, description="what it holds (parents only)")


class Counts(Answer):
    objects: int = Field(description="objects below the root, every level")
    pending: int = Field(description="of them, not yet known as commissioned or allocated")
    errors: int = Field(description="of them, in error (see `status`)")
    held: int = Field(description="of them, held (see `held`)")


class TreeOut(Answer):
    """A parent and everything below it."""

    id: Id
    status: Status
    held: Held = True
    level: Level
    closed: Closed = False
    children: list[Node]
    counts: Counts


class Ancestor(Answer):
    id: Id
    level: Level
    closed: Closed = False
    line_id: str | None = Field(description="the line it was formed on")


class AncestorsOut(Answer):
    id: Id
    kind: Kind = Field(description="sgtin or sscc")
    ancestors: list[Ancestor] = Field(description="nearest first, up to the first outside the caller's scope")


T = TypeVar("T")


class Listing(Answer, Generic[T]):
    count: int = Field(description="how many there are in all")
    items: list[T] = Field(description="the first `limit` of them")
    truncated: bool = Field(description="more than `limit`: only the first are listed")


ParentId = Annotated[str | None, Field(description="null: formed on a line outside the caller's scope")]


class PendingLink(Answer):
    child: Id
    parent: ParentId


class ParentListed(Answer):
    id: ParentId
    level: Level


class LinkError(Answer):
    child: Id
    parent: ParentId
    problem: str = Field(description="what is wrong: decommissioned (reason), packed as another lot, packed early")


class ReportOut(Answer):
    """What QA checks before releasing the batch: complete when every list below is empty."""

    gtin: str
    lot: str
    commissioned: int = Field(description="units of the batch commissioned")
    aggregated: int = Field(description="of them, packed into a parent")
    not_aggregated: Listing[str] = Field(description="commissioned units in no parent, not decommissioned")
    pending_links: Listing[PendingLink] = Field(description="children not yet known as commissioned")
    open_parents: Listing[ParentListed] = Field(description="parents holding the batch's units, not closed")
    pending_parents: Listing[ParentListed] = Field(description="parents not yet known as allocated/commissioned")
    errors: Listing[LinkError]
    complete: bool = Field(description="true when every list above is empty")
