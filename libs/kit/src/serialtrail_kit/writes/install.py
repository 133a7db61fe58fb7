"""Installing a service's write-side tables, and rebuilding them from its log when the code's
DDL differs from the tables' (a digest of the DDL is stored with them): an upgrade never
decides against tables of another shape. The rebuild holds the log's append lock, so no
decision is made against half-built tables."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from serialtrail_kit.db import APP_ROLE, PLACEHOLDER_SCHEMA, Connection, ddl_digest, ident
from serialtrail_kit.eventstore.postgres import FOLD_BATCH, FOLD_BYTES, PostgresEventStore
from serialtrail_kit.writes.model import WriteSide

log = logging.getLogger(__name__)


def side_digest(side: WriteSide) -> str:
    return ddl_digest(side.ddl(PLACEHOLDER_SCHEMA), side.tables)


async def install_write_sides(
    conn: Connection, store: PostgresEventStore, sides: Sequence[WriteSide], app_role: str = APP_ROLE
) -> list[str]:
    """Create (or rebuild from `store`, the service's log) every write side whose stored digest
    differs from its code's; returns their names."""
    schema = store.schema
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {schema}.write_sides (name text PRIMARY KEY, ddl_digest text NOT NULL)"
    )
    rebuilt = []
    for side in sides:
        digest = side_digest(side)
        stored = await conn.fetchval(f"SELECT ddl_digest FROM {schema}.write_sides WHERE name = $1", side.name)
        if stored != digest:
            await _rebuild(conn, store, side, digest, ident(app_role))
            rebuilt.append(side.name)
    return rebuilt


async def _rebuild(conn: Connection, store: PostgresEventStore, side: WriteSide, digest: str, role: str) -> None:
    schema = store.schema
    async with conn.transaction():
        await conn.execute(f"SELECT FROM {schema}.append_lock FOR UPDATE")
        for table in side.tables:
            await conn.execute(f"DROP TABLE IF EXISTS {schema}.{ident(table)} CASCADE")
        await conn.execute(side.ddl(schema))
        tables = ", ".join(f"{schema}.{ident(t)}" for t in side.tables)
        await conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {role}")
        folded = await _fold(conn, store, side)
        await conn.execute(
            f"INSERT INTO {schema}.write_sides (name, ddl_digest) VALUES ($1, $2) "
            "ON CONFLICT (name) DO UPDATE SET ddl_digest = EXCLUDED.ddl_digest",
            side.name,
            digest,
        )
    if folded:
        log.info("write side %s.%s rebuilt from %d events of its log", schema, side.name, folded)


async def _fold(conn: Connection, store: PostgresEventStore, side: WriteSide) -> int:
    position = folded = 0
    while batch := await store.read_all(position, FOLD_BATCH, conn=conn, max_bytes=FOLD_BYTES):
        await side.apply(conn, store.schema, batch)
        position, folded = batch[-1].global_position, folded + len(batch)
    return folded
