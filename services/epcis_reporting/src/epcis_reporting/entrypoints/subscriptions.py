"""`/v1/epcis/queries/{queryName}/subscriptions`: query subscriptions by webhook (EPCIS 2.0 REST
binding). A subscription is to one of the caller's own named queries; it streams what settles,
or runs on a schedule; deliveries are signed with its signatureToken (`GS1-Signature:
sha256=<HMAC-SHA256 of the body, hex>`), which is never answered back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import ConfigDict, Field
from serialtrail_contracts.epcis import Schedule, SubscriptionCreated
from serialtrail_contracts.epcis import Scope as CapturedScope
from serialtrail_kit.access.authz import requires
from serialtrail_kit.db import Pool
from serialtrail_kit.errors import Conflict, InvalidInput
from serialtrail_kit.http.answers import Answer, ok
from serialtrail_kit.http.body import Body
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.problems import JsonResponse
from serialtrail_kit.http.refusals import refuses

from epcis_reporting.application import subscribers
from epcis_reporting.application.records import RecordHandlers
from epcis_reporting.application.webhooks import check_destination
from epcis_reporting.domain.query_params import TIME_WITH_OFFSET, moment
from epcis_reporting.domain.subscriptions import (
    DESTINATION,
    HELD,
    SCHEDULE,
    STREAM_OR_SCHEDULE,
    next_run,
)
from epcis_reporting.entrypoints import permissions as allowed
from epcis_reporting.entrypoints.named_queries import QueryNamePath
from epcis_reporting.entrypoints.resources import Resources

SCHEMA = "epcis_reporting"
SubscriptionPath = Annotated[str, Path(max_length=36, description="the subscription's id (a UUID)")]
Seal = Callable[[str], str]
SUBSCRIPTION_EXAMPLE: dict[str, Any] = {
    "dest": "https://client.example.com/queryCallback",
    "signatureToken": "13df38d8275b13f05704629e5f1cf3d45d6132d5",
    "stream": True,
}


class ScheduleIn(Body):
    second: Annotated[str | None, Field(max_length=200)] = None
    minute: Annotated[str | None, Field(max_length=200)] = None
    hour: Annotated[str | None, Field(max_length=100)] = None
    dayOfMonth: Annotated[str | None, Field(max_length=100)] = None
    month: Annotated[str | None, Field(max_length=60)] = None
    dayOfWeek: Annotated[str | None, Field(max_length=40)] = None


class SubscriptionIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [SUBSCRIPTION_EXAMPLE]})
    dest: Annotated[str, Field(min_length=1, max_length=2000, description="the webhook deliveries are POSTed to")]
    signatureToken: Annotated[
        str | None, Field(min_length=16, max_length=500, description="signs each delivery (GS1-Signature)")
    ] = None
    stream: bool | None = Field(default=None, description="true: told whenever matching events settle")
    schedule: ScheduleIn | None = Field(default=None, description="or told on this schedule (cron-like)")
    reportIfEmpty: bool = False
    initialRecordTime: Annotated[str | None, Field(max_length=40)] = None


class SubscriptionOut(Answer):
    subscriptionID: str
    dest: str
    createdAt: str
    lastNotifiedAt: str | None = None
    initialRecordTime: str
    minRecordTime: str | None = None
    stream: bool | None = None
    schedule: dict[str, str] | None = None
    reportIfEmpty: bool = False


def subscription_routes(
    router: APIRouter, records: RecordHandlers, resources: Resources, seal: Seal, allow_private: bool
) -> None:
    subscriptions = "/queries/{queryName}/subscriptions"

    @router.post(
        subscriptions,
        status_code=status.HTTP_201_CREATED,
        dependencies=[requires(allowed.READ, resources.named_query)],
        openapi_extra=refuses(
            {InvalidInput: (STREAM_OR_SCHEDULE, SCHEDULE, DESTINATION, TIME_WITH_OFFSET), Conflict: (HELD,)}
        ),
        responses={201: {"model": SubscriptionOut, "description": "subscribed; Location names it"}},
        summary="Subscribe to a named query by webhook (EPCIS 2.0 REST binding)",
        description="Deliveries are EPCISQueryDocuments POSTed to dest (JSON-LD), each with the events that "
        "settled since the last, read with the subscriber's scope as it stands now; signed with signatureToken "
        "(GS1-Signature: sha256=<HMAC-SHA256 of the body, hex>); retried with backoff until accepted (2xx).",
    )
    async def subscribe(queryName: QueryNamePath, body: SubscriptionIn, request: Request) -> JsonResponse:
        principal = request.state.principal
        schedule = _schedule(body)
        since = (
            datetime.now(UTC) if body.initialRecordTime is None else moment(body.initialRecordTime, "initialRecordTime")
        )
        created = SubscriptionCreated(
            subscription_id=uuid.uuid4(),
            query_name=queryName,
            query=request.state.named_query["query"],
            principal_id=principal.id,
            principal_name=principal.name,
            principal_role=principal.role.value,
            principal_scope=CapturedScope(**principal.scope.as_json()),
            dest=check_destination(body.dest, allow_private),
            sealed_token=None if body.signatureToken is None else seal(body.signatureToken),
            stream=schedule is None,
            schedule=schedule,
            report_if_empty=body.reportIfEmpty,
            initial_record_time=since,
        )
        await records.subscribe(created, record_metadata(request))
        row = await _one(resources.pool, created.subscription_id)
        location = f"{request.url.path}/{created.subscription_id}"
        return JsonResponse(_answer(row), status_code=201, headers={"Location": location})

    @router.get(
        subscriptions,
        dependencies=[requires(allowed.READ, resources.named_query)],
        responses={200: {"model": list[SubscriptionOut], "description": "the query's subscriptions"}},
        summary="List a named query's subscriptions",
    )
    async def list_subscriptions(queryName: QueryNamePath, request: Request) -> JsonResponse:
        async with resources.pool.acquire() as conn:
            found = await subscribers.of_query(conn, SCHEMA, request.state.principal.id, queryName)
        return JsonResponse([_answer(row) for row in found])

    @router.get(
        subscriptions + "/{subscriptionID}",
        dependencies=[requires(allowed.READ, resources.subscription)],
        responses=ok(SubscriptionOut, "the subscription (never its signatureToken)"),
        summary="Read a subscription",
    )
    async def read_subscription(
        queryName: QueryNamePath,
        subscriptionID: SubscriptionPath,
        request: Request,
    ) -> JsonResponse:
        return JsonResponse(_answer(request.state.subscription))  # the caller's: checked by the resource

    @router.delete(
        subscriptions + "/{subscriptionID}",
        status_code=status.HTTP_204_NO_CONTENT,
        dependencies=[requires(allowed.READ, resources.subscription)],
        summary="Unsubscribe",
    )
    async def unsubscribe(
        queryName: QueryNamePath,
        subscriptionID: SubscriptionPath,
        request: Request,
    ) -> Response:
        subscription_id = request.state.subscription["subscription_id"]  # the caller's: checked by the resource
        await records.unsubscribe(subscription_id, request.state.principal.id, queryName, record_metadata(request))
        return Response(status_code=204)


def _schedule(body: SubscriptionIn) -> Schedule | None:
    """The schedule, checked (a time that matches it exists); or None for a stream. Exactly one."""
    if (body.stream is True) == (body.schedule is not None) or body.stream is False:
        message = "a subscription sets stream: true, or gives a schedule: one of them, not both, not neither"
        raise InvalidInput(message, [STREAM_OR_SCHEDULE.at("stream", message)])
    if body.schedule is None:
        return None
    given = body.schedule
    schedule = Schedule(
        second=given.second,
        minute=given.minute,
        hour=given.hour,
        day_of_month=given.dayOfMonth,
        month=given.month,
        day_of_week=given.dayOfWeek,
    )
    next_run(schedule, datetime.now(UTC))  # refuses what never matches, naming the field
    return schedule


async def _one(pool: Pool, subscription_id: uuid.UUID) -> Any:
    async with pool.acquire() as conn:
        return await subscribers.one(conn, SCHEMA, subscription_id)


def _answer(row: Any) -> dict[str, Any]:
    created = row["created"]
    schedule = created.get("schedule")
    answer: dict[str, Any] = {
        "subscriptionID": str(row["subscription_id"]),
        "dest": created["dest"],
        "createdAt": row["created_at"].isoformat(),
        "lastNotifiedAt": None if row["last_notified_at"] is None else row["last_notified_at"].isoformat(),
        "initialRecordTime": created["initial_record_time"],
        "reportIfEmpty": created["report_if_empty"],
    }
    if schedule is None:
        answer["stream"] = True
    else:
        names = {"day_of_month": "dayOfMonth", "day_of_week": "dayOfWeek"}
        answer["schedule"] = {names.get(k, k): v for k, v in schedule.items() if v is not None}
    return answer
