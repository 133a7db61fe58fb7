"""Walk the hash chain of a service's log and report the first broken position."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from serialtrail_kit.db import Pool, ident
from serialtrail_kit.eventstore.hashchain import ChainBreak, ChainWalker, RowContent

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class VerifyReport:
    schema: str
    checked: int
    head: int
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


async def verify_log(pool: Pool, schema: str, *, chunk: int = 5000, progress: Progress | None = None) -> VerifyReport:
    table = f"{ident(schema)}.events"
    walker = ChainWalker()
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        head = int(await conn.fetchval(f"SELECT coalesce(max(global_position), 0) FROM {table}"))
        cursor = conn.cursor(
            "SELECT global_position, stream_id, stream_version, event_id, event_type, event_version, "
            f"payload, metadata, recorded_at, prev_hash, hash FROM {table} ORDER BY global_position",
            prefetch=chunk,
        )
        async for row in cursor:
            content = RowContent(
                global_position=row["global_position"],
                stream_id=row["stream_id"],
                stream_version=row["stream_version"],
                event_id=row["event_id"],
                event_type=row["event_type"],
                event_version=row["event_version"],
                payload=row["payload"],
                metadata=row["metadata"],
                recorded_at=row["recorded_at"],
            )
            walker.check(content, bytes(row["prev_hash"]), bytes(row["hash"]))
            if progress is not None and walker.checked % chunk == 0:
                progress(walker.checked, head)
    if progress is not None:
        progress(walker.checked, head)
    return VerifyReport(schema=schema, checked=walker.checked, head=head, first_break=walker.first_break)
