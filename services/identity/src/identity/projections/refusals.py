"""The access audit: refused requests, recorded by each service in its own log and gathered
here from every service's log (embedded) or topic (distributed), one read model per source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from serialtrail_contracts import identity, topics
from serialtrail_contracts.identity import AccessRefused
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore import codec
from serialtrail_kit.eventstore.model import RecordedEvent

VIEWS = "identity_rm"


class RefusalsProjection:
    def __init__(self, source: str) -> None:
        self.source = source
        self.name = f"refusals_{source}"
        self.tables: tuple[str, ...] = (self.name,)
        # Only refusals are read with their payload: the others (a service's whole log) are passed.
        self.event_types = frozenset({AccessRefused.EVENT_TYPE})
        # Another service's log is busy with everything else: read it a few times a second at most.
        self.settle = 0.0 if source == "identity" else 0.25

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.{self.name} (
            global_position bigint PRIMARY KEY, recorded_at timestamptz NOT NULL, status int NOT NULL,
            reason text NOT NULL, method text NOT NULL, path text NOT NULL, principal_id text,
            presented_key_id text, client_address text, correlation_id text,
            count int NOT NULL, first_at timestamptz
        );
        CREATE INDEX ON {schema}.{self.name} (recorded_at);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        rows = []
        for recorded in events:
            event = codec.decode(identity.EVENTS, recorded)
            if isinstance(event, AccessRefused):
                meta = recorded.metadata
                rows.append(
                    (
                        recorded.global_position,
                        recorded.recorded_at,
                        event.status,
                        event.reason,
                        event.method,
                        event.path,
                        event.principal_id,
                        event.presented_key_id,
                        meta.get("client_address"),
                        meta.get("correlation_id"),
                        event.count,
                        event.first_at,
                    )
                )
        if rows:
            await conn.executemany(
                f"INSERT INTO {schema}.{self.name} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
                "ON CONFLICT DO NOTHING",
                rows,
            )


# Every service of the installation refuses requests; their names are the published language's.
PROJECTIONS = tuple(RefusalsProjection(source) for source in topics.BY_SERVICE)


async def newest(pool: Pool, limit: int) -> list[dict[str, Any]]:
    """Refused requests of every service, newest first."""
    union = " UNION ALL ".join(f"SELECT '{p.source}' AS service, * FROM {VIEWS}.{p.name}" for p in PROJECTIONS)
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT * FROM ({union}) AS r ORDER BY recorded_at DESC LIMIT $1", limit)
    return [dict(r) for r in rows]
