"""EPCIS reporting, declared: the one place that wires adapters to handlers."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter
from serialtrail_contracts import aggregation, epcis, exceptions, serials
from serialtrail_contracts.epcis import SubscriptionDelivered, SubscriptionDeliveryFailed
from serialtrail_kit.declaration import OutboundOf, Service, ServiceContext, WorkerOf
from serialtrail_kit.eventstore.metadata import system_metadata
from serialtrail_kit.outbound import HttpRequest, Outcomes, Remote, http_remote
from serialtrail_kit.outbound.jobs import Attempt

from epcis_reporting.application.capture import CaptureHandlers
from epcis_reporting.application.decisions import OwnerDecisions
from epcis_reporting.application.notifier import OUTBOUND, Notifier
from epcis_reporting.application.records import RecordHandlers
from epcis_reporting.application.subscribers import Subscribers, only_in_force
from epcis_reporting.application.webhooks import only_public
from epcis_reporting.application.write_side import CapturedOnce, CommitChecks
from epcis_reporting.domain import routing
from epcis_reporting.entrypoints import permissions
from epcis_reporting.entrypoints.http import Limits, Reads, build_router
from epcis_reporting.projections.jobs import JobsProjection
from epcis_reporting.projections.named_queries import NamedQueriesProjection
from epcis_reporting.projections.repository import RepositoryProjection
from epcis_reporting.settings import EpcisSettings

JOBS = JobsProjection()
REPOSITORY = RepositoryProjection()
NAMED_QUERIES = NamedQueriesProjection()


def routes(context: ServiceContext[EpcisSettings]) -> APIRouter:
    settings = context.settings
    handlers = CaptureHandlers(context.writes, settings.max_document_events, settings.route_to, context.max_clock_skew)
    reads = Reads(
        context.read_your_writes(JOBS.name),
        context.read_your_writes(REPOSITORY.name),
        context.read_your_writes(NAMED_QUERIES.name),
    )
    seal = context.sealer.seal if context.sealer is not None else _cannot_seal
    return build_router(
        handlers,
        RecordHandlers(context.writes),
        context.pool,
        reads,
        Limits(
            settings.max_document_bytes,
            settings.webhooks_allow_private,
            settings.captures_at_once,
            settings.capture_wait_seconds,
        ),
        seal,
    )


def _cannot_seal(secret: str) -> str:
    raise RuntimeError("this deployment keeps no sealing key: a subscription's signatureToken cannot be kept")


def notifier(context: ServiceContext[EpcisSettings]) -> Notifier:
    unseal = context.sealer.unseal if context.sealer is not None else _cannot_seal
    built = Notifier(context.writes, unseal, lambda: system_metadata("notifier", context.software))
    built.poll_interval = context.settings.notify_every_seconds
    return built


def webhooks(context: ServiceContext[EpcisSettings]) -> Remote:
    def request(attempt: Attempt) -> HttpRequest:
        payload = attempt.job.payload
        return HttpRequest("POST", payload["dest"], content=payload["body"].encode(), headers=payload["headers"])

    remote = http_remote(request, context.settings.subscriptions)
    send = remote.send if context.settings.webhooks_allow_private else only_public(remote.send)
    return replace(remote, send=only_in_force(send, context.pool, context.store.schema))


DELIVERIES = Outcomes(
    delivered=lambda job, delivered: SubscriptionDelivered(
        subscription_id=job.payload["subscription_id"],
        delivery_id=job.payload["delivery_id"],
        job_id=job.job_id,
        status=delivered.status or 0,
        attempts=job.attempts,
    ),
    dead=lambda job, failure: SubscriptionDeliveryFailed(
        subscription_id=job.payload["subscription_id"],
        delivery_id=job.payload["delivery_id"],
        job_id=job.job_id,
        reason=failure.reason,
        attempts=failure.attempts,
    ),
)


SERVICE = Service(
    name="epcis_reporting",
    events=epcis.EVENTS,
    settings=EpcisSettings,
    permissions=permissions.ALL,
    write_side=(CapturedOnce(), CommitChecks(), Subscribers()),
    read_models=(JOBS, REPOSITORY, NAMED_QUERIES),
    reactors=(
        OwnerDecisions(routing.SERIAL_ISSUANCE, serials.CaptureDecided.EVENT_TYPE),
        OwnerDecisions(routing.AGGREGATION, aggregation.CaptureDecided.EVENT_TYPE),
        OwnerDecisions(routing.LINE_EXCEPTIONS, exceptions.CaptureDecided.EVENT_TYPE),
    ),
    routes=routes,
    outbound=(OutboundOf(OUTBOUND, webhooks, DELIVERIES),),
    workers=(WorkerOf("notifier", notifier),),
)
