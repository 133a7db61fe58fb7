"""What each route of line exceptions touches, and who owns it. The kit checks it before the
endpoint runs (`serialtrail_kit.access.resources`).

A record is its product's (GTIN), its line's (line, site) and its batch's CMO's. A record to be
made names its product and its line in the request (out of scope: a 403 naming the scope); its
batch's CMO is looked up, and a batch outside the caller's scope is answered exactly like an
unknown one. A record is looked up with its owner; lists show only what the scope covers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import Request
from serialtrail_contracts.identity import EVERY_LINE, NO_CMO, Target
from serialtrail_gs1.paths import GTIN_IN_PATH, gtin_in_path
from serialtrail_kit.access.authz import request_body
from serialtrail_kit.access.resources import EXISTS, Resource
from serialtrail_kit.db import Pool
from serialtrail_kit.errors import DomainError, InvalidInput, NotFound

from line_exceptions.domain import owners, rules
from line_exceptions.domain.records import Batch
from line_exceptions.projections import knowledge
from line_exceptions.projections.deviations import deviation as deviation_of
from line_exceptions.projections.deviations import lines_named
from line_exceptions.projections.deviations import lines_of as deviation_lines
from line_exceptions.projections.holds import hold as hold_of
from line_exceptions.projections.records.queries import RecordQueries, owner

Consistent = Callable[[], Awaitable[None]]


def unregistered_line(named: str) -> DomainError:
    message = (
        f"no line is registered as {named!r} (give a registered line id or its read point's SGLN; "
        "a line registered moments ago may not have reached line exceptions yet)"
    )
    return InvalidInput(message, [rules.REGISTERED_LINE.at("line_id", message)])


def _batch_named(body: dict[str, Any]) -> tuple[str, str] | None:
    batch = body.get("batch")
    if not isinstance(batch, dict):
        return None
    gtin, lot = batch.get("gtin"), batch.get("lot")
    return (gtin, lot) if isinstance(gtin, str) and isinstance(lot, str) else None


def _unknown_batch(request: Request) -> DomainError:
    gtin, lot = request.state.batch_named
    message = f"no batch {lot!r} is known for GTIN {gtin}"
    return InvalidInput(message, [rules.KNOWN_BATCH.at("batch.lot", message)])


def _no_batch(request: Request) -> DomainError:
    gtin, lot = request.path_params["gtin"], request.path_params["lot"]
    message = f"no batch {lot!r} is known for GTIN {gtin}"
    return NotFound(message, [rules.KNOWN_BATCH.at("lot", message)])


def looked_up(request: Request, attribute: str, what: str) -> dict[str, Any]:
    """What the ownership check looked up for the route, or 404 as the kit answers another party's."""
    found: dict[str, Any] | None = getattr(request.state, attribute, None)
    if found is None:
        raise NotFound(f"no {what}", [EXISTS.at("id", f"unknown {what}")])
    return found


def _uuids(values: object) -> list[UUID]:
    """The UUIDs of a body's list (anything else: the route's validation answers)."""
    found = [_uuid(v) for v in values if isinstance(v, str)] if isinstance(values, list) else []
    return [u for u in found if u is not None]


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None  # the route's own validation answers


@dataclass(frozen=True)
class Reads:
    """Read-your-writes for each of this service's own read models."""

    records: Consistent
    holds: Consistent
    deviations: Consistent

    async def records_and_holds(self) -> None:
        await self.records()
        await self.holds()


class Resources:
    def __init__(self, pool: Pool, queries: RecordQueries, reads: Reads) -> None:
        self.pool, self.queries, self.reads = pool, queries, reads
        self.recording = Resource(
            "exception",
            named=self._named,
            owner=self._batch,
            unknown=_unknown_batch,
            description="a record to be made: its product and line, and its batch's CMO",
            refuses={InvalidInput: (rules.REGISTERED_LINE, rules.KNOWN_BATCH)},
        )
        self.record = Resource("exception", owner=self._record, description="one record: its product, line and CMO")
        self.decommission = Resource(
            "decommission", owner=self._record, description="what a record took out, to undo: the record's owner's"
        )
        self.records = Resource("exceptions", description="records, as many as the caller's scope covers")
        self.unit = Resource(
            "unit-exceptions", named=gtin_in_path(), description="the records naming one unit", refuses=GTIN_IN_PATH
        )
        self.placing = Resource(
            "hold",
            named=self._hold_named,
            owner=self._batch,
            unknown=_unknown_batch,
            description="a hold: its batch's product and CMO, and its line (none: every line)",
            refuses={InvalidInput: (rules.REGISTERED_LINE, rules.KNOWN_BATCH)},
        )
        self.hold = Resource("hold", owner=self._hold, description="a hold: its batch's product and CMO")
        self.lifting = Resource(
            "hold",
            owner=self._hold_to_lift,
            description="a hold to lift: its batch's, and its line's (none: every line)",
        )
        self.holds = Resource("holds", description="holds, as many as the caller's scope covers")
        self.opening = Resource(
            "deviation",
            named=self._opening_named,
            owner=self._batch,
            unknown=_unknown_batch,
            description="a deviation to be opened: its batch's product and CMO",
            refuses={InvalidInput: (rules.KNOWN_BATCH,)},
        )
        self.deviation = Resource("deviation", owner=self._deviation, description="a deviation: its batch's")
        self.deviations = Resource("deviations", description="deviations, as many as the caller's scope covers")
        self.batch = Resource(
            "batch-exceptions",
            named=gtin_in_path(),
            owner=self._batch_of_path,
            unknown=_no_batch,
            description="a batch's records, as QA reviews them before release (its CMO's)",
            refuses={NotFound: (rules.KNOWN_BATCH,), **GTIN_IN_PATH},
        )

    async def _named(self, request: Request) -> Target:
        """The product and the line a record names (the line kept for the endpoint)."""
        body = await request_body(request)
        batch = _batch_named(body)
        gtin = batch[0] if batch else None
        line_id = body.get("line_id")
        if not isinstance(line_id, str) or not line_id:
            return owners.named(gtin, None)  # the route's validation answers
        async with self.pool.acquire() as conn:
            found = await knowledge.line(conn, line_id)
        if found is None:
            raise unregistered_line(line_id)
        request.state.line = found
        return owners.named(gtin, found)

    async def _opening_named(self, request: Request) -> Target:
        """A deviation to be opened: its product, and the lines of what it is to group (grouping
        nothing, or a hold of the whole batch, it is the batch's at every line)."""
        body = await request_body(request)
        batch = _batch_named(body)
        named = owners.named(batch[0] if batch else None, None)
        await self.reads.records_and_holds()  # a record or hold made a moment ago is grouped too
        scope = request.state.principal.scope
        lines = await lines_named(self.pool, scope, _uuids(body.get("exception_ids")), _uuids(body.get("hold_ids")))
        return named | Target(lines=lines)

    async def _hold_named(self, request: Request) -> Target:
        """A hold's product and line. A hold of the whole batch, or one that names no line, is
        the batch's at every line."""
        request.state.line = None
        body = await request_body(request)
        named = await self._named(request)
        everywhere = body.get("whole_batch") is True or body.get("line_id") is None
        return named | Target(lines=frozenset({EVERY_LINE})) if everywhere else named

    async def _batch(self, request: Request) -> Target | None:
        named = _batch_named(await request_body(request))
        if named is None:
            return None  # the route's validation answers
        request.state.batch_named = named
        async with self.pool.acquire() as conn:
            found: Batch | None = await knowledge.batch(conn, *named)
        if found is None:
            raise _unknown_batch(request)
        request.state.batch = found
        return owners.batch_owner(found)

    async def _batch_of_path(self, request: Request) -> Target:
        async with self.pool.acquire() as conn:
            found = await knowledge.batch(conn, request.path_params["gtin"], request.path_params["lot"])
        if found is None:
            raise _no_batch(request)
        return owners.batch_owner(found)

    async def _hold(self, request: Request) -> Target | None:
        hold_id = _uuid(str(request.path_params["hold_id"]))
        if hold_id is None:
            return None
        await self.reads.holds()
        found = await hold_of(self.pool, hold_id)
        if found is None:
            return None
        request.state.hold = found
        # A hold of one line is that line's: a principal narrowed to other lines does not see it.
        # A hold of the whole batch, at every line, is seen from each line (its output is held).
        lines = frozenset({found["line_id"]}) if found["line_id"] else frozenset()
        return Target(gtins=frozenset({found["gtin"]}), cmos=frozenset({found["cmo_id"] or NO_CMO}), lines=lines)

    async def _deviation(self, request: Request) -> Target | None:
        deviation_id = _uuid(str(request.path_params["deviation_id"]))
        if deviation_id is None:
            return None
        await self.reads.deviations()
        found = await deviation_of(self.pool, deviation_id)
        if found is None:
            return None
        request.state.deviation = found
        batch = Target(gtins=frozenset({found["gtin"]}), cmos=frozenset({found["cmo_id"] or NO_CMO}))
        await self.reads.records_and_holds()  # the lines of what it groups
        return batch | Target(lines=await deviation_lines(self.pool, deviation_id))

    async def _hold_to_lift(self, request: Request) -> Target | None:
        """Any line of the batch sees that it is held; only one covering the hold's line lifts it."""
        owner = await self._hold(request)
        if owner is None:
            return None
        line = request.state.hold["line_id"]
        return owner | Target(lines=frozenset({line or EVERY_LINE}))

    async def _record(self, request: Request) -> Target | None:
        exception_id = _uuid(str(request.path_params["exception_id"]))
        if exception_id is None:
            return None
        await self.reads.records()
        found = await self.queries.record(exception_id)
        if found is None:
            return None
        request.state.record = found
        return owner(found)
