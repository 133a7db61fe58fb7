"""Composes services into one process: pools, installed schemas, one app whose lifespan
runs the projections. Used by the embedded all-in-one, `serialtrail serve` and tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from serialtrail_contracts.identity import RECORDED_BY_EVERY_SERVICE

from serialtrail_kit import telemetry
from serialtrail_kit.access import wiring as access
from serialtrail_kit.access.authenticate import Authenticator
from serialtrail_kit.access.principals import PrincipalsProjection
from serialtrail_kit.db import APP_ROLE, Connection, Pool, create_pool, ensure_role, provision_login
from serialtrail_kit.declaration import Service, ServiceContext
from serialtrail_kit.eventstore.checkpoints import CheckpointDirectory, Checkpointer, load_or_create_signing_key
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.http.app import create_app
from serialtrail_kit.http.context import SoftwareIdentity
from serialtrail_kit.outbound.dispatcher import Dispatcher
from serialtrail_kit.outbound.source import OutboundSourceFold
from serialtrail_kit.runtime import Runtime
from serialtrail_kit.sealing import Sealer
from serialtrail_kit.service import ServiceModule
from serialtrail_kit.service_settings import ServiceSettings, local_secret
from serialtrail_kit.settings import Environment, Settings
from serialtrail_kit.startup import naming_database, naming_kafka
from serialtrail_kit.transport.wiring import KafkaTransport
from serialtrail_kit.writes.model import WriteModel
from serialtrail_kit.writes.reactor import ReactorFold

log = logging.getLogger(__name__)
REQUEST_CONNECTIONS = 20


@dataclass
class Composition:
    app: FastAPI
    runtime: Runtime
    modules: list[ServiceModule]
    admin_pool: Pool
    app_pool: Pool
    authenticator: Authenticator


def settings_of(
    services: Sequence[Service[Any]], given: Mapping[str, ServiceSettings] | None = None
) -> dict[str, ServiceSettings]:
    """Each service's own settings: given (tests, the embedded run), else from the environment."""
    given = given or {}
    return {service.name: given.get(service.name) or service.settings() for service in services}


def refuse_unsafe(settings: Settings, own: Mapping[str, ServiceSettings]) -> None:
    if settings.environment is Environment.production:
        problems = settings.production_problems()
        problems += [problem for values in own.values() for problem in values.production_problems()]
        if problems:
            raise ValueError("; ".join(problems))


def write_model_of(service: Service[Any], pool: Pool) -> WriteModel:
    """The one way to record on a service's log: its events, upcasters and write-side tables."""
    store = PostgresEventStore(pool, service.name, service.upcasters)
    return WriteModel(store, {**RECORDED_BY_EVERY_SERVICE, **service.events}, service.write_side)


def module_of(
    service: Service[Any],
    own: ServiceSettings,
    settings: Settings,
    pool: Pool,
    software: SoftwareIdentity,
    sealer: Sealer | None = None,
) -> ServiceModule:
    """Wire one declared service: its routes get its settings, log and read-your-writes; its
    reactors and outbound sources run beside its read models, and its outbound dispatchers
    beside them, all recording through the same write model."""
    writes = write_model_of(service, pool)
    store = writes.store
    context = ServiceContext(
        name=service.name,
        settings=own,
        pool=pool,
        store=store,
        writes=writes,
        runners={},  # filled by the runtime before the app serves
        read_your_writes_timeout=settings.read_your_writes_timeout,
        max_clock_skew=timedelta(seconds=settings.max_clock_skew_seconds),
        software=(software.version, software.config_digest),
        sealer=sealer,
    )
    built = service.built_reactors(context)
    reactors = [ReactorFold(r, writes, software.version, software.config_digest) for r in built]
    identity = (software.version, software.config_digest)
    dispatchers = [Dispatcher(pool, writes, o.name, o.build(context), o.outcomes, identity) for o in service.outbound]
    sources = [OutboundSourceFold(service.name, o.name, o.source) for o in service.outbound if o.source is not None]
    return ServiceModule(
        name=service.name,
        router=service.routes(context),
        # Every service keeps its own copy of the keys it authenticates with.
        projections=[*service.read_models, PrincipalsProjection(), *reactors, *sources],
        write_sides=tuple(service.write_side),
        upcasters=service.upcasters,
        runners=context.runners,
        dispatchers=dispatchers,
        workers={w.name: w.build(context) for w in service.workers},
        uncompressed_payloads=service.uncompressed_payloads,
    )


@asynccontextmanager
async def composed(
    settings: Settings,
    admin_dsn: str,
    services: Sequence[Service[Any]],
    software: SoftwareIdentity,
    own_settings: Mapping[str, ServiceSettings] | None = None,
) -> AsyncIterator[Composition]:
    own = settings_of(services, own_settings)
    refuse_unsafe(settings, own)
    telemetry.configure(settings, service_name="serialtrail." + "+".join(s.name for s in services))
    owner = "DATABASE_URL" if settings.database_url else "the embedded database"
    async with contextlib.AsyncExitStack() as pools:  # closed in reverse: the application's, then the admin's
        with naming_database(owner, admin_dsn):
            admin_pool = await create_pool(admin_dsn, max_size=4)
            pools.push_async_callback(close_pool, admin_pool)
            async with admin_pool.acquire() as conn:
                await ensure_role(conn, APP_ROLE)
                app_dsn = await _application_dsn(conn, settings, admin_dsn)
        # Each read model, reactor, outbound source and dispatcher holds one connection to listen on;
        # requests, the runners' transactions and the dispatchers' outcomes share the rest.
        listeners = sum(
            len(s.read_models) + len(s.reactors) + 2 * len(s.outbound) + 1 for s in services
        )  # + the principals
        size = REQUEST_CONNECTIONS + listeners
        with naming_database(
            "SERIALTRAIL_APP_DATABASE_URL" if settings.app_database_url else owner, app_dsn or admin_dsn
        ):
            app_pool = await (
                create_pool(app_dsn, min_size=2, max_size=size)
                if app_dsn is not None
                else create_pool(admin_dsn, role=APP_ROLE, min_size=2, max_size=size)
            )
            pools.push_async_callback(close_pool, app_pool)
        sealer = Sealer.from_signing_key(load_or_create_signing_key(settings.checkpoint_key_at))
        modules = [module_of(s, own[s.name], settings, app_pool, software, sealer) for s in services]
        transport = (
            KafkaTransport(
                settings.kafka_bootstrap_servers, settings.kafka_consumer_settings(), settings.kafka_topic_prefix
            )
            if settings.kafka_bootstrap_servers
            else None
        )
        runtime = Runtime(
            admin_pool,
            app_pool,
            modules,
            poll_interval=settings.projection_poll_interval,
            transport=transport,
            checkpointer=checkpointer(settings, app_pool, [m.name for m in modules], transport),
        )
        with naming_database(owner, admin_dsn), naming_kafka(settings.kafka_bootstrap_servers or ""):
            await runtime.install()
        authenticator = access.authenticator(settings, app_pool, modules, software)
        app = create_app(runtime, modules, software, authenticator, max_body_size=settings.max_request_bytes)
        yield Composition(app, runtime, modules, admin_pool, app_pool, authenticator)


async def _application_dsn(conn: Connection, settings: Settings, admin_dsn: str) -> str | None:
    """How the application connects: as configured; on the embedded database, as the
    application role itself (its password generated into the data directory); else None:
    the admin connection narrowed by SET ROLE, which a superuser session could undo."""
    if settings.app_database_url:
        return settings.app_database_url
    if settings.database_url is None:
        password = await asyncio.to_thread(local_secret, settings.data_dir / "app.password")
        return await provision_login(conn, admin_dsn, password)
    log.warning(
        "SERIALTRAIL_APP_DATABASE_URL is not set: the application uses DATABASE_URL narrowed by SET ROLE; "
        "give it a login role that is a member of %s instead",
        APP_ROLE,
    )
    return None


def checkpointer(settings: Settings, pool: Pool, logs: Sequence[str], transport: KafkaTransport | None) -> Checkpointer:
    return Checkpointer(
        pool,
        logs,
        load_or_create_signing_key(settings.checkpoint_key_at),
        CheckpointDirectory(settings.checkpoints_at),
        copies=[transport.checkpoint_copy()] if transport is not None else [],
        every_events=settings.checkpoint_every_events,
        every_seconds=settings.checkpoint_every_seconds,
        poll_interval=settings.projection_poll_interval,
    )


async def close_pool(pool: Pool, grace: float = 10.0) -> None:
    """Close gracefully, but never hang a shutdown: a connection still checked out after
    `grace` seconds is a bug worth a warning, not a reason to keep the process alive."""
    try:
        await asyncio.wait_for(pool.close(), grace)
    except TimeoutError:
        log.warning("pool did not close within %.0fs (a connection was still in use); terminating it", grace)
        pool.terminate()
