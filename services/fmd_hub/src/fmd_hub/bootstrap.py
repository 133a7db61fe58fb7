"""The EU FMD hub service, declared: the one place that wires adapters to handlers."""

from __future__ import annotations

from dataclasses import replace

import httpx
from fastapi import APIRouter
from serialtrail_contracts import fmd, serials
from serialtrail_kit.declaration import OutboundOf, Service, ServiceContext, WorkerOf
from serialtrail_kit.eventstore.metadata import system_metadata
from serialtrail_kit.eventstore.upcasting import Upcasters
from serialtrail_kit.outbound import Remote, http_remote

from fmd_hub.application import hub
from fmd_hub.application.alerts import AlertHandlers, AlertPoller
from fmd_hub.application.handlers import HubHandlers
from fmd_hub.application.taken_out import TakenOut
from fmd_hub.application.write_side import Planned
from fmd_hub.entrypoints import permissions
from fmd_hub.entrypoints.alert_routes import alert_routes
from fmd_hub.entrypoints.http import build_router
from fmd_hub.entrypoints.simulator import SimulatedHub, refuse_a_taken_port
from fmd_hub.projections.alerts import AlertsProjection, DeviationsKnownProjection
from fmd_hub.projections.hub_status import HubStatusProjection
from fmd_hub.projections.knowledge import KnowledgeProjection
from fmd_hub.settings import FmdHubSettings

KNOWLEDGE = KnowledgeProjection()
HUB_STATUS = HubStatusProjection()
ALERTS = AlertsProjection()

# What it reads from serial issuance (line exceptions' events, which its reactor reads, have one version so far).
UPCASTERS = Upcasters.of(serials.UPCASTS)


def routes(context: ServiceContext[FmdHubSettings]) -> APIRouter:
    settled = context.caught_up_with_sources(KNOWLEDGE.name, f"reactor_{TakenOut.name}")
    handlers = HubHandlers(context.writes, context.pool, context.settings.chunk_size, settled)
    router = build_router(handlers, context.read_your_writes(HUB_STATUS.name))
    alert_routes(router, AlertHandlers(context.writes), context.read_your_writes(ALERTS.name))
    return router


def alert_poller(context: ServiceContext[FmdHubSettings]) -> AlertPoller:
    settings = context.settings
    token = settings.hub_token.get_secret_value() if settings.hub_token else ""

    def client() -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.AsyncClient(base_url=settings.hub_url, headers=headers, timeout=30, follow_redirects=False)

    return AlertPoller(
        context.writes, client, settings.alerts_every_seconds, lambda: system_metadata("alerts", context.software)
    )


def the_hub(context: ServiceContext[FmdHubSettings]) -> Remote:
    settings = context.settings
    refuse_a_taken_port(settings)
    if settings.hub_token is None:
        raise RuntimeError("SERIALTRAIL_FMD_HUB_HUB_TOKEN is not set: the hub cannot be called")
    requests = hub.HubClient(
        settings.hub_url, settings.hub_token.get_secret_value(), context.pool, context.store.schema
    )
    remote = http_remote(requests, settings.hub, receipt_bytes=hub.RECEIPT_BYTES)
    return replace(remote, send=hub.checked(remote.send))


SERVICE = Service(
    name="fmd_hub",
    events=fmd.EVENTS,
    upcasters=UPCASTERS,
    settings=FmdHubSettings,
    permissions=permissions.ALL,
    write_side=(Planned(),),
    read_models=(KNOWLEDGE, HUB_STATUS, ALERTS, DeviationsKnownProjection()),
    reactors=(TakenOut(),),
    routes=routes,
    outbound=(OutboundOf(hub.OUTBOUND, the_hub, hub.OUTCOMES, hub.SOURCE),),
    workers=(
        WorkerOf("hub_simulator", lambda context: SimulatedHub(context.settings)),
        WorkerOf("alerts", alert_poller),
    ),
)
