"""Run services in-process against a real database, served through httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from serialtrail_contracts.identity import Role, Scope

from serialtrail_kit.composition import Composition, composed
from serialtrail_kit.declaration import Service
from serialtrail_kit.eventstore.metadata import local_metadata
from serialtrail_kit.http.context import SoftwareIdentity
from serialtrail_kit.readers.projection import ProjectionRunner
from serialtrail_kit.service_settings import ServiceSettings
from serialtrail_kit.settings import Environment, Settings

TEST_SOFTWARE = SoftwareIdentity(version="0.0.0-test", config_digest="sha256:test")


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": Environment.test,
        "projection_poll_interval": 0.2,
    }
    values.update(overrides)
    return Settings.model_validate(values)


SYSTEM = local_metadata(
    principal_id="system:test-harness",
    role="system",
    auth_method="local",
    software_version=TEST_SOFTWARE.version,
    config_digest=TEST_SOFTWARE.config_digest,
)


@dataclass
class Harness:
    client: httpx.AsyncClient  # authenticated as an admin
    composition: Composition
    settings: Settings
    own_settings: Mapping[str, ServiceSettings]

    async def token(self, role: Role, scope: Scope | None = None, **extra: Any) -> str:
        _, token = await self.composition.identity.issue_key(
            name=f"test {role.value}", role=role, scope=scope, expires_at=None, meta=SYSTEM, **extra
        )
        return token

    def runner(self, service: str, projection: str) -> ProjectionRunner:
        (module,) = [m for m in self.composition.modules if m.name == service]
        return module.runners[projection]

    def client_with(self, token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.AsyncClient(transport=self.client._transport, base_url=self.client.base_url, headers=headers)


@asynccontextmanager
async def serve(
    database_dsn: str,
    services: Sequence[Service[Any]],
    settings: Settings | None = None,
    own_settings: Mapping[str, ServiceSettings] | None = None,
) -> AsyncIterator[Harness]:
    """`services` composed in this process, each with its test settings unless given."""
    settings = settings or make_settings()
    own = {s.name: s.settings.for_tests() for s in services} | dict(own_settings or {})
    async with composed(settings, database_dsn, services, TEST_SOFTWARE, own) as composition:
        app = composition.app
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            _, admin = await composition.identity.issue_key(
                name="test admin", role=Role.admin, scope=None, expires_at=None, meta=SYSTEM
            )
            headers = {"Authorization": f"Bearer {admin}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://serialtrail.test", headers=headers
            ) as client:
                yield Harness(client, composition, settings, own)
