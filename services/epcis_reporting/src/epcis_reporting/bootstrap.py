"""EPCIS reporting, declared: the one place that wires adapters to handlers."""

from __future__ import annotations

from fastapi import APIRouter
from serialtrail_contracts import epcis
from serialtrail_kit.declaration import Service, ServiceContext

from epcis_reporting.application.capture import CaptureHandlers
from epcis_reporting.application.write_side import CapturedOnce
from epcis_reporting.entrypoints import permissions
from epcis_reporting.entrypoints.http import build_router
from epcis_reporting.projections.jobs import JobsProjection
from epcis_reporting.settings import EpcisSettings

JOBS = JobsProjection()


def routes(context: ServiceContext[EpcisSettings]) -> APIRouter:
    settings = context.settings
    handlers = CaptureHandlers(context.writes, settings.max_document_events)
    consistent = context.read_your_writes(JOBS.name)
    return build_router(handlers, context.pool, consistent, settings.max_document_bytes)


SERVICE = Service(
    name="epcis_reporting",
    events=epcis.EVENTS,
    settings=EpcisSettings,
    permissions=permissions.ALL,
    write_side=(CapturedOnce(),),
    read_models=(JOBS,),
    routes=routes,
)
