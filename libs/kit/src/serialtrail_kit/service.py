"""What every service hands the runtime: its schema, routes, write-side tables,
projections and upcasters. Built by the service's own bootstrap (composition root)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter

from serialtrail_kit.db import Connection
from serialtrail_kit.eventstore.upcasting import NO_UPCASTERS, Upcasters
from serialtrail_kit.readers.projection import Projection, ProjectionRunner


async def _nothing(_conn: Connection) -> None:
    return None


@dataclass
class ServiceModule:
    name: str
    router: APIRouter
    projections: list[Projection] = field(default_factory=list)
    install_write_side: Callable[[Connection], Awaitable[None]] = _nothing
    upcasters: Upcasters = NO_UPCASTERS
    runners: dict[str, ProjectionRunner] = field(default_factory=dict)
