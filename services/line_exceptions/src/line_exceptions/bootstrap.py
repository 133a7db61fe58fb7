"""Line exceptions, declared: the one place that wires adapters to handlers."""

from __future__ import annotations

from fastapi import APIRouter
from serialtrail_contracts import aggregation, exceptions, serials
from serialtrail_kit.declaration import ReactorOf, Service, ServiceContext
from serialtrail_kit.eventstore.upcasting import Upcasters
from serialtrail_kit.service_settings import NoSettings

from line_exceptions.application.captures import CapturedExceptions
from line_exceptions.application.deviations import DeviationHandlers
from line_exceptions.application.handlers import ExceptionHandlers
from line_exceptions.application.write_side import UnitsOut
from line_exceptions.entrypoints import permissions
from line_exceptions.entrypoints.http import build_router
from line_exceptions.entrypoints.resources import Reads
from line_exceptions.projections.deviations import DeviationsProjection
from line_exceptions.projections.hierarchy import HierarchyProjection
from line_exceptions.projections.holds import HoldsProjection
from line_exceptions.projections.knowledge import KnowledgeProjection
from line_exceptions.projections.records.queries import RecordQueries
from line_exceptions.projections.records.read_model import RecordsProjection

RECORDS = RecordsProjection()
HOLDS = HoldsProjection()
DEVIATIONS = DeviationsProjection()

# Its own events' and those it reads from serial issuance and aggregation.
UPCASTERS = Upcasters.of(serials.UPCASTS, aggregation.UPCASTS)


def handlers_of(context: ServiceContext[NoSettings]) -> ExceptionHandlers:
    return ExceptionHandlers(context.writes, context.pool)


def captured_exceptions(context: ServiceContext[NoSettings]) -> CapturedExceptions:
    return CapturedExceptions(handlers_of(context), context.not_ahead)


def routes(context: ServiceContext[NoSettings]) -> APIRouter:
    # Read-your-writes for this service's own read models. What serial issuance and aggregation
    # published is eventually consistent by nature: a unit commissioned moments ago may not be known yet.
    reads = Reads(*(context.read_your_writes(model.name) for model in (RECORDS, HOLDS, DEVIATIONS)))
    return build_router(
        handlers_of(context),
        DeviationHandlers(context.writes, context.pool),
        RecordQueries(context.pool),
        reads,
        context.not_ahead,
    )


SERVICE = Service(
    name="line_exceptions",
    events=exceptions.EVENTS,
    upcasters=UPCASTERS,
    permissions=permissions.ALL,
    write_side=(UnitsOut(),),
    read_models=(RECORDS, HOLDS, DEVIATIONS, KnowledgeProjection(), HierarchyProjection()),
    routes=routes,
    reactors=(
        # Decommissioning, destroying and sampling captured through EPCIS, decided when their capture ends.
        ReactorOf(CapturedExceptions.name, CapturedExceptions.source, captured_exceptions),
    ),
)
