"""Embedded mode: PostgreSQL from the wheel, data under the data directory, a serial key
generated on first start (never a default), everything in one process."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from pydantic import SecretStr
from serialtrail_kit.pgserver import EmbeddedPostgres
from serialtrail_kit.settings import Environment, Settings

DATABASE = "serialtrail"


def with_serial_key(settings: Settings) -> Settings:
    """Use the configured key, or the one generated on first start in the data directory."""
    if settings.serial_key is not None:
        return settings
    if settings.environment is Environment.production:
        raise SystemExit("SERIALTRAIL_SERIAL_KEY must be set in production")
    key_file = settings.data_dir / "serial-key"
    if not key_file.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return settings.model_copy(update={"serial_key": SecretStr(key_file.read_text().strip())})


@contextmanager
def database(settings: Settings, *, start_if_needed: bool = True) -> Iterator[str]:
    """DSN of the database to use: DATABASE_URL, an already running embedded server
    (`make run` in another terminal), or an embedded server started for this command."""
    if settings.database_url:
        yield settings.database_url
        return
    data_dir = settings.data_dir.resolve()
    port = EmbeddedPostgres.running_port(data_dir)
    if port is not None:
        yield f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"
        return
    if not start_if_needed:
        raise SystemExit(f"no embedded PostgreSQL is running on {data_dir}")
    server = EmbeddedPostgres(data_dir, durable=True)
    server.start()
    try:
        yield server.dsn_for(DATABASE)
    finally:
        server.stop()


async def ensure_database(dsn: str) -> None:
    base, _, name = dsn.rpartition("/")
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def owns_running_server(data_dir: Path) -> bool:
    return EmbeddedPostgres.running_port(data_dir.resolve()) is not None
