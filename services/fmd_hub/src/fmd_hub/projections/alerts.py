"""The hub's alerts as QA works them (`GET /v1/fmd/alerts`), a fold of this service's log; and
the deviations line exceptions opened, learnt from its `exceptions` events, that an alert may
be linked to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from serialtrail_contracts import fmd
from serialtrail_contracts.deviations import DeviationOpened
from serialtrail_contracts.identity import NO_CMO, Scope, Target
from serialtrail_gs1.keys import gtin_problem
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import RecordedEvent

from fmd_hub.projections.knowledge import RM


class AlertsProjection:
    name = "alerts"
    source = "fmd_hub"
    tables: tuple[str, ...] = ("alerts",)
    event_types = (fmd.AlertReceived.EVENT_TYPE, fmd.AlertInvestigated.EVENT_TYPE, fmd.AlertClosed.EVENT_TYPE)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.alerts (
            alert_id text PRIMARY KEY, position bigint NOT NULL UNIQUE, code text NOT NULL, message text NOT NULL,
            product_code text NOT NULL, lot text, serial text, market text, location text,
            raised_at timestamptz NOT NULL, received_at timestamptz NOT NULL, state text NOT NULL,
            note text, deviation_id uuid, closed_reason text
        );
        CREATE INDEX ON {schema}.alerts (product_code, lot);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            p = event.payload
            if event.event_type == fmd.AlertReceived.EVENT_TYPE:
                fields = ("alert_id", "code", "message", "product_code", "lot", "serial", "market", "location")
                await conn.execute(
                    f"INSERT INTO {schema}.alerts (alert_id, code, message, product_code, lot, serial, market, "
                    "location, position, raised_at, received_at, state) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::timestamptz, $11, 'new')",
                    *(p.get(key) for key in fields),
                    event.global_position,
                    p["raised_at"],
                    event.recorded_at,
                )
            elif event.event_type == fmd.AlertInvestigated.EVENT_TYPE:
                await conn.execute(
                    f"UPDATE {schema}.alerts SET state = 'under-investigation', note = $2, deviation_id = $3 "
                    "WHERE alert_id = $1",
                    p["alert_id"],
                    p["note"],
                    None if p.get("deviation_id") is None else UUID(p["deviation_id"]),
                )
            else:
                await conn.execute(
                    f"UPDATE {schema}.alerts SET state = 'closed', closed_reason = $2 WHERE alert_id = $1",
                    p["alert_id"],
                    p["reason"],
                )


class DeviationsKnownProjection:
    name = "deviations_known"
    source = "line_exceptions"
    tables: tuple[str, ...] = ("known_deviations",)
    event_types = (DeviationOpened.EVENT_TYPE,)

    def ddl(self, schema: str) -> str:
        return f"CREATE TABLE {schema}.known_deviations (deviation_id uuid PRIMARY KEY, gtin text NOT NULL);"

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            await conn.execute(
                f"INSERT INTO {schema}.known_deviations VALUES ($1, $2) ON CONFLICT DO NOTHING",
                UUID(event.payload["deviation_id"]),
                event.payload["gtin"],
            )


async def deviation_of(pool: Pool, deviation_id: UUID) -> str | None:
    """The product of a deviation line exceptions opened, if known."""
    async with pool.acquire() as conn:
        found: str | None = await conn.fetchval(
            f"SELECT gtin FROM {RM}.known_deviations WHERE deviation_id = $1", deviation_id
        )
    return found


# An alert names the lot that was scanned; its pack's own batch (where the serial was commissioned)
# is the one it belongs to: a pack scanned with a wrong lot is an alert on its real batch.
COLUMNS = (
    "a.alert_id, a.code, a.message, a.product_code, a.lot, coalesce(c.lot, a.lot) AS batch_lot, a.serial, "
    "a.market, a.location, a.raised_at, a.received_at, a.state, a.note, a.deviation_id, a.closed_reason, "
    "a.position, b.cmo_id, b.site_gln"
)
FROM = (
    f"{RM}.alerts a LEFT JOIN {RM}.commissioned c ON c.gtin = a.product_code AND c.serial = a.serial "
    f"LEFT JOIN {RM}.known_batches b ON b.gtin = a.product_code AND b.lot = coalesce(c.lot, a.lot)"
)


# No one's: only a principal that nothing narrows sees it (an alert about a product code that is
# no GTIN: another scheme's, or a pharmacy's typo). "" is in no narrowed dimension of any scope.
NOBODY = frozenset({""})
NO_COMPANY = Target(gtins=NOBODY, company_prefixes=NOBODY, sites=NOBODY, lines=NOBODY, cmos=NOBODY)


def owner(alert: dict[str, Any]) -> Target:
    """An alert is its product's, and its batch's CMO's (none known: the company's own)."""
    if gtin_problem(alert["product_code"]) is not None:
        return NO_COMPANY
    batch = Target(cmos=frozenset({alert["cmo_id"] or NO_CMO}))
    site = Target(sites=frozenset({alert["site_gln"]})) if alert["site_gln"] else Target()
    return Target(gtins=frozenset({alert["product_code"]})) | batch | site


async def alert(pool: Pool, alert_id: str) -> dict[str, Any] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM {FROM} WHERE a.alert_id = $1", alert_id)
    return None if row is None else dict(row)


async def alerts(
    pool: Pool, scope: Scope, state: str | None, gtin: str | None, lot: str | None, after: int, limit: int
) -> list[dict[str, Any]]:
    """Oldest first after position `after`, only those the scope covers."""
    found: list[dict[str, Any]] = []
    async with pool.acquire() as conn:
        while len(found) < limit:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM {FROM} WHERE a.position > $1 AND ($2::text IS NULL OR a.state = $2) "
                "AND ($3::text IS NULL OR a.product_code = $3) "
                "AND ($4::text IS NULL OR a.lot = $4 OR coalesce(c.lot, a.lot) = $4) "
                "ORDER BY a.position LIMIT $5",
                after,
                state,
                gtin,
                lot,
                limit,
            )
            if not rows:
                break
            after = rows[-1]["position"]
            found += [dict(r) for r in rows if scope.missing(owner(dict(r))) is None]
    return found[:limit]


async def open_alerts_of(pool: Pool, gtin: str, lot: str) -> list[dict[str, Any]]:
    """The batch's alerts not closed yet, oldest first (the hub part of a release review)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT a.alert_id, a.code, a.serial, a.lot AS scanned_lot, a.state, a.raised_at FROM {FROM} "
            "WHERE a.product_code = $1 AND (a.lot = $2 OR coalesce(c.lot, a.lot) = $2) AND a.state <> 'closed' "
            "ORDER BY a.position",
            gtin,
            lot,
        )
    return [dict(row) for row in rows]
