"""Reader positions. Always written in the same transaction as the reader's effect, so
after a crash a reader resumes exactly where its last committed effect ended."""

from __future__ import annotations

from serialtrail_kit.db import Connection, ident


class Tracking:
    def __init__(self, schema: str, reader: str, source: str) -> None:
        self.table = f"{ident(schema)}.tracking"
        self.reader = reader
        self.source = source

    async def position(self, conn: Connection) -> int:
        value = await conn.fetchval(
            f"SELECT position FROM {self.table} WHERE reader = $1 AND source = $2", self.reader, self.source
        )
        return int(value or 0)

    async def advance(self, conn: Connection, position: int) -> None:
        """Record `position`; refuses to move backwards, which would re-apply effects."""
        status = await conn.execute(
            f"INSERT INTO {self.table} (reader, source, position) VALUES ($1, $2, $3) "
            "ON CONFLICT (reader, source) DO UPDATE SET position = EXCLUDED.position "
            f"WHERE {self.table}.position < EXCLUDED.position",
            self.reader,
            self.source,
            position,
        )
        if status.endswith(" 0"):
            raise RuntimeError(f"tracking for {self.reader} <- {self.source} would not move forward to {position}")
