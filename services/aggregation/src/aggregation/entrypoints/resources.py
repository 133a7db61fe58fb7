"""What each route of aggregation touches, and who owns it. The kit checks it before the
endpoint runs (`serialtrail_kit.access.resources`).

Owners: an SGTIN is its GTIN's company's and, once commissioned, its batch's CMO's; an SSCC
is the company whose prefix it carries and, once it holds something, the CMOs of what it
holds. What a request names (GTINs, SSCCs, its line) is checked from the request itself: a
line as registered (its id, its site and the CMO operating it), so a CMO's key cannot record
on another party's line; what a parent holds is looked up in the hierarchy read model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from pydantic import TypeAdapter, ValidationError
from serialtrail_contracts.aggregation import UnpackReason
from serialtrail_contracts.identity import NO_CMO, Principal, Target
from serialtrail_gs1.identity import IdentifierError, ObjectId
from serialtrail_gs1.paths import GTIN_IN_PATH, gtin_in_path
from serialtrail_gs1.rules import SCAN_RULES
from serialtrail_kit.access.authz import request_body, visible
from serialtrail_kit.access.resources import Resource, Unknown
from serialtrail_kit.errors import Conflict, DomainError, InvalidInput, NotFound, Rule
from serialtrail_kit.http.problems import Answered, JsonResponse

from aggregation.domain import owners, rules
from aggregation.domain.hierarchy import Close, Hierarchy, InScope, Unpack, close, unpack
from aggregation.domain.objects import Line
from aggregation.entrypoints.ids import Parsed, object_of, one_id, parse_cached, parse_many
from aggregation.projections.hierarchy.queries import AggregationQueries, batch_report
from aggregation.projections.knowledge import lookups as knowledge

Consistent = Callable[[], Awaitable[None]]
_AT = TypeAdapter(datetime)


def id_cache(request: Request) -> dict[str, Parsed]:
    """Ids parsed once per request: the ownership check and the endpoint both need them."""
    cache: dict[str, Parsed] | None = getattr(request.state, "id_cache", None)
    if cache is None:
        cache = request.state.id_cache = {}
    return cache


def _objects(request: Request, values: list[Any]) -> list[ObjectId]:
    cache = id_cache(request)
    texts = [value for value in values if isinstance(value, str)]
    parse_many(cache, texts)
    parsed = [parse_cached(cache, text) for text in texts]
    return [object_of(p) for p in parsed if not isinstance(p, IdentifierError)]


def ids_named(request: Request, body: dict[str, Any]) -> Target:
    """Every id a pack, unpack or close names (parents and children)."""
    named: list[Any] = [request.path_params.get("parent")]
    for entry in _entries(body):
        named += [entry.get("parent"), *_children(entry)]
    return owners.named_by(_objects(request, named))


def unregistered_line(named: str) -> DomainError:
    message = (
        f"no line is registered as {named!r} (give a registered line id or its read point's SGLN; "
        "a line registered moments ago may not have reached aggregation yet)"
    )
    return InvalidInput(message, [rules.REGISTERED_LINE.at("line_id", message)])


async def object_named(request: Request) -> Target:
    return owners.named_by(_objects(request, [request.path_params["object_id"]]))


def _entries(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The packs a body holds (`/packings`), or the body itself (pack, unpack, close); as sent,
    before validation, so anything malformed is skipped for the endpoint to answer."""
    packs = body.get("packs")
    return [e for e in (packs if isinstance(packs, list) else [body]) if isinstance(e, dict)]


def _children(entry: dict[str, Any]) -> list[Any]:
    children = entry.get("children")
    return children if isinstance(children, list) else []


def _parents(request: Request, body: dict[str, Any]) -> list[str]:
    texts = [request.path_params.get("parent")] + [e.get("parent") for e in _entries(body)]
    return [o.uri for o in _objects(request, texts)]


def _packed(request: Request, body: dict[str, Any]) -> list[ObjectId]:
    """The children a pack names (SSCCs, and units that may hold units)."""
    return _objects(request, [c for e in _entries(body) for c in _children(e)])


def in_scope(request: Request) -> InScope:
    """For the children of a pack: may the caller touch units of this CMO's batches?"""
    principal: Principal = request.state.principal
    return owners.children_in_scope(principal.scope)


def narrowed(request: Request) -> bool:
    """Scoped to some CMOs or lines: such a principal is told nothing of what lies outside."""
    principal: Principal = request.state.principal
    return owners.narrowed(principal.scope)


def _outside_scope(_request: Request) -> DomainError:
    return owners.outside_scope("parent")


def _as_if_empty(decide: Callable[[Hierarchy, str], object]) -> Unknown:
    """What the domain answers for a parent that never held anything: a parent outside the
    caller's scope is answered exactly so."""

    def unknown(request: Request) -> Exception:
        try:
            decide(Hierarchy(), request.state.parent)
        except DomainError as answer:
            return answer
        raise AssertionError("an empty hierarchy holds no parent")

    return unknown


_EPOCH = datetime.min.replace(tzinfo=UTC)
_NOWHERE = Line("", "", "", "", None)
_unpacked_unknown = _as_if_empty(lambda h, p: unpack(h, Unpack(p, None, UnpackReason.rework, None, _NOWHERE, _EPOCH)))
_closed_unknown = _as_if_empty(lambda h, p: close(h, Close(p, None, _NOWHERE, _EPOCH)))


def _at(request: Request) -> datetime | None:
    text = request.query_params.get("at")
    try:
        return None if text is None else _AT.validate_python(text)
    except ValidationError:
        return None  # the endpoint's own validation answers


_Refusals = dict[type[DomainError], Sequence[Rule]]  # the kit's `Refusals`, as dicts that combine with `|`
# What the lookups below refuse with: a line named but not registered (`_named`), an unknown
# answered as the domain answers an empty parent, an id in the path that is no SGTIN or SSCC
# (`one_id` in the owner lookups), a tree or batch not there.
_NAMES_A_LINE: _Refusals = {InvalidInput: (rules.REGISTERED_LINE,)}
_AS_EMPTY_PARENT: _Refusals = {Conflict: (rules.KNOWN_PARENT,)}
_READS_AN_ID: _Refusals = {InvalidInput: SCAN_RULES}


class Resources:
    def __init__(self, queries: AggregationQueries, consistent: Consistent) -> None:
        self.queries, self.consistent = queries, consistent
        self.packing = Resource(
            "packing",
            named=self._named,
            owner=self._packed_into,
            unknown=_outside_scope,
            refuses=_NAMES_A_LINE | {Conflict: (rules.IN_SCOPE,)},
        )
        self.unpacked = Resource(
            "parent",
            named=self._named,
            owner=self._parent,
            unknown=_unpacked_unknown,
            refuses=_NAMES_A_LINE | _AS_EMPTY_PARENT,
        )
        self.closed = Resource(
            "parent",
            named=self._named,
            owner=self._parent,
            unknown=_closed_unknown,
            refuses=_NAMES_A_LINE | _AS_EMPTY_PARENT,
        )
        self.tree = Resource(
            "hierarchy",
            named=object_named,
            owner=self._tree,
            unknown=_holds_nothing,
            refuses=_READS_AN_ID | {NotFound: (rules.PACKED_PARENT,)},
        )
        self.ancestry = Resource(
            "ancestry", named=object_named, owner=self._object, unknown=_no_ancestors, refuses=_READS_AN_ID
        )
        self.batch = Resource(
            "batch",
            named=gtin_in_path(),
            owner=self._batch,
            unknown=_unknown_batch,
            refuses={NotFound: (rules.KNOWN_BATCH,), **GTIN_IN_PATH},
        )

    async def _named(self, request: Request) -> Target:
        """The ids a pack, unpack or close names, and the line it names (kept for the endpoint)."""
        body = await request_body(request)
        named = body.get("line_id")
        if not isinstance(named, str) or not named:
            return ids_named(request, body)  # none: validation, or the parent's own line (close)
        request.state.line = line = await self.line(named)
        return ids_named(request, body) | owners.line_owner(line)

    async def line(self, named: str) -> Line:
        async with self.queries.pool.acquire() as conn:
            found = await knowledge.line(conn, named)
        if found is None:
            raise unregistered_line(named)
        return found

    async def line_of(self, parent: str) -> Line:
        """The line a parent was formed on: where a close that names none happened. A parent
        never packed has none; the domain answers that it holds nothing."""
        await self.consistent()
        formed_on = await self.queries.formed_on(parent)
        return _NOWHERE if formed_on is None else await self.line(formed_on)

    async def visible_ancestors(self, request: Request, chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Nearest first, up to the first parent the caller could not read as a tree."""
        principal: Principal = request.state.principal
        if principal.scope.is_unrestricted:
            return chain
        shown = []
        for ancestor in chain:
            if not visible(request, await self.queries.owner([ancestor["id"]])):
                break
            shown.append(ancestor)
        return shown

    async def _packed_into(self, request: Request) -> Target | None:
        """The CMOs of what the parents packed into, and the cases or pallets packed, hold
        already, and the lines they were formed on: only asked for principals narrowed to CMOs
        or lines (the others may pack any of their company's parents)."""
        if not narrowed(request):
            return None
        await self.consistent()
        body = await request_body(request)
        return await self.queries.packing_owner(_parents(request, body), _packed(request, body))

    async def _parent(self, request: Request) -> Target | None:
        """A parent unpacked or closed: the GTINs and CMOs of what it holds."""
        parents = _parents(request, await request_body(request))
        request.state.parent = parents[0] if parents else None
        if request.state.parent is None:
            return None  # not an id: the endpoint's validation answers
        await self.consistent()
        return await self.queries.owner(parents)

    async def _tree(self, request: Request) -> Target:
        root = one_id(request.path_params["object_id"])
        await self.consistent()
        principal: Principal = request.state.principal
        tree = await self.queries.tree(root, _at(request), scoped=not principal.scope.is_unrestricted)
        if tree is None:
            raise _holds_nothing(request)
        request.state.tree = tree
        return tree.target

    async def _object(self, request: Request) -> Target:
        """Whose an object is now: an SGTIN its batch's CMO's, an SSCC its contents' CMOs'."""
        found = one_id(request.path_params["object_id"])
        await self.consistent()
        return await self.queries.owner([found.uri])

    async def _batch(self, request: Request) -> Target:
        gtin, lot = request.path_params["gtin"], request.path_params["lot"]
        await self.consistent()
        limit = request.query_params.get("limit", "100")
        limited = min(int(limit[:6]), 10_000) if limit.isascii() and limit.isdigit() else 100  # else: the route's 422
        scope = request.state.principal.scope
        found = await batch_report(
            self.queries.pool,
            gtin,
            lot,
            limited,
            narrowed=narrowed(request),
            lines=scope.lines,
            cmos=scope.cmos,
            skew=self.queries.skew,
        )
        if found is None:
            raise _unknown_batch(request)
        request.state.report = found
        return Target(cmos=frozenset({found.cmo_id or NO_CMO}))


def _holds_nothing(request: Request) -> DomainError:
    root = one_id(request.path_params["object_id"])
    return NotFound(f"{root.uri} holds nothing", [rules.PACKED_PARENT.at("id", "holds no children")])


def _unknown_batch(request: Request) -> DomainError:
    gtin, lot = request.path_params["gtin"], request.path_params["lot"]
    return NotFound(f"no batch {lot!r} is known for GTIN {gtin}", [rules.KNOWN_BATCH.at("lot", "unknown")])


def _no_ancestors(request: Request) -> Exception:
    """An object outside the caller's scope has, as far as the caller can tell, no parents."""
    found = one_id(request.path_params["object_id"])
    return Answered(JsonResponse({"id": found.uri, "kind": found.kind.value, "ancestors": []}))
