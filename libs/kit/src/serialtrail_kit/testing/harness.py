"""Run services in-process against a real database, served through httpx."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from serialtrail_kit.composition import Builder, Composition, composed
from serialtrail_kit.http.context import SoftwareIdentity
from serialtrail_kit.settings import Environment, Settings

TEST_SOFTWARE = SoftwareIdentity(version="0.0.0-test", config_digest="sha256:test")


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": Environment.test,
        "serial_key": secrets.token_hex(32),
        "projection_poll_interval": 0.2,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@dataclass
class Harness:
    client: httpx.AsyncClient
    composition: Composition
    settings: Settings


@asynccontextmanager
async def serve(
    database_dsn: str, builders: Mapping[str, Builder], settings: Settings | None = None
) -> AsyncIterator[Harness]:
    settings = settings or make_settings()
    async with composed(settings, database_dsn, builders, TEST_SOFTWARE) as composition:
        app = composition.app
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://serialtrail.test") as client:
                yield Harness(client, composition, settings)
