"""Write-side uniqueness of read points, folded from the log in the same transaction as each
append: one SGLN is one line (two line ids naming one read point would make a request
naming the SGLN ambiguous, and its scope with it). The table also finds a line by its SGLN."""

from __future__ import annotations

from collections.abc import Sequence

from serialtrail_contracts.serials import LineRegistered
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.errors import Conflict
from serialtrail_kit.eventstore.model import RecordedEvent

from serial_issuance.domain.rules import UNIQUE_READ_POINT


class ReadPointsOnce:
    name = "read_points_once"
    tables: tuple[str, ...] = ("line_read_points",)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.line_read_points (
            read_point text PRIMARY KEY, line_id text NOT NULL UNIQUE, site_gln text NOT NULL
        );
        CREATE INDEX ON {schema}.line_read_points (site_gln);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            if event.event_type != LineRegistered.EVENT_TYPE:
                continue
            payload = event.payload
            inserted = await conn.fetchval(
                f"INSERT INTO {schema}.line_read_points VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
                payload["read_point"],
                payload["line_id"],
                payload["site_gln"],
            )
            if inserted is None:
                message = f"read point {payload['read_point']} is already another line's"
                raise Conflict(message, [UNIQUE_READ_POINT.at("extension", message)])


class LineDirectory:
    """Lines by read point and by site, as the write side holds them (always current)."""

    def __init__(self, pool: Pool | Connection, schema: str) -> None:
        self.pool, self.schema = pool, schema

    async def line_at(self, read_point: str) -> str | None:
        found = await self.pool.fetchval(
            f"SELECT line_id FROM {self.schema}.line_read_points WHERE read_point = $1", read_point
        )
        return None if found is None else str(found)

    async def line_at_place(self, gln: str, extension: str) -> str | None:
        """The line whose read point is the SGLN of `gln` and `extension`, however its URI splits
        the GLN into company prefix and location reference (6 to 12 digits of prefix)."""
        uris = [f"urn:epc:id:sgln:{gln[:size]}.{gln[size:12]}.{extension}" for size in range(6, 13)]
        found = await self.pool.fetchval(
            f"SELECT line_id FROM {self.schema}.line_read_points WHERE read_point = ANY($1::text[])", uris
        )
        return None if found is None else str(found)

    async def lines_of(self, site_gln: str) -> list[str]:
        rows = await self.pool.fetch(
            f"SELECT line_id FROM {self.schema}.line_read_points WHERE site_gln = $1 ORDER BY line_id", site_gln
        )
        return [str(r["line_id"]) for r in rows]
