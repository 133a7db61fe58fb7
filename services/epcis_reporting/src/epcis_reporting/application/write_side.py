"""What capturing decides with, folded from this service's log in the same transaction as each
append: every event captured, by its Event Hash ID. So "captured once" holds under concurrent
captures of the same document; the primary key is the last line of defence. An event its owner
refused (under rollback, every event of that capture) was not captured: sent again, it is new."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from serialtrail_contracts.epcis import EventsCaptured, OwnerDecided, identity
from serialtrail_kit.db import Connection, json_list
from serialtrail_kit.eventstore.model import RecordedEvent

from epcis_reporting.domain.capture import Earlier


class CapturedOnce:
    name = "captured_once"
    tables: tuple[str, ...] = ("captured_ids",)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.captured_ids (
            event_id text PRIMARY KEY, capture_id uuid NOT NULL, position integer NOT NULL  -- event_id: identity_of
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        rows = [
            {
                "event_id": identity(e["event_id"], e.get("declares_error", False)),
                "capture_id": recorded.payload["capture_id"],
                "position": e["index"],
            }
            for recorded in events
            if recorded.event_type == EventsCaptured.EVENT_TYPE
            for e in recorded.payload["events"]
        ]
        for recorded in events:
            if recorded.event_type == OwnerDecided.EVENT_TYPE:
                await _withdraw(conn, schema, recorded.payload)
        if rows:
            await conn.execute(
                f"INSERT INTO {schema}.captured_ids (event_id, capture_id, position) "
                "SELECT event_id, capture_id, position "
                "FROM json_to_recordset($1::json) AS r(event_id text, capture_id uuid, position integer)",
                json_list(rows),
            )


async def _withdraw(conn: Connection, schema: str, decided: dict[str, Any]) -> None:
    if decided["rolled_back"]:
        await conn.execute(f"DELETE FROM {schema}.captured_ids WHERE capture_id = $1::uuid", decided["capture_id"])
    elif decided["refused"]:
        await conn.execute(
            f"DELETE FROM {schema}.captured_ids WHERE capture_id = $1::uuid AND event_id = ANY($2::text[])",
            decided["capture_id"],
            sorted({error["event_id"] for error in decided["refused"] if error["event_id"]}),
        )


async def captured_before(conn: Connection, schema: str, event_ids: Iterable[str]) -> dict[str, Earlier]:
    rows = await conn.fetch(
        f"SELECT event_id, capture_id, position FROM {schema}.captured_ids "
        "WHERE event_id IN (SELECT json_array_elements_text($1::json))",
        json_list(sorted(set(event_ids))),
    )
    return {row["event_id"]: Earlier(row["capture_id"], row["position"]) for row in rows}
