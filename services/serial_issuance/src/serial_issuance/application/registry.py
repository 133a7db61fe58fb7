"""Write-side uniqueness registries, written inside the append transaction.

Loading every commissioned serial of a GTIN to decide on the next 10,000 would not
scale, so "commissioned at most once" and "imported at most once" are enforced by
primary keys on these tables, in the same transaction as the events. They are folds of
the log like any read model and could be rebuilt from it."""

from __future__ import annotations

from collections.abc import Sequence

from serialtrail_kit.db import APP_ROLE, Connection
from serialtrail_kit.errors import Conflict, Violation

SCHEMA = "serial_issuance"

DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.commissioned_serials (
    gtin text NOT NULL, serial text NOT NULL, PRIMARY KEY (gtin, serial)
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.imported_serials (
    gtin text NOT NULL, serial text NOT NULL, PRIMARY KEY (gtin, serial)
);
GRANT SELECT, INSERT ON {SCHEMA}.commissioned_serials, {SCHEMA}.imported_serials TO {APP_ROLE};
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


async def claim(conn: Connection, table: str, gtin: str, serials: Sequence[str], reason: str) -> None:
    """Insert every serial or fail naming the ones already present (rolls back the append)."""
    inserted = await conn.fetch(
        f"INSERT INTO {SCHEMA}.{table} (gtin, serial) SELECT $1, unnest($2::text[]) "
        "ON CONFLICT DO NOTHING RETURNING serial",
        gtin,
        list(serials),
    )
    if len(inserted) == len(serials):
        return
    taken = set(serials) - {r["serial"] for r in inserted}
    violations = [
        Violation(f"serials[{i}]", reason, f"{s} is already {reason.replace('-', ' ')}")
        for i, s in enumerate(serials)
        if s in taken
    ]
    raise Conflict(f"{len(taken)} serial(s) of {gtin} are already {reason.replace('-', ' ')}", violations)
