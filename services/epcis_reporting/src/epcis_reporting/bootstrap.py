"""EPCIS reporting, declared: the one place that wires adapters to handlers."""

from __future__ import annotations

from fastapi import APIRouter
from serialtrail_contracts import aggregation, epcis, exceptions, serials
from serialtrail_kit.declaration import Service, ServiceContext

from epcis_reporting.application.capture import CaptureHandlers
from epcis_reporting.application.decisions import OwnerDecisions
from epcis_reporting.application.records import RecordHandlers
from epcis_reporting.application.write_side import CapturedOnce, CommitChecks
from epcis_reporting.domain import routing
from epcis_reporting.entrypoints import permissions
from epcis_reporting.entrypoints.http import Reads, build_router
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
    return build_router(handlers, RecordHandlers(context.writes), context.pool, reads, settings.max_document_bytes)


SERVICE = Service(
    name="epcis_reporting",
    events=epcis.EVENTS,
    settings=EpcisSettings,
    permissions=permissions.ALL,
    write_side=(CapturedOnce(), CommitChecks()),
    read_models=(JOBS, REPOSITORY, NAMED_QUERIES),
    reactors=(
        OwnerDecisions(routing.SERIAL_ISSUANCE, serials.CaptureDecided.EVENT_TYPE),
        OwnerDecisions(routing.AGGREGATION, aggregation.CaptureDecided.EVENT_TYPE),
        OwnerDecisions(routing.LINE_EXCEPTIONS, exceptions.CaptureDecided.EVENT_TYPE),
    ),
    routes=routes,
)
