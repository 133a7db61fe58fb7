"""A declared service once wired: what the runtime runs and the app serves. Built by the
composition from the service's declaration (`declaration.Service`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import APIRouter

from serialtrail_kit.eventstore.upcasting import NO_UPCASTERS, Upcasters
from serialtrail_kit.outbound.dispatcher import Dispatcher
from serialtrail_kit.readers.projection import Projection, ProjectionRunner
from serialtrail_kit.writes.model import WriteSide

if TYPE_CHECKING:
    from serialtrail_kit.declaration import Worker


@dataclass
class ServiceModule:
    name: str
    router: APIRouter
    projections: list[Projection] = field(default_factory=list)
    write_sides: tuple[WriteSide, ...] = ()
    upcasters: Upcasters = NO_UPCASTERS
    runners: dict[str, ProjectionRunner] = field(default_factory=dict)
    dispatchers: list[Dispatcher] = field(default_factory=list)  # one per declared outbound
    workers: dict[str, Worker] = field(default_factory=dict)  # by name
    uncompressed_payloads: bool = False  # as declared (`Service.uncompressed_payloads`)
