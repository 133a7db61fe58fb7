"""The subscriptions in force, as the notifier decides with them: folded from this service's log in
the same transaction as each append (a write-side table), so a delivery decided and the cursor it
moves are one. A deleted query takes its subscriptions with it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from serialtrail_contracts.epcis import (
    QueryDeleted,
    Schedule,
    SubscriptionCancelled,
    SubscriptionCreated,
    SubscriptionNotified,
)
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.outbound import Permanent
from serialtrail_kit.outbound.declared import Send
from serialtrail_kit.outbound.jobs import Attempt, Outcome

from epcis_reporting.domain.subscriptions import next_run
from epcis_reporting.projections.repository import key_withdrawn


class Subscribers:
    name = "subscribers"
    tables: tuple[str, ...] = ("subscriptions",)

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.subscriptions (
            subscription_id uuid PRIMARY KEY, query_name text NOT NULL, principal_id text NOT NULL,
            created jsonb NOT NULL,  -- the SubscriptionCreated payload
            created_at timestamptz NOT NULL,
            through_settled bigint NOT NULL DEFAULT 0, through_seq bigint NOT NULL DEFAULT 0,
            next_run timestamptz,  -- a schedule's next run; a stream: none
            last_notified_at timestamptz
        );
        CREATE INDEX ON {schema}.subscriptions (principal_id, query_name);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            payload = recorded.payload
            if recorded.event_type == SubscriptionCreated.EVENT_TYPE:
                schedule = payload.get("schedule")
                first = None if schedule is None else next_run(Schedule.model_validate(schedule), recorded.recorded_at)
                await conn.execute(
                    f"INSERT INTO {schema}.subscriptions (subscription_id, query_name, principal_id, created, "
                    "created_at, next_run) VALUES ($1::uuid, $2, $3, $4::jsonb, $5, $6) ON CONFLICT DO NOTHING",
                    payload["subscription_id"],
                    payload["query_name"],
                    payload["principal_id"],
                    payload,
                    recorded.recorded_at,
                    first,
                )
            elif recorded.event_type == SubscriptionNotified.EVENT_TYPE:
                await _notified(conn, schema, payload, recorded.recorded_at)
            elif recorded.event_type == SubscriptionCancelled.EVENT_TYPE:
                await conn.execute(
                    f"DELETE FROM {schema}.subscriptions WHERE subscription_id = $1::uuid", payload["subscription_id"]
                )
            elif recorded.event_type == QueryDeleted.EVENT_TYPE:
                await conn.execute(
                    f"DELETE FROM {schema}.subscriptions WHERE principal_id = $1 AND query_name = $2",
                    payload["principal_id"],
                    payload["name"],
                )


async def _notified(conn: Connection, schema: str, payload: dict[str, Any], at: datetime) -> None:
    row = await conn.fetchrow(
        f"SELECT created FROM {schema}.subscriptions WHERE subscription_id = $1::uuid", payload["subscription_id"]
    )
    if row is None:
        return
    schedule = row["created"].get("schedule")
    ran = datetime.fromisoformat(payload["run_at"])
    following = None if schedule is None else next_run(Schedule.model_validate(schedule), max(ran, at))
    await conn.execute(
        f"UPDATE {schema}.subscriptions SET through_settled = $2, through_seq = $3, next_run = $4, "
        "last_notified_at = $5 WHERE subscription_id = $1::uuid",
        payload["subscription_id"],
        payload["through_settled"],
        payload["through_seq"],
        following,
        at,
    )


async def of_query(conn: Connection, schema: str, principal_id: str, query_name: str) -> list[Any]:
    return list(
        await conn.fetch(
            f"SELECT * FROM {schema}.subscriptions WHERE principal_id = $1 AND query_name = $2 ORDER BY created_at",
            principal_id,
            query_name,
        )
    )


async def one(conn: Connection, schema: str, subscription_id: UUID) -> Any:
    return await conn.fetchrow(f"SELECT * FROM {schema}.subscriptions WHERE subscription_id = $1", subscription_id)


async def held_by(conn: Connection, schema: str, principal_id: str) -> int:
    """How many subscriptions in force `principal_id` holds."""
    found = await conn.fetchval(f"SELECT count(*) FROM {schema}.subscriptions WHERE principal_id = $1", principal_id)
    return int(found)


async def postpone(conn: Connection, schema: str, subscription_id: UUID, was: datetime, now: datetime) -> None:
    """A schedule's run with nothing to tell (and no empty report asked for) moves its next run and
    records nothing: the log keeps deliveries, not every look. (Rebuilt from the log, the table
    has the run after the last delivery: due at once, looked at, moved on again.)"""
    row = await conn.fetchrow(f"SELECT created FROM {schema}.subscriptions WHERE subscription_id = $1", subscription_id)
    if row is None:
        return
    following = next_run(Schedule.model_validate(row["created"]["schedule"]), now)
    await conn.execute(
        f"UPDATE {schema}.subscriptions SET next_run = $3 WHERE subscription_id = $1 AND next_run = $2",
        subscription_id,
        was,
        following,
    )


async def due(conn: Connection, schema: str, now: datetime) -> list[Any]:
    """Streams (always due: they are told what settled since) and schedules whose time has come."""
    return list(
        await conn.fetch(
            f"SELECT * FROM {schema}.subscriptions WHERE next_run IS NULL OR next_run <= $1 ORDER BY created_at", now
        )
    )


def only_in_force(send: Send, pool: Pool, schema: str) -> Send:
    """A delivery is sent only while its subscription is in force and its subscriber's key is
    not withdrawn: one decided before an unsubscribe or a revocation is not sent after it (its
    failure, with this reason, is on the log)."""

    async def checked(attempt: Attempt) -> Outcome:
        async with pool.acquire() as conn:
            row = await one(conn, schema, UUID(str(attempt.job.payload["subscription_id"])))
            withdrawn = row is not None and await key_withdrawn(conn, row["principal_id"])
        if row is None or withdrawn:
            return Permanent("the subscription was cancelled, or its subscriber's key withdrawn: not sent")
        return await send(attempt)

    return checked
