"""Write-side uniqueness registries, written inside the append transaction.

Loading every commissioned serial of a GTIN to decide on the next 10,000 would not
scale, so "commissioned at most once" and "imported at most once" are enforced by these
tables, in the same transaction as the events: pool serials as bitmap chunks over their
counters, serials outside the pool's format by primary key. They are folds of
the log like any read model and could be rebuilt from it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from serialtrail_kit.db import APP_ROLE, Connection
from serialtrail_kit.errors import Conflict, Violation

from serial_issuance.domain import counter_bitmap

SCHEMA = "serial_issuance"

DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.commissioned_serials (
    gtin text NOT NULL, serial text NOT NULL, PRIMARY KEY (gtin, serial)
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.commissioned_counters (
    gtin text NOT NULL, chunk bigint NOT NULL, bits bytea NOT NULL, PRIMARY KEY (gtin, chunk)
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.imported_serials (
    gtin text NOT NULL, serial text NOT NULL, PRIMARY KEY (gtin, serial)
);
GRANT SELECT, INSERT ON {SCHEMA}.commissioned_serials, {SCHEMA}.imported_serials TO {APP_ROLE};
GRANT SELECT, INSERT, UPDATE ON {SCHEMA}.commissioned_counters TO {APP_ROLE};
"""


async def install(conn: Connection) -> None:
    await conn.execute(DDL)


async def imported_among(conn: Connection, gtin: str, serials: Sequence[str]) -> set[str]:
    if not serials:
        return set()
    rows = await conn.fetch(
        f"SELECT serial FROM {SCHEMA}.imported_serials WHERE gtin = $1 AND serial = ANY($2::text[])",
        gtin,
        list(serials),
    )
    return {r["serial"] for r in rows}


async def claim_counters(
    conn: Connection, gtin: str, serials: Sequence[str], counters: NDArray[np.uint64], request: Sequence[str]
) -> None:
    """Mark pool counters commissioned, or fail naming the serials that already were.
    Read-modify-write of the bitmap rows is safe because it runs inside the append
    transaction, after the log's append lock: appenders of this service are serialised."""
    if counters.size == 0:
        return
    chunks = counter_bitmap.chunks_of(counters)
    rows = await conn.fetch(
        f"SELECT chunk, bits FROM {SCHEMA}.commissioned_counters WHERE gtin = $1 AND chunk = ANY($2::bigint[])",
        gtin,
        chunks,
    )
    marked = counter_bitmap.mark({r["chunk"]: bytes(r["bits"]) for r in rows}, counters)
    if marked.already_set.any():
        taken = {s for s, hit in zip(serials, marked.already_set.tolist(), strict=True) if hit}
        _refuse(gtin, request, taken, "commissioned")
    await conn.execute(
        f"INSERT INTO {SCHEMA}.commissioned_counters (gtin, chunk, bits) "
        "SELECT $1, unnest($2::bigint[]), unnest($3::bytea[]) "
        "ON CONFLICT (gtin, chunk) DO UPDATE SET bits = EXCLUDED.bits",
        gtin,
        list(marked.chunks),
        list(marked.chunks.values()),
    )


def _refuse(gtin: str, request: Sequence[str], taken: set[str], reason: str) -> None:
    words = reason.replace("-", " ")
    violations = [
        Violation(f"serials[{i}]", reason, f"{s} is already {words}") for i, s in enumerate(request) if s in taken
    ]
    raise Conflict(f"{len(taken)} serial(s) of {gtin} are already {words}", violations)


async def claim(
    conn: Connection, table: str, gtin: str, serials: Sequence[str], reason: str, request: Sequence[str] = ()
) -> None:
    """Insert every serial or fail naming the ones already present (rolls back the append)."""
    inserted = await conn.fetch(
        f"INSERT INTO {SCHEMA}.{table} (gtin, serial) SELECT $1, unnest($2::text[]) "
        "ON CONFLICT DO NOTHING RETURNING serial",
        gtin,
        list(serials),
    )
    if len(inserted) != len(serials):
        _refuse(gtin, request or serials, set(serials) - {r["serial"] for r in inserted}, reason)
