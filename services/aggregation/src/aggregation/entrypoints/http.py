"""HTTP routes of aggregation: parse → command → handler. No decisions here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from serialtrail_contracts.aggregation import ChildrenPacked, ChildrenUnpacked, ParentClosed
from serialtrail_gs1.paths import GtinPath, LotPath
from serialtrail_gs1.rules import SCAN_RULES
from serialtrail_kit.access.authz import requires
from serialtrail_kit.declaration import NOT_IN_FUTURE, NotAhead
from serialtrail_kit.errors import Conflict, InvalidInput
from serialtrail_kit.http.answers import ok
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.problems import JsonResponse
from serialtrail_kit.http.refusals import refuses

from aggregation.application.handlers import AggregationHandlers
from aggregation.domain import rules
from aggregation.domain.hierarchy import CLOSE_RULES, PACK_RULES, UNPACK_RULES, Close, Pack, Unpack
from aggregation.entrypoints import permissions as allowed
from aggregation.entrypoints.ids import ParsedIds, one_id
from aggregation.entrypoints.resources import Resources, id_cache, in_scope, narrowed
from aggregation.entrypoints.responses import AncestorsOut, ReportOut, TreeOut
from aggregation.entrypoints.schemas import (
    CloseIn,
    CloseOut,
    PackIn,
    PackingsIn,
    PackingsOut,
    PackOut,
    UnpackIn,
    UnpackOut,
)
from aggregation.projections.hierarchy.queries import AggregationQueries, Report, Tree

Consistent = Callable[[], Awaitable[None]]
At = Annotated[datetime | None, Query(description="the tree as it was at this time (event time, ISO 8601)")]


# What each command refuses beyond its resource's lookups: its ids as scanned, its time, the
# request's own rules (`hierarchy.check_request`, products registered), then the domain's decision.
_STATED = (*SCAN_RULES, NOT_IN_FUTURE)
_PACKS_ONE = refuses({InvalidInput: (*_STATED, rules.UNIQUE_CHILD, rules.REGISTERED_PRODUCT), Conflict: PACK_RULES})
_PACKS_MANY = refuses(
    {InvalidInput: (*_STATED, rules.UNIQUE_PARENT, rules.UNIQUE_CHILD, rules.REGISTERED_PRODUCT), Conflict: PACK_RULES}
)
_UNPACKS = refuses({InvalidInput: _STATED, Conflict: UNPACK_RULES})
# A close naming no line is recorded on the line its parent was formed on, looked up again.
_CLOSES = refuses({InvalidInput: (*_STATED, rules.REGISTERED_LINE), Conflict: CLOSE_RULES})
_READS_AN_ID = refuses({InvalidInput: SCAN_RULES})


def _pack_out(event: ChildrenPacked | ChildrenUnpacked | ParentClosed) -> PackOut:
    assert isinstance(event, ChildrenPacked)
    return PackOut(
        pack_id=event.pack_id,
        parent=event.parent_id,
        packaging_level=event.packaging_level,
        children=len(event.child_ids),
        pending_children=list(event.pending_child_ids),
        parent_pending=event.parent_pending,
        hierarchy_url=f"/v1/hierarchy/{event.parent_id}",
    )


def build_router(
    handlers: AggregationHandlers, queries: AggregationQueries, consistent: Consistent, not_ahead: NotAhead
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["aggregation"])
    resources = Resources(queries, consistent)
    _packing_routes(router, handlers, resources, not_ahead)
    _query_routes(router, queries, resources)
    return router


def _packing_routes(
    router: APIRouter, handlers: AggregationHandlers, resources: Resources, not_ahead: NotAhead
) -> None:
    pack_dependency = [requires(allowed.PACK, resources.packing)]

    @router.post("/pack", status_code=status.HTTP_201_CREATED, dependencies=pack_dependency, openapi_extra=_PACKS_ONE)
    async def pack(body: PackIn, request: Request) -> PackOut:
        """Pack children (SGTINs or SSCCs) into a parent (SSCC, or SGTIN for bundles). A parent may be
        filled over several calls until closed. Children not yet known as commissioned are accepted as
        *pending* and confirmed when their commissioning arrives."""
        ids = ParsedIds(id_cache(request))
        command = Pack(
            parent=ids.parse(body.parent, "parent"),
            level=body.packaging_level,
            children=ids.parse_all(body.children, "children"),
            line=request.state.line,  # resolved by the ownership check
            event_time=not_ahead(body.event_time, "event_time"),
        )
        ids.raise_if_invalid()
        (event,) = await handlers.pack(
            [command], ids.objects, in_scope(request), record_metadata(request), ids.labels, narrowed=narrowed(request)
        )
        return _pack_out(event)

    @router.post(
        "/packings", status_code=status.HTTP_201_CREATED, dependencies=pack_dependency, openapi_extra=_PACKS_MANY
    )
    async def pack_many(body: PackingsIn, request: Request) -> PackingsOut:
        """Several packs recorded together, all or nothing (e.g. a pallet with its cases at pallet
        close). Later packs may name parents filled by earlier ones."""
        ids = ParsedIds(id_cache(request))
        commands = [
            Pack(
                parent=ids.parse(entry.parent, f"packs[{index}].parent"),
                level=entry.packaging_level,
                children=ids.parse_all(entry.children, f"packs[{index}].children"),
                line=request.state.line,
                event_time=not_ahead(body.event_time, "event_time"),
                field=f"packs[{index}]",
            )
            for index, entry in enumerate(body.packs)
        ]
        ids.raise_if_invalid()
        events = await handlers.pack(
            commands, ids.objects, in_scope(request), record_metadata(request), ids.labels, narrowed=narrowed(request)
        )
        return PackingsOut(packs=[_pack_out(event) for event in events])

    @router.post("/unpack", dependencies=[requires(allowed.PACK, resources.unpacked)], openapi_extra=_UNPACKS)
    async def unpack(body: UnpackIn, request: Request) -> UnpackOut:
        """Remove some or all children from a parent (rework, damaged case, sampling), with a reason.
        Unpacking a closed parent reopens it."""
        ids = ParsedIds(id_cache(request))
        parent = ids.parse(body.parent, "parent")
        children = None if body.children is None else ids.parse_all(body.children, "children")
        ids.raise_if_invalid()
        command = Unpack(
            parent, children, body.reason, body.comment, request.state.line, not_ahead(body.event_time, "event_time")
        )
        event, _ = await handlers.unpack(command, record_metadata(request, reason=body.reason.value))
        assert isinstance(event, ChildrenUnpacked)
        return UnpackOut(
            unpack_id=event.unpack_id, parent=event.parent_id, children=list(event.child_ids), reason=event.reason
        )

    @router.post("/close/{parent:path}", dependencies=[requires(allowed.PACK, resources.closed)], openapi_extra=_CLOSES)
    async def close(parent: str, request: Request, body: CloseIn | None = None) -> CloseOut:
        """Mark a parent complete; nothing more can be packed into it. With `expected_count`, a
        different number of children is refused, naming the count."""
        body = body or CloseIn()
        closed = one_id(parent, "parent").uri
        command = Close(
            parent=closed,
            expected_count=body.expected_count,
            line=request.state.line if body.line_id else await resources.line_of(closed),
            event_time=datetime.now(UTC) if body.event_time is None else not_ahead(body.event_time, "event_time"),
        )
        event, _ = await handlers.close(command, record_metadata(request))
        assert isinstance(event, ParentClosed)
        return CloseOut(parent=event.parent_id, child_count=event.child_count, expected_count=event.expected_count)


def _query_routes(router: APIRouter, queries: AggregationQueries, resources: Resources) -> None:
    read = allowed.READ

    @router.get(
        "/hierarchy/{object_id:path}",
        dependencies=[requires(read, resources.tree)],
        responses=ok(TreeOut, "the tree below the parent"),
    )
    async def hierarchy(object_id: str, request: Request, at: At = None) -> JsonResponse:
        """The full tree below a parent, every level, each link confirmed or pending (an error when
        decommissioned or mislabelled); `held: true` on what a containment hold holds (a unit,
        a parent and everything on it, a unit of a held batch; the root also through a held
        parent it is on); `?at=` for the tree as it was then."""
        tree: Tree = request.state.tree  # loaded by the ownership check
        return JsonResponse(tree.body)

    @router.get(
        "/ancestors/{object_id:path}",
        dependencies=[requires(read, resources.ancestry)],
        openapi_extra=_READS_AN_ID,
        responses=ok(AncestorsOut, "the parents above the object"),
    )
    async def ancestors(object_id: str, request: Request, at: At = None) -> JsonResponse:
        """The parents above an object, nearest first (case, pallet, …), up to the first one
        outside the caller's scope (another line's or CMO's parent is not shown, nor above it)."""
        child = one_id(object_id)
        chain = await resources.visible_ancestors(request, await queries.ancestors(child, at))
        return JsonResponse({"id": child.uri, "kind": child.kind.value, "ancestors": chain})

    @router.get(
        "/batches/{gtin}/{lot}/aggregation-report",
        dependencies=[requires(read, resources.batch)],
        responses=ok(ReportOut, "the batch's completeness report"),
    )
    async def report(
        gtin: GtinPath, lot: LotPath, request: Request, limit: Annotated[int, Query(ge=0, le=10_000)] = 100
    ) -> JsonResponse:
        """Completeness before release: commissioned units not aggregated, pending links (children of
        this GTIN not yet known as commissioned: their lot is known only once they are), open parents,
        parents not yet known as allocated/commissioned. A principal narrowed to lines sees parents formed
        on other lines counted, their ids null."""
        found: Report = request.state.report  # built by the ownership check
        return JsonResponse(found.body)
