"""HTTP routes of deviations: parse → command → handler. No decisions here."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from serialtrail_kit.access.authz import requires
from serialtrail_kit.errors import Conflict, InvalidInput
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.http.answers import ok
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.problems import JsonResponse
from serialtrail_kit.http.refusals import refuses
from serialtrail_kit.http.signing import SIGNS, signer_of

from line_exceptions.application.deviations import DeviationHandlers
from line_exceptions.domain import deviations, rules
from line_exceptions.domain.deviations import OpenDeviation, PlanCapa
from line_exceptions.domain.records import Batch
from line_exceptions.entrypoints import permissions as allowed
from line_exceptions.entrypoints.deviation_responses import DeviationDetail, Deviations
from line_exceptions.entrypoints.deviation_schemas import (
    CapaDoneIn,
    CapaIn,
    ClosureIn,
    DeviationIn,
    DeviationOut,
    LinkIn,
    RootCauseIn,
)
from line_exceptions.entrypoints.resources import Consistent, Resources, looked_up
from line_exceptions.projections import deviations as read

_LINKS = (rules.LINKED_OF_BATCH, rules.LINKED_ONCE)
_OPENS = refuses({InvalidInput: _LINKS})
_CHANGES = refuses({Conflict: (rules.DEVIATION_OPEN,)})
_RELINKS = refuses({InvalidInput: (*_LINKS, rules.LINKS_SOMETHING), Conflict: (rules.DEVIATION_OPEN,)})
_COMPLETES = refuses({Conflict: (rules.CAPA_OPEN,)})
_CLOSES = refuses(
    {InvalidInput: (rules.SIGNED_BY_QA,), Conflict: (rules.DEVIATION_OPEN, rules.ROOT_CAUSE_FIRST), **SIGNS}
)


def deviation_routes(
    router: APIRouter, handlers: DeviationHandlers, resources: Resources, linked_consistent: Consistent
) -> None:
    """`linked_consistent`: read-your-writes for the records and holds a deviation groups."""
    review = [requires(allowed.REVIEW, resources.deviation)]

    def out(deviation_id: UUID, recorded: RecordedEvent, state: str = "open", **extra: Any) -> DeviationOut:
        return DeviationOut(
            deviation_id=deviation_id,
            state=state,
            global_position=recorded.global_position,
            deviation_url=f"/v1/deviations/{deviation_id}",
            **extra,
        )

    @router.post(
        "/deviations",
        status_code=status.HTTP_201_CREATED,
        dependencies=[requires(allowed.REVIEW, resources.opening)],
        openapi_extra=_OPENS,
    )
    async def open_deviation(body: DeviationIn, request: Request) -> DeviationOut:
        """Open a deviation (QA) over exception records and holds of one batch: the record an
        inspector follows from a serial to its root cause and CAPA."""
        batch: Batch = request.state.batch  # resolved by the ownership check
        await linked_consistent()
        command = OpenDeviation(
            deviation_id=uuid.uuid4(),
            batch=batch,
            title=body.title,
            description=body.description,
            links=await handlers.links(batch.gtin, body.exception_ids, body.hold_ids, request.state.principal.scope),
            qms_reference=body.qms_reference,
        )
        recorded = await handlers.open(command, record_metadata(request))
        return out(command.deviation_id, recorded)

    @router.post("/deviations/{deviation_id}/links", dependencies=review, openapi_extra=_RELINKS)
    async def link_to_deviation(deviation_id: UUID, body: LinkIn, request: Request) -> DeviationOut:
        """Group more exception records or holds of the batch under the deviation."""
        found = _known(request)
        await linked_consistent()
        scope = request.state.principal.scope
        links = await handlers.links(found["gtin"], body.exception_ids, body.hold_ids, scope)
        recorded = await handlers.change(
            deviation_id, lambda found: deviations.link(found, links), record_metadata(request)
        )
        return out(deviation_id, recorded)

    @router.post("/deviations/{deviation_id}/root-cause", dependencies=review, openapi_extra=_CHANGES)
    async def record_root_cause(deviation_id: UUID, body: RootCauseIn, request: Request) -> DeviationOut:
        """Record the root cause: its category (the six Ms), the method that found it (5-Why,
        fishbone, fault tree) and the findings. A later one supersedes it; both stay in the history."""
        _known(request)
        recorded = await handlers.change(
            deviation_id,
            lambda found: deviations.record_root_cause(found, body.category, body.method, body.findings),
            record_metadata(request),
        )
        return out(deviation_id, recorded)

    @router.post(
        "/deviations/{deviation_id}/capas",
        status_code=status.HTTP_201_CREATED,
        dependencies=review,
        openapi_extra=_CHANGES,
    )
    async def plan_capa(deviation_id: UUID, body: CapaIn, request: Request) -> DeviationOut:
        """Plan a CAPA action: a correction, a corrective or a preventive action, its owner, due
        date and how its effectiveness will be checked."""
        _known(request)
        command = PlanCapa(uuid.uuid4(), body.kind, body.action, body.owner, body.due_date, body.effectiveness_check)
        recorded = await handlers.change(
            deviation_id, lambda found: deviations.plan_capa(found, command), record_metadata(request)
        )
        return out(deviation_id, recorded, capa_id=command.capa_id)

    @router.post("/deviations/{deviation_id}/capas/{capa_id}/completion", dependencies=review, openapi_extra=_COMPLETES)
    async def complete_capa(deviation_id: UUID, capa_id: UUID, body: CapaDoneIn, request: Request) -> DeviationOut:
        """Complete a CAPA action with the result of its effectiveness check and the evidence (also
        after the deviation was closed: the check often comes weeks later)."""
        state = _known(request)["state"]  # the deviation's, which completing a CAPA does not change
        recorded = await handlers.change(
            deviation_id,
            lambda found: deviations.complete_capa(found, capa_id, body.effective, body.evidence),
            record_metadata(request),
        )
        return out(deviation_id, recorded, state, capa_id=capa_id)

    @router.post("/deviations/{deviation_id}/closure", dependencies=review, openapi_extra=_CLOSES)
    async def close_deviation(deviation_id: UUID, body: ClosureIn, request: Request) -> DeviationOut:
        """Close the deviation (QA) once its root cause is recorded: with a reason and an
        e-signature, recorded together and bound to the closure."""
        _known(request)
        signer = await signer_of(request, body.signature)
        meta = record_metadata(request, reason=body.reason)
        recorded, signed = await handlers.close(deviation_id, body.reason, signer, meta)
        return out(deviation_id, recorded, "closed", signature=signed)

    @router.get(
        "/deviations",
        dependencies=[requires(allowed.READ, resources.deviations)],
        responses=ok(Deviations, "the deviations found"),
    )
    async def list_deviations(
        request: Request,
        gtin: Annotated[str | None, Query(pattern=r"^[0-9]{14}$")] = None,
        lot: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
        state: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    ) -> JsonResponse:
        """Deviations by batch and state, those the caller's scope covers (a deviation is its batch's)."""
        await resources.reads.deviations()
        scope = request.state.principal.scope
        return JsonResponse({"deviations": await read.deviations(handlers.pool, scope, gtin, lot, state)})

    @router.get(
        "/deviations/{deviation_id}",
        dependencies=[requires(allowed.READ, resources.deviation)],
        responses=ok(DeviationDetail, "the deviation, with what it groups, its CAPAs and its history"),
    )
    async def read_deviation(deviation_id: UUID, request: Request) -> JsonResponse:
        """One deviation: what it groups, its root cause, its CAPAs, and its history."""
        return JsonResponse(await read.detail(handlers.pool, _known(request)))


def _known(request: Request) -> dict[str, Any]:
    return looked_up(request, "deviation", "deviation")
