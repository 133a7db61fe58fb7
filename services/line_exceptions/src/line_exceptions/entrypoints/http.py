"""HTTP routes of line exceptions: parse → command → handler. No decisions here."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request, status
from serialtrail_contracts.exceptions import ExceptionType
from serialtrail_gs1.identity import SGTIN, IdentifierError
from serialtrail_gs1.paths import GtinPath, LotPath, SerialPath
from serialtrail_gs1.rules import SCAN_RULES
from serialtrail_gs1.scan import Scan, parse_object_id, parse_scan, rule_of
from serialtrail_kit.access.authz import requires, visible
from serialtrail_kit.declaration import NOT_IN_FUTURE, NotAhead
from serialtrail_kit.errors import Conflict, InvalidInput, Violation
from serialtrail_kit.http.answers import ok
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.problems import JsonResponse
from serialtrail_kit.http.refusals import refuses
from serialtrail_kit.http.signing import SIGNS, signer_of

from line_exceptions.application.deviations import DeviationHandlers
from line_exceptions.application.handlers import ExceptionHandlers
from line_exceptions.domain import rules
from line_exceptions.domain.holds import PlaceHold
from line_exceptions.domain.owners import line_owner
from line_exceptions.domain.records import Batch, RecordException, State, UndoDecommission, label_mix_up
from line_exceptions.entrypoints import permissions as allowed
from line_exceptions.entrypoints.deviation_routes import deviation_routes
from line_exceptions.entrypoints.resources import Consistent, Reads, Resources, looked_up, unregistered_line
from line_exceptions.entrypoints.responses import BatchSummary, Hold, Holds, RecordDetail, RecordsPage, UnitRecords
from line_exceptions.entrypoints.schemas import (
    HOLD_EXAMPLES,
    RECORD_EXAMPLES,
    TYPE_MEANING,
    CancellationIn,
    ChangeOut,
    HoldIn,
    HoldOut,
    InvestigationIn,
    LiftIn,
    RecordIn,
    RecordOut,
    ResolutionIn,
    UndoIn,
    named,
)
from line_exceptions.projections import knowledge
from line_exceptions.projections.deviations import batch_counts as deviation_counts
from line_exceptions.projections.holds import holds as holds_of
from line_exceptions.projections.records.queries import Filters, RecordQueries, summary

_RECORDS = refuses(
    {
        InvalidInput: (
            *SCAN_RULES,
            NOT_IN_FUTURE,
            rules.UNIQUE_UNIT,
            rules.UNIT_OF_BATCH,
            rules.LABEL_MATCHES_BATCH,
            rules.COMMISSIONED,
            rules.REPLACEMENT_FOR_REWORK,
            rules.NAMES_UNITS,
            rules.CASCADE,
            rules.PARENT_OF_BATCH,
        ),
        Conflict: (rules.IN_SUPPLY_CHAIN, rules.REPLACEMENT_UNUSED, rules.SETTLED_PARENT, rules.AFTER_COMMISSIONING),
    }
)
_INVESTIGATES = refuses({Conflict: (rules.STATE,)})
_RESOLVES = refuses({InvalidInput: (rules.SIGNED_BY_QA,), Conflict: (rules.STATE,), **SIGNS})
_CANCELS = refuses({Conflict: (rules.STATE, rules.NOT_TAKEN_OUT)})
_UNDOES = refuses(
    {
        InvalidInput: (*SCAN_RULES, NOT_IN_FUTURE, rules.UNIT_OF_BATCH, rules.REGISTERED_LINE, rules.UNIQUE_UNIT),
        Conflict: (
            rules.STATE,
            rules.UNDO_ALLOWED,
            rules.UNDO_WITHIN_10_DAYS,
            rules.UNDO_SAME_LOCATION,
            rules.UNDO_BATCH_NOT_EXPIRED,
            rules.UNDO_TAKEN_OUT,
        ),
    }
)
_HOLDS = refuses(
    {
        InvalidInput: (
            *SCAN_RULES,
            NOT_IN_FUTURE,
            rules.HOLD_NAMES_UNITS,
            rules.UNIT_OF_BATCH,
            rules.LABEL_MATCHES_BATCH,
            rules.UNIQUE_UNIT,
            rules.COMMISSIONED,
            rules.PARENT_OF_BATCH,
            rules.WINDOW_HOLDS_UNITS,
        )
    }
)
_LIFTS = refuses({InvalidInput: (rules.SIGNED_BY_QA,), Conflict: (rules.HOLD_ACTIVE,), **SIGNS})
Limit = Annotated[int, Query(ge=1, le=1000, description="at most this many records")]


def build_router(
    handlers: ExceptionHandlers,
    deviations: DeviationHandlers,
    queries: RecordQueries,
    reads: Reads,
    not_ahead: NotAhead,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["line exceptions"])
    resources = Resources(handlers.pool, queries, reads)
    _recording_routes(router, handlers, resources, not_ahead)
    _review_routes(router, handlers, resources, not_ahead)
    _query_routes(router, queries, resources, reads.records)
    _hold_routes(router, handlers, resources, reads.holds, not_ahead)
    deviation_routes(router, deviations, resources, reads.records_and_holds)
    return router


# Reading what a line sends is CPU work (raw scanner data especially: ~0.5 ms a text); a list
# longer than this is read in a worker thread, so the event loop goes on answering meanwhile.
OFF_LOOP_FROM = 64

Parsed = TypeVar("Parsed")


async def _off_loop(read: Callable[..., Parsed], texts: list[str], *args: Any) -> Parsed:
    if len(texts) < OFF_LOOP_FROM:
        return read(texts, *args)
    return await asyncio.to_thread(read, texts, *args)


def _serials(
    texts: list[str], gtin: str, where: str, label_of: Batch | None = None
) -> tuple[tuple[str, ...], list[Violation]]:
    """The serial numbers of SGTINs of `gtin`, in any form a line sends; each bad one named.
    With `label_of`, a scan's lot and expiry must be that batch's (a label mix-up otherwise)."""
    serials: list[str] = []
    problems: list[Violation] = []
    for index, text in enumerate(texts):
        field = where if where == "replacement" else f"{where}[{index}]"
        try:
            found = parse_scan(text)
        except IdentifierError as error:
            problems.append(rule_of(error).at(field, f"{text!r}: {error}"))
            continue
        unit = found.object
        if unit.kind is not SGTIN or unit.gtin != gtin or unit.serial is None:
            problems.append(rules.UNIT_OF_BATCH.at(field, f"{text!r} is not an SGTIN of GTIN {gtin}"))
            continue
        mix_up = _label_mix_up(found, label_of)
        if mix_up:
            problems.append(rules.LABEL_MATCHES_BATCH.at(field, f"{text!r}: {mix_up}"))
            continue
        serials.append(unit.serial)
    return tuple(serials), problems


def _label_mix_up(scan: Scan, batch: Batch | None) -> str | None:
    return None if batch is None else label_mix_up(scan.lot, scan.expiry, batch)


def _parents(texts: list[str]) -> tuple[tuple[str, ...], list[Violation]]:
    """Parents (SSCCs, or SGTINs of bundles) as canonical URIs, in any form a line sends."""
    parents: list[str] = []
    problems: list[Violation] = []
    for index, text in enumerate(texts):
        try:
            parents.append(parse_object_id(text).uri)
        except IdentifierError as error:
            problems.append(rule_of(error).at(f"parents[{index}]", f"{text!r}: {error}"))
    return tuple(parents), problems


def _recording_routes(
    router: APIRouter, handlers: ExceptionHandlers, resources: Resources, not_ahead: NotAhead
) -> None:
    @router.post(
        "/exceptions",
        status_code=status.HTTP_201_CREATED,
        dependencies=[requires(allowed.RECORD, resources.recording)],
        openapi_extra=_RECORDS,
    )
    async def record_exception(
        body: Annotated[RecordIn, Body(openapi_examples=named(RECORD_EXAMPLES))], request: Request
    ) -> RecordOut:
        """Record what went wrong with units on a line (units in any form a line sends). A type
        that takes a pack out of the supply chain (see the reason vocabulary) decommissions its
        serial in the same transaction; aggregation then refuses to pack it. A rework names the
        reworked unit and its replacement: commissioned into the same batch, and unused. Parents
        (cases, pallets) are named whole; with `cascade: true` every unit below a closed parent is
        taken out too, each in its own entry naming that parent."""
        batch: Batch = request.state.batch  # resolved by the ownership check
        label_of = None if body.type is ExceptionType.wrong_label else batch  # a wrong label is what is recorded
        serials, problems = await _off_loop(_serials, body.units, batch.gtin, "units", label_of)
        replacement = None
        if body.replacement is not None:
            found, more = _serials([body.replacement], batch.gtin, "replacement", batch)
            replacement, problems = (found[0] if found else None), problems + more
        parents, more = await _off_loop(_parents, body.parents)
        problems += more
        if problems:
            raise InvalidInput(problems[0].message, problems)
        command = RecordException(
            exception_id=uuid.uuid4(),
            exception_type=body.type,
            batch=batch,
            serials=serials,
            replacement=replacement,
            parents=parents,
            cascade=body.cascade,
            line=request.state.line,
            event_time=not_ahead(body.event_time, "event_time"),
            description=body.description,
            observed_by=body.observed_by,
        )
        recorded = await handlers.record(command, record_metadata(request), request.state.principal.scope)
        taken_out = sum(len(e.payload["serials"]) for e in recorded if e.event_type.endswith("SerialsDecommissioned"))
        return RecordOut(
            exception_id=command.exception_id,
            type=body.type,
            state=State.open.value,
            units=len(serials),
            parents=len(parents),
            taken_out=taken_out,
            record_url=f"/v1/exceptions/{command.exception_id}",
        )


def _review_routes(router: APIRouter, handlers: ExceptionHandlers, resources: Resources, not_ahead: NotAhead) -> None:
    review = [requires(allowed.REVIEW, resources.record)]

    @router.post("/exceptions/{exception_id}/investigation", dependencies=review, openapi_extra=_INVESTIGATES)
    async def start_investigation(exception_id: UUID, body: InvestigationIn, request: Request) -> ChangeOut:
        """Start investigating an open record (QA)."""
        _known(request)
        recorded = await handlers.investigate(exception_id, body.note, record_metadata(request))
        return ChangeOut(
            exception_id=exception_id, state=State.under_investigation.value, global_position=recorded.global_position
        )

    @router.post("/exceptions/{exception_id}/resolution", dependencies=review, openapi_extra=_RESOLVES)
    async def resolve_record(exception_id: UUID, body: ResolutionIn, request: Request) -> ChangeOut:
        """Resolve a record with an outcome and a reason. A record that took units out of the supply
        chain is resolved only with a QA e-signature: the signer re-authenticates (`credential`),
        and the signature is recorded with the resolution, bound to its hash."""
        _known(request)
        signer = await signer_of(request, body.signature)
        meta = record_metadata(request, reason=body.reason)
        recorded, signed = await handlers.resolve(exception_id, body.outcome, body.reason, signer, meta)
        return ChangeOut(
            exception_id=exception_id,
            state=State.resolved.value,
            global_position=recorded.global_position,
            signature=signed,
        )

    @router.post(
        "/exceptions/{exception_id}/undo",
        dependencies=[requires(allowed.REVIEW, resources.decommission)],
        openapi_extra=_UNDOES,
    )
    async def undo_decommission(exception_id: UUID, body: UndoIn, request: Request) -> ChangeOut:
        """Put units the record took out back in the supply chain (QA), where the EU FMD rules
        allow it: within 10 days, at the same site, never from stolen or destroyed, never for an
        expired batch. Aggregation packs them again once it learns of it."""
        found = looked_up(request, "record", "decommission")  # an unknown one answers as another party's
        serials, problems = await _off_loop(_serials, body.units, found["gtin"], "units")
        if problems:
            raise InvalidInput(problems[0].message, problems)
        async with handlers.pool.acquire() as conn:
            line = await knowledge.line(conn, body.line_id)
        if line is None or not visible(request, line_owner(line)):
            raise unregistered_line(body.line_id)  # a line outside the caller's scope reads as unknown
        command = UndoDecommission(exception_id, serials, body.reason, line, not_ahead(body.event_time, "event_time"))
        recorded = await handlers.undo(command, record_metadata(request, reason=body.reason))
        return ChangeOut(exception_id=exception_id, state=found["state"], global_position=recorded.global_position)

    @router.post("/exceptions/{exception_id}/cancellation", dependencies=review, openapi_extra=_CANCELS)
    async def cancel_record(exception_id: UUID, body: CancellationIn, request: Request) -> ChangeOut:
        """Cancel a record made in error. A record that took units out of the supply chain is not
        cancelled: it is resolved (or its decommission undone)."""
        _known(request)
        recorded = await handlers.cancel(exception_id, body.reason, record_metadata(request, reason=body.reason))
        return ChangeOut(
            exception_id=exception_id, state=State.cancelled.value, global_position=recorded.global_position
        )


def _hold_routes(
    router: APIRouter, handlers: ExceptionHandlers, resources: Resources, consistent: Consistent, not_ahead: NotAhead
) -> None:
    @router.post(
        "/holds",
        status_code=status.HTTP_201_CREATED,
        dependencies=[requires(allowed.RECORD, resources.placing)],
        openapi_extra=_HOLDS,
    )
    async def place_hold(
        body: Annotated[HoldIn, Body(openapi_examples=named(HOLD_EXAMPLES))], request: Request
    ) -> HoldOut:
        """Contain: hold a whole batch, a line's output in a time window (the batch's units
        commissioned on it then, also those the line sends later), or units and parents of it (a
        parent holds everything below it).
        Held units are refused by packing until the hold is lifted. A hold that names no line is
        the batch's at every line: a principal narrowed to lines holds only on its lines."""
        batch: Batch = request.state.batch  # resolved by the ownership check
        serials, problems = await _off_loop(_serials, body.units, batch.gtin, "units", batch)
        parents, more = await _off_loop(_parents, body.parents)
        problems += more
        problems += rules.named_twice(serials, "units", "serial") + rules.named_twice(parents, "parents", "parent")
        if problems:
            raise InvalidInput(problems[0].message, problems)
        command = PlaceHold(
            hold_id=uuid.uuid4(),
            batch=batch,
            whole_batch=body.whole_batch,
            serials=serials,
            parents=parents,
            reason=body.reason,
            event_time=not_ahead(body.event_time, "event_time"),
            line=request.state.line,  # resolved by the ownership check
            window=(body.window.start, not_ahead(body.window.end, "window.end")) if body.window else None,
        )
        recorded = await handlers.place_hold(
            command, record_metadata(request, reason=body.reason), request.state.principal.scope
        )
        return HoldOut(
            hold_id=command.hold_id,
            state="active",
            global_position=recorded.global_position,
            hold_url=f"/v1/holds/{command.hold_id}",
        )

    @router.post(
        "/holds/{hold_id}/lift", dependencies=[requires(allowed.REVIEW, resources.lifting)], openapi_extra=_LIFTS
    )
    async def lift_hold(hold_id: UUID, body: LiftIn, request: Request) -> HoldOut:
        """Lift a hold (QA): with a reason and an e-signature, recorded together and bound to the lift."""
        _known_hold(request)
        signer = await signer_of(request, body.signature)
        recorded, signed = await handlers.lift_hold(
            hold_id, body.reason, signer, record_metadata(request, reason=body.reason)
        )
        return HoldOut(
            hold_id=hold_id,
            state="lifted",
            global_position=recorded.global_position,
            signature=signed,
            hold_url=f"/v1/holds/{hold_id}",
        )

    @router.get(
        "/holds", dependencies=[requires(allowed.READ, resources.holds)], responses=ok(Holds, "the holds found")
    )
    async def list_holds(
        request: Request,
        gtin: Annotated[str | None, Query(pattern=r"^[0-9]{14}$")] = None,
        lot: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
        state: Annotated[str | None, Query(pattern="^(active|lifted)$")] = None,
    ) -> JsonResponse:
        """Holds, by batch and state; those the caller's scope covers (a hold is its batch's)."""
        await consistent()
        return JsonResponse({"holds": await holds_of(handlers.pool, request.state.principal.scope, gtin, lot, state)})

    @router.get(
        "/holds/{hold_id}", dependencies=[requires(allowed.READ, resources.hold)], responses=ok(Hold, "the hold")
    )
    async def read_hold(hold_id: UUID, request: Request) -> JsonResponse:
        """One hold: what it holds, why, by whom, and whether (and why) it was lifted."""
        return JsonResponse(_known_hold(request))


def _known_hold(request: Request) -> dict[str, Any]:
    return looked_up(request, "hold", "hold")


def _known(request: Request) -> dict[str, Any]:
    return looked_up(request, "record", "exception")


def _query_routes(router: APIRouter, queries: RecordQueries, resources: Resources, consistent: Consistent) -> None:
    read = allowed.READ

    @router.get(
        "/exceptions",
        dependencies=[requires(read, resources.records)],
        responses=ok(RecordsPage, "a page of records"),
    )
    async def list_exceptions(
        request: Request,
        gtin: Annotated[str | None, Query(pattern=r"^[0-9]{14}$")] = None,
        lot: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
        line_id: Annotated[
            str | None, Query(alias="line", min_length=1, max_length=64, description="a line id or its read point SGLN")
        ] = None,
        state: State | None = None,
        type: Annotated[ExceptionType | None, Query(description=TYPE_MEANING)] = None,
        after: Annotated[UUID | None, Query(description="the last exception_id of the previous page")] = None,
        limit: Limit = 100,
    ) -> JsonResponse:
        """Records QA reviews before release, filtered by batch, line, state and type; only those
        within the caller's scope. Paged by `after` (the last `exception_id` of a page)."""
        await consistent()
        if line_id is not None:  # named as a request names it: by id, or by its read point's SGLN
            async with queries.pool.acquire() as conn:
                known = await knowledge.line(conn, line_id)
            line_id = known.line_id if known is not None else line_id
        filters = Filters(gtin, lot, line_id, state.value if state else None, type.value if type else None)
        found = await queries.listed(filters, request.state.principal.scope, limit, after)
        next_after = str(found[-1]["exception_id"]) if len(found) == limit else None
        return JsonResponse({"exceptions": found, "next_after": next_after})

    @router.get(
        "/exceptions/{exception_id}",
        dependencies=[requires(read, resources.record)],
        responses=ok(RecordDetail, "the record, with its units and history"),
    )
    async def read_exception(exception_id: UUID, request: Request) -> JsonResponse:
        """One record: its units, its state, its history (who did what, when), and the deviations
        it is grouped under."""
        await resources.reads.deviations()
        return JsonResponse(await queries.detail(_known(request)))

    @router.get(
        "/serials/{gtin}/{serial}/exceptions",
        dependencies=[requires(read, resources.unit)],
        responses=ok(UnitRecords, "the records naming the unit"),
    )
    async def list_unit_exceptions(gtin: GtinPath, serial: SerialPath, request: Request) -> JsonResponse:
        """Every record naming this unit: as a unit that went wrong, or as the replacement in a
        rework (so the old serial's history shows the new one, and the new one's the old), with the
        deviations each record is grouped under."""
        await consistent()
        await resources.reads.deviations()
        found = await queries.of_serial(gtin, serial, request.state.principal.scope)
        return JsonResponse({"gtin": gtin, "serial": serial, "exceptions": found})

    @router.get(
        "/batches/{gtin}/{lot}/exception-summary",
        dependencies=[requires(read, resources.batch)],
        responses=ok(BatchSummary, "the batch's summary"),
    )
    async def read_batch_exception_summary(gtin: GtinPath, lot: LotPath, request: Request) -> JsonResponse:
        """What QA reviews before release: the batch's records by type and state, the units they
        took out of the supply chain, how long those still open have been open, the holds in
        force, and the deviations and CAPA actions still open. A principal narrowed to lines
        counts only its lines' records, holds (and those of the whole batch) and deviations."""
        await resources.reads.records_and_holds()
        await resources.reads.deviations()
        scope = request.state.principal.scope
        found = await summary(queries.pool, gtin, lot, scope)
        active = await holds_of(queries.pool, scope, gtin, lot, "active")
        found["holds"] = {"active": len(active), "hold_ids": [h["hold_id"] for h in active]}
        found["deviations"] = await deviation_counts(queries.pool, gtin, lot, scope)
        return JsonResponse(found)
