"""Aggregation, declared: the one place that wires adapters to handlers."""

from __future__ import annotations

from fastapi import APIRouter
from serialtrail_contracts import aggregation, serials
from serialtrail_kit.declaration import ReactorOf, Service, ServiceContext
from serialtrail_kit.eventstore.upcasting import Upcasters
from serialtrail_kit.service_settings import NoSettings

from aggregation.application.captures import CapturedPacking
from aggregation.application.handlers import AggregationHandlers
from aggregation.application.write_side import Holdings
from aggregation.entrypoints import permissions
from aggregation.entrypoints.http import build_router
from aggregation.projections.decommissions import DecommissionsProjection
from aggregation.projections.hierarchy.queries import AggregationQueries
from aggregation.projections.hierarchy.read_model import HierarchyProjection
from aggregation.projections.holds import HoldsProjection
from aggregation.projections.knowledge.read_model import KnowledgeProjection

HIERARCHY = HierarchyProjection()

# Its own events' and those it reads from serial issuance.
UPCASTERS = Upcasters.of(aggregation.UPCASTS, serials.UPCASTS)


def handlers_of(context: ServiceContext[NoSettings]) -> AggregationHandlers:
    return AggregationHandlers(context.writes, context.pool, context.max_clock_skew)


def routes(context: ServiceContext[NoSettings]) -> APIRouter:
    handlers = handlers_of(context)
    queries = AggregationQueries(context.pool, context.max_clock_skew)
    # Read-your-writes for this service's own log. What other services published is
    # eventually consistent by nature: links to objects not seen yet show as pending.
    return build_router(handlers, queries, context.read_your_writes(HIERARCHY.name), context.not_ahead)


SERVICE = Service(
    name="aggregation",
    events=aggregation.EVENTS,
    upcasters=UPCASTERS,
    permissions=permissions.ALL,
    write_side=(Holdings(),),
    read_models=(HIERARCHY, KnowledgeProjection(), DecommissionsProjection(), HoldsProjection()),
    routes=routes,
    reactors=(
        # Packing and unpacking captured through EPCIS, decided when their capture ends.
        ReactorOf(CapturedPacking.name, CapturedPacking.source, lambda context: CapturedPacking(handlers_of(context))),
    ),
)
