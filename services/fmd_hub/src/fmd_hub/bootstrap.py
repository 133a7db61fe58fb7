"""The EU FMD hub service, declared: the one place that wires adapters to handlers."""

from __future__ import annotations

from fastapi import APIRouter
from serialtrail_contracts import fmd, serials
from serialtrail_kit.declaration import OutboundOf, Service, ServiceContext, WorkerOf
from serialtrail_kit.eventstore.upcasting import Upcasters
from serialtrail_kit.outbound import Remote, http_remote

from fmd_hub.application import hub
from fmd_hub.application.handlers import HubHandlers
from fmd_hub.application.taken_out import TakenOut
from fmd_hub.application.write_side import Planned
from fmd_hub.entrypoints import permissions
from fmd_hub.entrypoints.http import build_router
from fmd_hub.entrypoints.simulator import SimulatedHub
from fmd_hub.projections.hub_status import HubStatusProjection
from fmd_hub.projections.knowledge import KnowledgeProjection
from fmd_hub.settings import FmdHubSettings

HUB_STATUS = HubStatusProjection()

# What it reads from serial issuance (line exceptions' events, which its reactor reads, have one version so far).
UPCASTERS = Upcasters.of(serials.UPCASTS)


def routes(context: ServiceContext[FmdHubSettings]) -> APIRouter:
    handlers = HubHandlers(context.writes, context.pool, context.settings.chunk_size)
    return build_router(handlers, context.read_your_writes(HUB_STATUS.name))


def the_hub(context: ServiceContext[FmdHubSettings]) -> Remote:
    settings = context.settings
    if settings.hub_token is None:
        raise RuntimeError("SERIALTRAIL_FMD_HUB_HUB_TOKEN is not set: the hub cannot be called")
    requests = hub.Requests(settings.hub_url, settings.hub_token.get_secret_value(), context.pool, context.store.schema)
    return http_remote(requests, settings.hub, receipt_bytes=hub.RECEIPT_BYTES)


SERVICE = Service(
    name="fmd_hub",
    events=fmd.EVENTS,
    upcasters=UPCASTERS,
    settings=FmdHubSettings,
    permissions=permissions.ALL,
    write_side=(Planned(),),
    read_models=(KnowledgeProjection(), HUB_STATUS),
    reactors=(TakenOut(),),
    routes=routes,
    outbound=(OutboundOf(hub.OUTBOUND, the_hub, hub.OUTCOMES, hub.SOURCE),),
    workers=(WorkerOf("hub_simulator", lambda context: SimulatedHub(context.settings)),),
)
