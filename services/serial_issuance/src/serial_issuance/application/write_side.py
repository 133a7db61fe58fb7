"""Write-side uniqueness, folded from the log in the same transaction as each append.

Loading every commissioned serial of a GTIN to decide on the next 10,000 would not scale,
so "commissioned at most once" and "imported at most once" are kept in these tables: pool
serials as bitmap chunks over their counters, serials outside the pool's format by primary
key. A recorded event that would claim a serial twice raises `AlreadyTaken`, which rolls
the whole unit of work back; the handler names the serials."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from asyncpg import BitString
from numpy.typing import NDArray
from serialtrail_contracts.serials import SerialsCommissioned, SerialsImported
from serialtrail_kit.db import Connection
from serialtrail_kit.eventstore.model import RecordedEvent

from serial_issuance.domain import counter_bitmap

NO_COUNTERS: NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)


@dataclass
class AlreadyTaken(Exception):
    """Some serials were claimed before: pool counters and/or serials outside the pool."""

    reason: str  # "commissioned" or "imported"
    counters: NDArray[np.uint64] = field(default_factory=lambda: NO_COUNTERS)
    serials: frozenset[str] = frozenset()


class IssuedOnce:
    name = "issued_once"
    tables: tuple[str, ...] = ("commissioned_serials", "commissioned_counters", "imported_serials")

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.commissioned_serials (
            gtin text NOT NULL, serial text NOT NULL, PRIMARY KEY (gtin, serial)
        );
        CREATE TABLE {schema}.commissioned_counters (
            gtin text NOT NULL, chunk bigint NOT NULL, bits bit({counter_bitmap.CHUNK_BITS}) NOT NULL,
            PRIMARY KEY (gtin, chunk)
        );
        CREATE TABLE {schema}.imported_serials (
            gtin text NOT NULL, serial text NOT NULL, lot text, PRIMARY KEY (gtin, serial)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            if event.event_type == SerialsCommissioned.EVENT_TYPE:
                payload = event.payload
                await _claim_counters(conn, schema, payload["gtin"], payload["counter_ranges"])
                await _claim(conn, schema, "commissioned_serials", payload["gtin"], payload["unpooled_serials"])
            elif event.event_type == SerialsImported.EVENT_TYPE:
                payload = event.payload
                await _claim(conn, schema, "imported_serials", payload["gtin"], payload["serials"], payload.get("lot"))


async def imported_among(
    conn: Connection, schema: str, gtin: str, serials: Sequence[str], lot: str | None = None
) -> set[str]:
    """Those of `serials` imported for `gtin` and for batch `lot` (or for no batch): serials
    imported for a batch belong to that batch."""
    if not serials:
        return set()
    rows = await conn.fetch(
        f"SELECT serial FROM {schema}.imported_serials WHERE gtin = $1 AND serial = ANY($2::text[]) "
        "AND (lot IS NULL OR lot = $3)",
        gtin,
        list(serials),
        lot,
    )
    return {r["serial"] for r in rows}


async def _claim_counters(conn: Connection, schema: str, gtin: str, ranges: list[list[int]]) -> None:
    """Set the counters' bits in one statement: each chunk's bits OR-ed with this event's, where
    none of them is set already. It runs under the log's append lock, where every round trip is
    time no other writer can use (a read, then a write, took two). A chunk left as it was (one
    of its bits taken) is read afterwards only to name what was taken; the unit then rolls back."""
    counters = counter_bitmap.counters_of_ranges(ranges)
    if counters.size == 0:
        return
    ours = counter_bitmap.mark({}, counters).chunks  # this event's bits alone, per chunk
    claimed = await conn.fetch(
        f"INSERT INTO {schema}.commissioned_counters AS t (gtin, chunk, bits) "
        "SELECT $1, chunk, bits FROM unnest($2::bigint[], $3::bit varying[]) AS o(chunk, bits) "
        "ON CONFLICT (gtin, chunk) DO UPDATE SET bits = t.bits | EXCLUDED.bits "
        "WHERE bit_count(t.bits & EXCLUDED.bits) = 0 RETURNING chunk",
        gtin,
        list(ours),
        [BitString.frombytes(bits, counter_bitmap.CHUNK_BITS) for bits in ours.values()],
    )
    if len(claimed) == len(ours):
        return
    taken = sorted(set(ours) - {row["chunk"] for row in claimed})
    rows = await conn.fetch(
        f"SELECT chunk, bits FROM {schema}.commissioned_counters WHERE gtin = $1 AND chunk = ANY($2::bigint[])",
        gtin,
        taken,
    )
    in_taken = counters[np.isin(counters // np.uint64(counter_bitmap.CHUNK_BITS), np.array(taken, dtype=np.uint64))]
    marked = counter_bitmap.mark({row["chunk"]: row["bits"].bytes for row in rows}, in_taken)
    raise AlreadyTaken("commissioned", counters=in_taken[marked.already_set])


async def _claim(
    conn: Connection, schema: str, table: str, gtin: str, serials: Sequence[str], lot: str | None = None
) -> None:
    if not serials:
        return
    columns, values = ("(gtin, serial)", "$1, unnest($2::text[])")
    if table == "imported_serials":
        columns, values = ("(gtin, serial, lot)", "$1, unnest($2::text[]), $3::text")
    inserted = await conn.fetch(
        f"INSERT INTO {schema}.{table} {columns} SELECT {values} ON CONFLICT DO NOTHING RETURNING serial",
        gtin,
        list(serials),
        *([lot] if table == "imported_serials" else []),
    )
    if len(inserted) != len(serials):
        reason = "commissioned" if table == "commissioned_serials" else "imported"
        raise AlreadyTaken(reason, serials=frozenset(serials) - {r["serial"] for r in inserted})
