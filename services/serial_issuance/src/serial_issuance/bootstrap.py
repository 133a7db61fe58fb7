"""Serial issuance, declared: the one place that wires adapters to handlers."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from serialtrail_contracts import serials
from serialtrail_kit.declaration import ReactorOf, Service, ServiceContext
from serialtrail_kit.eventstore.upcasting import Upcasters

from serial_issuance.application.captures import CapturedCommissionings
from serial_issuance.application.handlers import SerialIssuanceHandlers
from serial_issuance.application.reactions import ReworkLinks
from serial_issuance.application.read_points import LineDirectory, ReadPointsOnce
from serial_issuance.application.write_side import IssuedOnce
from serial_issuance.domain.keys import SerialKeyring
from serial_issuance.entrypoints import permissions
from serial_issuance.entrypoints.http import build_router
from serial_issuance.projections.decommissions import DecommissionsProjection
from serial_issuance.projections.serial_status.queries import SerialQueries
from serial_issuance.projections.serial_status.read_model import SerialStatusProjection
from serial_issuance.settings import SerialIssuanceSettings

NAME = "serial_issuance"
SERIAL_STATUS = SerialStatusProjection()


def handlers_of(context: ServiceContext[SerialIssuanceSettings]) -> SerialIssuanceHandlers:
    return SerialIssuanceHandlers(
        context.writes,
        SerialKeyring(context.settings.key()),
        LineDirectory(context.pool, NAME),
        skew=context.max_clock_skew,
        max_shelf_life=timedelta(days=context.settings.max_shelf_life_days),
    )


def routes(context: ServiceContext[SerialIssuanceSettings]) -> APIRouter:
    handlers = handlers_of(context)
    queries = SerialQueries(context.pool, handlers.load, handlers.keyring)
    consistent = context.read_your_writes(SERIAL_STATUS.name)
    return build_router(handlers, queries, consistent, context.settings.digital_link_base, context.not_ahead)


SERVICE = Service(
    name=NAME,
    events=serials.EVENTS,
    upcasters=Upcasters.of(serials.UPCASTS),
    settings=SerialIssuanceSettings,
    permissions=permissions.ALL,
    write_side=(IssuedOnce(), ReadPointsOnce()),
    uncompressed_payloads=True,  # commissionings are lists of random serials: pglz gives up on them
    read_models=(SERIAL_STATUS, DecommissionsProjection()),
    reactors=(
        ReworkLinks(),
        ReactorOf(
            CapturedCommissionings.name,
            CapturedCommissionings.source,
            lambda context: CapturedCommissionings(handlers_of(context)),
        ),
    ),
    routes=routes,
)
