"""HTTP routes of the hub's alerts: list, read, investigate, close."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from serialtrail_contracts.identity import Target
from serialtrail_kit.access.authz import requires
from serialtrail_kit.access.resources import Resource
from serialtrail_kit.errors import Conflict, InvalidInput, NotFound
from serialtrail_kit.http.answers import ok
from serialtrail_kit.http.body import Body as BodyModel
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.problems import JsonResponse
from serialtrail_kit.http.refusals import refuses

from fmd_hub.application.alerts import AlertHandlers
from fmd_hub.domain import rules
from fmd_hub.entrypoints import permissions as allowed
from fmd_hub.projections import alerts as found_alerts

Consistent = Callable[[], Awaitable[None]]
Limit = Annotated[int, Query(ge=1, le=500, description="at most this many alerts")]
AlertId = Annotated[str, Path(pattern=r"^[0-9A-Za-z-]{1,64}$", description="the alert's id, as the hub gave it")]
_INVESTIGATES = refuses({InvalidInput: (rules.KNOWN_DEVIATION,), Conflict: (rules.ALERT_STATE,)})
_CLOSES = refuses({Conflict: (rules.ALERT_STATE,)})


class InvestigationIn(BodyModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"note": "pharmacy scan of a pack we destroyed: checking the line's reject bin"}]
        },
    )

    note: Annotated[str, Field(min_length=1, max_length=2000)]
    deviation_id: UUID | None = Field(default=None, description="a deviation line exceptions opened for the product")


class ClosingIn(BodyModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "scanned twice by the pharmacy: no falsification"}]}
    )

    reason: Annotated[str, Field(min_length=1, max_length=500)]


class AlertOut(BaseModel):
    alert_id: str
    code: str = Field(description="the hub's code, e.g. NMVS_NC_PCK_22 (already decommissioned)")
    message: str
    product_code: str
    lot: str | None = Field(description="the lot that was scanned")
    batch_lot: str | None = Field(description="the pack's own batch (where its serial was commissioned), if known")
    serial: str | None
    market: str | None
    location: str | None
    raised_at: str
    received_at: str
    state: str = Field(description="new, under-investigation or closed")
    note: str | None
    deviation_id: UUID | None
    closed_reason: str | None


class AlertsPage(BaseModel):
    alerts: list[AlertOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null: no more")


class AlertChanged(BaseModel):
    alert_id: str
    state: str


def _answer(alert: dict[str, Any]) -> dict[str, Any]:
    shown = {key: value for key, value in alert.items() if key not in ("position", "cmo_id")}
    return shown | {"deviation_id": None if alert["deviation_id"] is None else str(alert["deviation_id"])}


def _unknown(request: Request) -> NotFound:
    return NotFound("no alert", [rules.KNOWN_ALERT.at("alert_id", "unknown alert")])


def alert_routes(router: APIRouter, handlers: AlertHandlers, consistent: Consistent) -> None:
    """The alert routes, added to the service's router (under its /v1/fmd prefix)."""
    pool = handlers.writes.store.pool

    async def owner(request: Request) -> Target:
        await consistent()
        alert = await found_alerts.alert(pool, str(request.path_params["alert_id"]))
        if alert is None:
            raise _unknown(request)
        request.state.alert = alert
        return found_alerts.owner(alert)

    one = Resource(
        "fmd-alert",
        owner=owner,
        unknown=_unknown,
        description="an alert: its product's and its batch's CMO's",
        refuses={NotFound: (rules.KNOWN_ALERT,)},
    )
    every = Resource("fmd-alerts", description="alerts, as many as the caller's scope covers")

    @router.get("/alerts", dependencies=[requires(allowed.READ, every)], responses=ok(AlertsPage, "a page of alerts"))
    async def list_alerts(
        request: Request,
        state: Annotated[str | None, Query(pattern="^(new|under-investigation|closed)$")] = None,
        gtin: Annotated[str | None, Query(pattern=r"^[0-9]{14}$")] = None,
        lot: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
        after: Annotated[int, Query(ge=0, le=2**63 - 1, description="the `next_after` of the previous page")] = 0,
        limit: Limit = 100,
    ) -> JsonResponse:
        """The alerts the hub raised (oldest first), those of products and batches the caller's
        scope covers, filtered by state, product and batch."""
        await consistent()
        found = await found_alerts.alerts(pool, request.state.principal.scope, state, gtin, lot, after, limit)
        next_after = found[-1]["position"] if len(found) == limit else None
        return JsonResponse({"alerts": [_answer(a) for a in found], "next_after": next_after})

    @router.get("/alerts/{alert_id}", dependencies=[requires(allowed.READ, one)], responses=ok(AlertOut, "the alert"))
    async def read_alert(alert_id: AlertId, request: Request) -> JsonResponse:
        """One alert, linked to the serial or batch it names, with its investigation and closure."""
        return JsonResponse(_answer(request.state.alert))

    @router.post(
        "/alerts/{alert_id}/investigation", dependencies=[requires(allowed.MANAGE, one)], openapi_extra=_INVESTIGATES
    )
    async def investigate_alert(
        alert_id: AlertId, body: Annotated[InvestigationIn, Body()], request: Request
    ) -> AlertChanged:
        """Put a new alert under investigation, linked to a deviation line exceptions opened for the
        product (its root cause and CAPA are recorded there) when one is named."""
        product = request.state.alert["product_code"]
        await handlers.investigate(alert_id, product, body.note, body.deviation_id, record_metadata(request))
        return AlertChanged(alert_id=alert_id, state="under-investigation")

    @router.post("/alerts/{alert_id}/close", dependencies=[requires(allowed.MANAGE, one)], openapi_extra=_CLOSES)
    async def close_alert(alert_id: AlertId, body: Annotated[ClosingIn, Body()], request: Request) -> AlertChanged:
        """Close an alert (new or under investigation) with the reason QA and an inspector read."""
        await handlers.close(alert_id, body.reason, record_metadata(request))
        return AlertChanged(alert_id=alert_id, state="closed")
