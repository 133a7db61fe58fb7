"""What capturing decides with, folded from this service's log in the same transaction as each
append: every event captured, by its Event Hash ID. So "captured once" holds under concurrent
captures of the same document; the primary key is the last line of defence. An event its owner
refused (under rollback, every event of that capture) was not captured: sent again, it is new."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from serialtrail_contracts.epcis import CaptureCommitted, CaptureFinished, EventsCaptured, OwnerDecided, identity
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
            if recorded.event_type == OwnerDecided.EVENT_TYPE and not recorded.payload.get("prepared"):
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


class CommitChecks:
    """Captures whose owners are checking their shares (`CaptureFinished.prepare`): who has yet
    to answer, and whether any refused. The last answer commits the capture (`OwnerDecisions`)."""

    name = "commit_checks"
    tables: tuple[str, ...] = ("capture_checks",)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.capture_checks (
            capture_id uuid PRIMARY KEY, awaiting text[] NOT NULL, refused boolean NOT NULL
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            payload = recorded.payload
            if recorded.event_type == CaptureFinished.EVENT_TYPE and payload.get("prepare"):
                await conn.execute(
                    f"INSERT INTO {schema}.capture_checks VALUES ($1::uuid, $2, false)",
                    payload["capture_id"],
                    payload["owners"],
                )
            elif recorded.event_type == OwnerDecided.EVENT_TYPE and payload.get("prepared"):
                await conn.execute(
                    f"UPDATE {schema}.capture_checks SET refused = refused OR $3::boolean, "
                    "awaiting = CASE WHEN $4::boolean THEN array_remove(awaiting, $2) ELSE awaiting END "
                    "WHERE capture_id = $1::uuid",
                    payload["capture_id"],
                    payload["owner"],
                    payload["refused_count"] > 0,
                    payload["last"],
                )
            elif recorded.event_type == CaptureCommitted.EVENT_TYPE:
                await conn.execute(
                    f"DELETE FROM {schema}.capture_checks WHERE capture_id = $1::uuid", payload["capture_id"]
                )


async def checks_of(conn: Connection, schema: str, capture_id: UUID) -> tuple[list[str], bool] | None:
    """(owners yet to answer, whether any refused) of a capture being checked."""
    row = await conn.fetchrow(
        f"SELECT awaiting, refused FROM {schema}.capture_checks WHERE capture_id = $1", capture_id
    )
    return None if row is None else (list(row["awaiting"]), bool(row["refused"]))
