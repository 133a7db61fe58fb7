"""Identity, declared: the one place that wires adapters to handlers."""

from __future__ import annotations

from fastapi import APIRouter
from serialtrail_contracts import identity
from serialtrail_kit.access.authenticate import KeyUsage
from serialtrail_kit.access.principals import NAME as PRINCIPALS
from serialtrail_kit.access.principals import Principals
from serialtrail_kit.declaration import Service, ServiceContext
from serialtrail_kit.service_settings import NoSettings

from identity.application.handlers import IdentityHandlers
from identity.entrypoints import permissions
from identity.entrypoints.http import Keys, build_router
from identity.projections import refusals

NAME = "identity"


def routes(context: ServiceContext[NoSettings]) -> APIRouter:
    # The keys are read from the copy every service keeps (the kit's principals read model).
    keys = Keys(context.pool, Principals(context.pool, f"{NAME}_rm"), KeyUsage(context.pool, NAME))
    own_refusals = context.read_your_writes(refusals.RefusalsProjection(NAME).name)
    return build_router(IdentityHandlers(context.writes), keys, context.read_your_writes(PRINCIPALS), own_refusals)


SERVICE = Service(
    name=NAME,
    events=identity.EVENTS,
    permissions=permissions.ALL,
    read_models=refusals.PROJECTIONS,
    routes=routes,
)
