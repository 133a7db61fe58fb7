"""`/v1/epcis/grants`: which trading partner may read the captured events about which batch
(`domain.grants`). QA grants and revokes; partners, QA and auditors read them, a narrowed key
only those of its products, a partner only its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import ConfigDict, Field
from serialtrail_contracts.epcis import PartnerGranted, PartnerGrantRevoked
from serialtrail_gs1 import rules as gs1
from serialtrail_gs1.keys import require_gln, require_gtin, require_lot
from serialtrail_gs1.paths import GlnPath, GtinPath, LotPath
from serialtrail_kit.access.authz import requires
from serialtrail_kit.errors import InvalidInput, NotFound
from serialtrail_kit.http.answers import Answer, ok
from serialtrail_kit.http.body import Body
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.problems import JsonResponse
from serialtrail_kit.http.refusals import refuses

from epcis_reporting.application.records import RecordHandlers
from epcis_reporting.domain.grants import GRANTED
from epcis_reporting.entrypoints import permissions as allowed
from epcis_reporting.entrypoints.resources import Resources
from epcis_reporting.projections import grants as grants_read

Consistent = Callable[[], Awaitable[None]]
Reason = Annotated[str, Field(min_length=1, max_length=500, description="why (kept with the record)")]


class GrantIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "partner_gln": "0614141000005",
                    "gtin": "09506000134352",
                    "lot": "L2026A",
                    "reason": "wholesaler Acme Pharma Distribution buys lot L2026A (PO 4711)",
                }
            ]
        }
    )
    partner_gln: Annotated[str, Field(min_length=1, max_length=13, description="the partner's GLN (its party)")]
    gtin: Annotated[str, Field(min_length=1, max_length=14, description="GTIN-14 of the batch's product")]
    lot: Annotated[str, Field(min_length=1, max_length=20, description="the batch (AI 10)")]
    reason: Reason


class RevocationIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "the purchase order was cancelled"}]})
    reason: Reason


class Grant(Answer):
    partner_gln: str
    gtin: str
    lot: str
    batch: str = Field(description="the batch as a GS1 Digital Link (an LGTIN class)")
    granted_at: datetime
    reason: str


class Grants(Answer):
    grants: list[Grant]


def grant_routes(router: APIRouter, handlers: RecordHandlers, resources: Resources, consistent: Consistent) -> None:
    @router.post(
        "/grants",
        status_code=status.HTTP_201_CREATED,
        dependencies=[requires(allowed.GRANT, resources.new_grant)],
        openapi_extra=refuses({InvalidInput: (gs1.GLN, gs1.GTIN, gs1.LOT)}),
        responses={201: {"model": Grant, "description": "granted"}, 200: {"model": Grant, "description": "in force"}},
        summary="Grant a trading partner the captured events of a batch",
        description="From now on a key acting for the partner (role partner, the GLN among its scope's sites) reads "
        "the captured events about the batch's objects: serials a captured commissioning named the lot of, and the "
        "cases and pallets they were packed into. An event naming any object of another batch stays hidden. "
        "Granting what is in force already records nothing (200).",
    )
    async def grant(body: GrantIn, request: Request) -> JsonResponse:
        proposed = PartnerGranted(
            partner_gln=require_gln(body.partner_gln, "partner_gln"),
            gtin=require_gtin(body.gtin),
            lot=_path_lot(body.lot),
            reason=body.reason,
        )
        new = await handlers.grant(proposed, record_metadata(request, body.reason))
        await consistent()
        found = await grants_read.one(resources.pool, proposed.partner_gln, proposed.gtin, proposed.lot)
        assert found is not None  # granted and read your writes
        return JsonResponse(_answer(found), status_code=201 if new else 200)

    @router.post(
        "/grants/{partner_gln}/{gtin}/{lot}/revocation",
        status_code=status.HTTP_204_NO_CONTENT,
        dependencies=[requires(allowed.GRANT, resources.grant)],
        openapi_extra=refuses({InvalidInput: (gs1.GLN, gs1.GTIN), NotFound: (GRANTED,)}),
        summary="Revoke a trading partner's grant of a batch",
        description="The partner's reads of the batch's events end with its next query.",
    )
    async def revoke(
        partner_gln: GlnPath, gtin: GtinPath, lot: LotPath, body: RevocationIn, request: Request
    ) -> Response:
        proposed = PartnerGrantRevoked(
            partner_gln=require_gln(partner_gln, "partner_gln"), gtin=gtin, lot=lot, reason=body.reason
        )
        await handlers.revoke(proposed, record_metadata(request, body.reason))
        return Response(status_code=204)

    @router.get(
        "/grants",
        dependencies=[requires(allowed.GRANTS, resources.grants)],
        responses=ok(Grants, "the grants in force the caller may see, newest first"),
        summary="List partners' grants (a partner: its own; a narrowed key: its products')",
    )
    async def list_grants(
        request: Request,
        partner_gln: Annotated[str | None, Query(max_length=13, description="of this partner only")] = None,
        gtin: Annotated[str | None, Query(max_length=14, description="of this product only")] = None,
    ) -> JsonResponse:
        await consistent()
        found = await grants_read.visible(resources.pool, request.state.principal, partner_gln, gtin)
        return JsonResponse({"grants": [_answer(row) for row in found]})


def _path_lot(lot: str) -> str:
    """A lot granted is revoked by its path (…/{lot}/revocation): one with a "/" could never be."""
    if "/" in require_lot(lot):
        message = "a lot granted names no '/': it could not be revoked by its path"
        raise InvalidInput(message, [gs1.LOT.at("lot", message)])
    return lot


def _answer(row: Any) -> dict[str, Any]:
    return {
        "partner_gln": row["partner_gln"],
        "gtin": row["gtin"],
        "lot": row["lot"],
        "batch": row["batch"],
        "granted_at": row["granted_at"].isoformat(),
        "reason": row["reason"],
    }
