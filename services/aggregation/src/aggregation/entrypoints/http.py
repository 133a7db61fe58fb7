"""HTTP routes of aggregation: parse → command → handler. No decisions here."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from serialtrail_contracts.aggregation import ChildrenPacked, ChildrenUnpacked, ParentClosed
from serialtrail_contracts.identity import NO_CMO, Principal, Scope, Target
from serialtrail_gs1.identity import ObjectId
from serialtrail_kit.access.authz import ensure_visible, path_target, request_body, requires, visible
from serialtrail_kit.errors import NotFound, Violation
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.problems import PROBLEM_RESPONSES, JsonResponse

from aggregation.application.handlers import AggregationHandlers
from aggregation.domain.hierarchy import Close, InScope, Pack, Unpack
from aggregation.entrypoints import permissions as allowed
from aggregation.entrypoints.ids import Parsed, ParsedIds, one_id, parse_cached
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
from aggregation.projections.hierarchy.queries import AggregationQueries, batch_report

Consistent = Callable[[], Awaitable[None]]
At = Annotated[datetime | None, Query(description="the tree as it was at this time (event time, ISO 8601)")]


def _id_cache(request: Request) -> dict[str, Parsed]:
    cache: dict[str, Parsed] | None = getattr(request.state, "id_cache", None)
    if cache is None:
        cache = request.state.id_cache = {}
    return cache


def _gtins_in(request: Request, values: list[Any]) -> set[str]:
    cache = _id_cache(request)
    parsed = [parse_cached(cache, value) for value in values if isinstance(value, str)]
    return {p.gtin for p in parsed if isinstance(p, ObjectId) and p.gtin is not None}


async def packing_target(request: Request) -> Target:
    """The line and the GTINs of every SGTIN a pack, unpack or close names."""
    body = await request_body(request)
    entries = body.get("packs") if isinstance(body.get("packs"), list) else [body]
    named: list[Any] = [request.path_params.get("parent")]
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            children = entry.get("children")
            named += [entry.get("parent"), *(children if isinstance(children, list) else [])]
    lines = {str(body["line_id"])} if body.get("line_id") else set()
    return Target(gtins=frozenset(_gtins_in(request, named)), lines=frozenset(lines))


async def object_target(request: Request) -> Target:
    return Target(gtins=frozenset(_gtins_in(request, [request.path_params["object_id"]])))


def _in_scope(request: Request) -> InScope:
    principal: Principal = request.state.principal
    if principal.scope.cmos is None:
        return None

    @functools.cache
    def in_scope(cmo: str | None) -> bool:  # asked once per child, answered once per CMO
        return visible(request, Target(cmos=frozenset({cmo or NO_CMO})))

    return in_scope


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


def build_router(handlers: AggregationHandlers, queries: AggregationQueries, consistent: Consistent) -> APIRouter:
    router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES, tags=["aggregation"])
    _packing_routes(router, handlers)
    _query_routes(router, queries, consistent)
    return router


def _packing_routes(router: APIRouter, handlers: AggregationHandlers) -> None:
    pack_dependency = [requires(allowed.PACK, packing_target)]

    @router.post("/pack", status_code=status.HTTP_201_CREATED, dependencies=pack_dependency)
    async def pack(body: PackIn, request: Request) -> PackOut:
        """Pack children (SGTINs or SSCCs) into a parent (SSCC, or SGTIN for bundles). A parent may be
        filled over several calls until closed. Children not yet known as commissioned are accepted as
        *pending* and confirmed when their commissioning arrives."""
        ids = ParsedIds(_id_cache(request))
        command = Pack(
            parent=ids.parse(body.parent, "parent"),
            level=body.packaging_level,
            children=ids.parse_all(body.children, "children"),
            line_id=body.line_id,
            event_time=body.event_time,
        )
        ids.raise_if_invalid()
        (event,) = await handlers.pack([command], ids.objects, _in_scope(request), record_metadata(request))
        return _pack_out(event)

    @router.post("/packings", status_code=status.HTTP_201_CREATED, dependencies=pack_dependency)
    async def pack_many(body: PackingsIn, request: Request) -> PackingsOut:
        """Several packs recorded together, all or nothing (e.g. a pallet with its cases at pallet
        close). Later packs may name parents filled by earlier ones."""
        ids = ParsedIds(_id_cache(request))
        commands = [
            Pack(
                parent=ids.parse(entry.parent, f"packs[{index}].parent"),
                level=entry.packaging_level,
                children=ids.parse_all(entry.children, f"packs[{index}].children"),
                line_id=body.line_id,
                event_time=body.event_time,
                field=f"packs[{index}]",
            )
            for index, entry in enumerate(body.packs)
        ]
        ids.raise_if_invalid()
        events = await handlers.pack(commands, ids.objects, _in_scope(request), record_metadata(request))
        return PackingsOut(packs=[_pack_out(event) for event in events])

    @router.post("/unpack", dependencies=pack_dependency)
    async def unpack(body: UnpackIn, request: Request) -> UnpackOut:
        """Remove some or all children from a parent (rework, damaged case, sampling), with a reason.
        Unpacking a closed parent reopens it."""
        ids = ParsedIds(_id_cache(request))
        parent = ids.parse(body.parent, "parent")
        children = None if body.children is None else ids.parse_all(body.children, "children")
        ids.raise_if_invalid()
        command = Unpack(parent, children, body.reason, body.comment, body.line_id, body.event_time)
        event, _ = await handlers.unpack(command, record_metadata(request, reason=body.reason.value))
        assert isinstance(event, ChildrenUnpacked)
        return UnpackOut(
            unpack_id=event.unpack_id, parent=event.parent_id, children=list(event.child_ids), reason=event.reason
        )

    @router.post("/close/{parent:path}", dependencies=pack_dependency)
    async def close(parent: str, request: Request, body: CloseIn | None = None) -> CloseOut:
        """Mark a parent complete; nothing more can be packed into it. With `expected_count`, a
        different number of children is refused, naming the count."""
        body = body or CloseIn()
        command = Close(
            parent=one_id(parent, "parent").uri,
            expected_count=body.expected_count,
            line_id=body.line_id,
            event_time=body.event_time or datetime.now(UTC),
        )
        event, _ = await handlers.close(command, record_metadata(request))
        assert isinstance(event, ParentClosed)
        return CloseOut(parent=event.parent_id, child_count=event.child_count, expected_count=event.expected_count)


def _query_routes(router: APIRouter, queries: AggregationQueries, consistent: Consistent) -> None:
    read = allowed.READ

    @router.get("/hierarchy/{object_id:path}", dependencies=[requires(read, object_target)])
    async def hierarchy(object_id: str, request: Request, at: At = None) -> JsonResponse:
        """The full tree below a parent, every level, each link confirmed or pending; `?at=` for the
        tree as it was then."""
        root = one_id(object_id)
        await consistent()
        principal: Principal = request.state.principal
        tree = await queries.tree(root, at, scoped=principal.scope != Scope.unrestricted())
        if tree is None:
            raise NotFound(f"{root.uri} holds nothing", [Violation("id", "packed-parent", "holds no children")])
        ensure_visible(request, tree.target, "parent")
        return JsonResponse(tree.body)

    @router.get("/ancestors/{object_id:path}", dependencies=[requires(read, object_target)])
    async def ancestors(object_id: str, at: At = None) -> JsonResponse:
        """The parents above an object, nearest first (case, pallet, …)."""
        child = one_id(object_id)
        await consistent()
        chain = await queries.ancestors(child, at)
        return JsonResponse({"id": child.uri, "kind": child.kind.value, "ancestors": chain})

    @router.get("/batches/{gtin}/{lot}/aggregation-report", dependencies=[requires(read, path_target(gtins="gtin"))])
    async def report(
        gtin: str, lot: str, request: Request, limit: Annotated[int, Query(ge=0, le=10_000)] = 100
    ) -> JsonResponse:
        """Completeness before release: commissioned units not aggregated, pending links (children of
        this GTIN not yet known as commissioned: their lot is known only once they are), open parents,
        parents not yet known as allocated/commissioned."""
        await consistent()
        found = await batch_report(queries.pool, gtin, lot, limit)
        missing = NotFound(f"no batch {lot!r} is known for GTIN {gtin}", [Violation("lot", "known-batch", "unknown")])
        if found is None:
            raise missing
        if not visible(request, Target(cmos=frozenset({found.cmo_id or NO_CMO}))):
            raise missing
        return JsonResponse(found.body)
