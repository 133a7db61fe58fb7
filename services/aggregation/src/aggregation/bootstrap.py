"""The composition root of aggregation: the one place that wires adapters to handlers."""

from __future__ import annotations

from serialtrail_kit.db import Pool
from serialtrail_kit.errors import Unavailable
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.readers.projection import ProjectionRunner
from serialtrail_kit.service import ServiceModule
from serialtrail_kit.settings import Settings

from aggregation.application import write_side
from aggregation.application.handlers import AggregationHandlers
from aggregation.application.queries import AggregationQueries
from aggregation.entrypoints.http import build_router
from aggregation.projections.decommissions import DecommissionsProjection
from aggregation.projections.hierarchy import HierarchyProjection
from aggregation.projections.knowledge import KnowledgeProjection

NAME = "aggregation"


def build(settings: Settings, app_pool: Pool) -> ServiceModule:
    store = PostgresEventStore(app_pool, NAME)
    handlers = AggregationHandlers(store, app_pool)
    queries = AggregationQueries(app_pool)
    hierarchy = HierarchyProjection()
    runners: dict[str, ProjectionRunner] = {}  # filled by the runtime before the app serves

    async def consistent() -> None:
        """Read-your-writes for this service's own log. What other services published is
        eventually consistent by nature: links to objects not seen yet show as pending."""
        try:
            await runners[hierarchy.name].wait_for(await store.head(), timeout=settings.read_your_writes_timeout)
        except TimeoutError as error:
            raise Unavailable(
                f"the {hierarchy.name} read model is still catching up with the log; retry shortly"
            ) from error

    return ServiceModule(
        name=NAME,
        router=build_router(handlers, queries, consistent),
        projections=[hierarchy, KnowledgeProjection(), DecommissionsProjection()],
        install_write_side=write_side.install,
        runners=runners,
    )
