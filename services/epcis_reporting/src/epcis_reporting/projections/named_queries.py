"""Named queries as defined, by creator and name: a fold of this service's own log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from serialtrail_contracts.epcis import QueryDefined, QueryDeleted
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import RecordedEvent

from epcis_reporting.projections.repository import RM, SOURCE

MOST = 1000


class NamedQueriesProjection:
    name = "named_queries"
    source = SOURCE
    tables: tuple[str, ...] = ("named_queries",)
    event_types = (QueryDefined.EVENT_TYPE, QueryDeleted.EVENT_TYPE)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.named_queries (
            principal_id text NOT NULL, name text NOT NULL, query jsonb NOT NULL, defined_at timestamptz NOT NULL,
            PRIMARY KEY (principal_id, name)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            named = recorded.payload
            if recorded.event_type == QueryDefined.EVENT_TYPE:
                await conn.execute(
                    f"INSERT INTO {schema}.named_queries VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT DO NOTHING",
                    named["principal_id"],
                    named["name"],
                    named["query"],
                    recorded.recorded_at,
                )
            else:
                await conn.execute(
                    f"DELETE FROM {schema}.named_queries WHERE principal_id = $1 AND name = $2",
                    named["principal_id"],
                    named["name"],
                )


async def one(pool: Pool, principal_id: str, name: str) -> Any:
    async with pool.acquire() as conn:
        return await conn.fetchrow(
            f"SELECT name, query FROM {RM}.named_queries WHERE principal_id = $1 AND name = $2", principal_id, name
        )


async def of(pool: Pool, principal_id: str) -> list[Any]:
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                f"SELECT name, query FROM {RM}.named_queries WHERE principal_id = $1 ORDER BY name LIMIT {MOST}",
                principal_id,
            )
        )
