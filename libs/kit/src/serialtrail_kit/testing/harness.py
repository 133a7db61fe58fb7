"""Run services in-process against a real database, served through httpx."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from serialtrail_contracts.identity import UNSCOPED_BY_DEFAULT, ApiKeyCreated, Role, Scope

from serialtrail_kit.access import principals, tokens
from serialtrail_kit.composition import Composition, composed
from serialtrail_kit.db import APP_ROLE
from serialtrail_kit.declaration import Service
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.metadata import local_metadata
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.http.context import SoftwareIdentity
from serialtrail_kit.readers.projection import ProjectionRunner
from serialtrail_kit.service_settings import ServiceSettings
from serialtrail_kit.settings import Environment, Settings
from serialtrail_kit.testing.documented import DocumentedProblemsOnly
from serialtrail_kit.transport.wiring import KafkaTransport

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
        _, token = await seed_key(self.composition, name=f"test {role.value}", role=role, scope=scope, **extra)
        return token

    async def issue_key(
        self, *, name: str, role: Role, scope: Scope | None = None, expires_at: datetime | None = None
    ) -> tuple[str, str]:
        """(key id, token) of a key recorded in the identity log, as the identity service would."""
        return await seed_key(self.composition, name=name, role=role, scope=scope, expires_at=expires_at)

    def runner(self, service: str, projection: str) -> ProjectionRunner:
        (module,) = [m for m in self.composition.modules if m.name == service]
        return module.runners[projection]

    def client_with(self, token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.AsyncClient(transport=self.client._transport, base_url=self.client.base_url, headers=headers)


async def seed_key(
    composition: Composition,
    *,
    name: str,
    role: Role,
    scope: Scope | None,
    expires_at: datetime | None = None,
    principal_id: str | None = None,
) -> tuple[str, str]:
    """Record a key in the identity log as the identity service does (whether or not it is
    composed here: tests write producers' logs as they would), and wait until every composed
    service's copy of the keys has it. Returns (key id, token)."""
    issued = tokens.issue()
    if scope is None:
        scope = Scope.unrestricted() if role in UNSCOPED_BY_DEFAULT else Scope.nothing()
    created = ApiKeyCreated(
        key_id=issued.key_id,
        principal_id=principal_id or f"key:{issued.key_id}",
        name=name,
        role=role,
        scope=scope.as_json(),
        expires_at=expires_at,
        secret_hash=issued.secret_hash,
    )
    async with composition.admin_pool.acquire() as conn:
        await install_log(conn, principals.SOURCE, APP_ROLE)
    log = PostgresEventStore(composition.app_pool, principals.SOURCE)
    await log.append([append_of(f"api-key-{created.key_id}", 0, [created])], SYSTEM)
    for module in composition.modules:
        await module.runners[principals.NAME].caught_up(timeout=60)
    return issued.key_id, issued.token


@asynccontextmanager
async def serve(
    database_dsn: str,
    services: Sequence[Service[Any]],
    settings: Settings | None = None,
    own_settings: Mapping[str, ServiceSettings] | None = None,
) -> AsyncIterator[Harness]:
    """`services` composed in this process, each with its test settings unless given; their
    checkpoints and signing key in a temporary directory unless the settings name a place."""
    settings = settings or make_settings()
    own = {s.name: s.settings.for_tests() for s in services} | dict(own_settings or {})
    async with (
        _own_data_dir(settings) as settings,
        composed(settings, database_dsn, services, TEST_SOFTWARE, own) as composition,
        _keys_relayed(composition, settings),
    ):
        app = composition.app
        async with app.router.lifespan_context(app):
            transport = DocumentedProblemsOnly(httpx.ASGITransport(app=app), app)
            _, admin = await seed_key(composition, name="test admin", role=Role.admin, scope=None)
            headers = {"Authorization": f"Bearer {admin}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://serialtrail.test", headers=headers
            ) as client:
                yield Harness(client, composition, settings, own)


@asynccontextmanager
async def _own_data_dir(settings: Settings) -> AsyncIterator[Settings]:
    chosen = settings.data_dir != Settings.model_fields["data_dir"].default
    if chosen or settings.checkpoint_dir is not None or settings.checkpoint_key_file is not None:
        yield settings
        return
    with tempfile.TemporaryDirectory(prefix="serialtrail-test-") as data_dir:
        yield settings.model_copy(update={"data_dir": Path(data_dir)})


@asynccontextmanager
async def _keys_relayed(composition: Composition, settings: Settings) -> AsyncIterator[None]:
    """Over Kafka, without the keys' own service here, the keys the tests record in its log
    travel on its topic as that service's relay would send them."""
    if not settings.kafka_bootstrap_servers or principals.SOURCE in {m.name for m in composition.modules}:
        yield
        return
    async with composition.admin_pool.acquire() as conn:
        await install_log(conn, principals.SOURCE, APP_ROLE)
    transport = KafkaTransport(settings.kafka_bootstrap_servers, prefix=settings.kafka_topic_prefix)
    relay = transport.relay(composition.app_pool, principals.SOURCE, poll_interval=0.1)
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        relay.stop()
        await asyncio.wait([task], timeout=10)
