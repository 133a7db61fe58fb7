"""Embedded mode: PostgreSQL from the wheel, data under the data directory, services'
secrets generated on first start (never a default), everything in one process."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from serialtrail_kit.composition import settings_of
from serialtrail_kit.db import database_of, with_database
from serialtrail_kit.declaration import Service
from serialtrail_kit.pgserver import EmbeddedPostgres, EmbeddedPostgresError, require_reachable
from serialtrail_kit.service_settings import ServiceSettings
from serialtrail_kit.settings import Environment, Settings
from serialtrail_kit.startup import naming_database

DATABASE = "serialtrail"


def own_settings(
    settings: Settings, services: Sequence[Service[Any]], data_dir: Path | None = None
) -> Mapping[str, ServiceSettings]:
    """Each service's settings, its unset secrets read from (or generated once into) the data
    directory, except in production, where every secret must be configured."""
    own = settings_of(services)
    if settings.environment is Environment.production:
        return own
    return {name: values.with_local_secrets(data_dir or settings.data_dir) for name, values in own.items()}


def preflight(settings: Settings, data_dir: Path | None = None) -> None:
    """What would stop the embedded server, said before anything is created."""
    if settings.database_url:
        return
    try:
        require_reachable(data_dir or settings.data_dir)
    except EmbeddedPostgresError as error:
        raise SystemExit(f"cannot start the embedded PostgreSQL: {error}") from error


@contextmanager
def database(settings: Settings, *, start_if_needed: bool = True) -> Iterator[str]:
    """DSN of the database to use: DATABASE_URL, an already running embedded server
    (`make run` in another terminal), or an embedded server started for this command."""
    if settings.database_url:
        yield settings.database_url
        return
    data_dir = settings.data_dir.resolve()
    running = EmbeddedPostgres.running_dsn(data_dir, DATABASE)
    if running is not None:
        yield running
        return
    if not start_if_needed:
        raise SystemExit(f"no embedded PostgreSQL is running on {data_dir}")
    server = EmbeddedPostgres(data_dir, durable=True)
    try:
        server.start()
    except EmbeddedPostgresError as error:
        raise SystemExit(f"cannot start the embedded PostgreSQL: {error}") from error
    try:
        yield server.dsn_for(DATABASE)
    finally:
        server.stop()


async def ensure_database(dsn: str) -> None:
    """The database DATABASE_URL names, created on first start where its role may (embedded)."""
    name = database_of(dsn)
    with naming_database("DATABASE_URL", dsn):
        try:
            await (await asyncpg.connect(dsn)).close()
            return
        except asyncpg.InvalidCatalogNameError:
            pass
        conn = await asyncpg.connect(with_database(dsn, "postgres"))
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()


def owns_running_server(data_dir: Path) -> bool:
    return EmbeddedPostgres.running_port(data_dir.resolve()) is not None
