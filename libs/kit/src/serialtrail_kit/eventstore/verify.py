"""Walk the hash chain of a service's log and report the first broken position."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from serialtrail_kit.db import Pool, ident
from serialtrail_kit.eventstore.hashchain import ChainBreak, ChainWalker
from serialtrail_kit.eventstore.postgres import COLUMNS, content_of

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
        cursor = conn.cursor(f"SELECT {COLUMNS} FROM {table} ORDER BY global_position", prefetch=chunk)
        async for row in cursor:
            walker.check(content_of(row), bytes(row["prev_hash"]), bytes(row["hash"]))
            if progress is not None and walker.checked % chunk == 0:
                progress(walker.checked, head)
    if progress is not None:
        progress(walker.checked, head)
    return VerifyReport(schema=schema, checked=walker.checked, head=head, first_break=walker.first_break)
