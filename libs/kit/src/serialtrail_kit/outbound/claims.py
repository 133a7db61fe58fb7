"""Claiming due jobs for sending, within every destination's limits.

One claim at a time per outbound (a transaction-scoped advisory lock), whichever replica
makes it: what is in flight to a destination and the tokens left in its bucket are then read
and spent without a race, so the concurrency and rate limits hold across every dispatcher,
not per process. Rows are taken `FOR UPDATE SKIP LOCKED`, never waiting on a job someone
else holds (an operator's retry, an outcome being recorded).

A claimed job is `sending` with a lease: its `due_at` becomes the lease's end. A sender that
stops without recording an outcome (a crash, a kill) leaves the job to come due again when the
lease ends; the next claim notes the expiry in its history and sends it again, with the same
idempotency key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from serialtrail_kit.db import Connection, Pool, ident
from serialtrail_kit.outbound.bucket import TokenBucket
from serialtrail_kit.outbound.jobs import JobRecord
from serialtrail_kit.outbound.policy import DestinationPolicy, OutboundSettings
from serialtrail_kit.outbound.schema import OPEN

LEASE_EXPIRED = "no outcome was recorded before the lease ended (the sender stopped or crashed)"


@dataclass(frozen=True)
class Load:
    """One destination's open jobs at the claim's moment."""

    destination: str
    in_flight: int  # sending, lease running
    due: int  # claimable now
    next_due: datetime | None  # the next to become claimable (a due time, a lease's end)


@dataclass(frozen=True)
class Claimed:
    jobs: list[JobRecord]
    next_in: float | None  # seconds until more may be claimable, as far as the claim could tell


class Claims:
    def __init__(self, pool: Pool, schema: str, outbound: str, settings: OutboundSettings) -> None:
        self.pool = pool
        self.schema = ident(schema)
        self.outbound = outbound
        self.settings = settings
        self._jobs = f"{self.schema}.outbound_jobs"
        self._lock = f"serialtrail.outbound.{self.schema}.{outbound}"

    async def claim(self, room: int) -> Claimed:
        """Up to `room` due jobs, the most overdue destinations first, each within its limits."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self._lock)
            now: datetime = await conn.fetchval("SELECT clock_timestamp()")
            claimed: list[JobRecord] = []
            waits = []
            for load in await self._loads(conn, now):
                if load.next_due is not None:
                    waits.append((load.next_due - now).total_seconds())
                if load.due == 0 or len(claimed) >= room:
                    continue
                taken, wait = await self._claim_for(conn, load, now, room - len(claimed))
                claimed += taken
                waits += [wait] if wait is not None else []
        return Claimed(claimed, min(waits) if waits else None)

    async def _claim_for(
        self, conn: Connection, load: Load, now: datetime, room: int
    ) -> tuple[list[JobRecord], float | None]:
        """The jobs claimed for one destination, and when its bucket allows another (if it is what stops it)."""
        policy = self.settings.of(load.destination)
        bucket = await self._bucket(conn, load.destination, policy, now)
        count = min(room, load.due, policy.concurrency - load.in_flight, bucket.available)
        taken = await self._take(conn, load.destination, count, now, policy) if count > 0 else []
        bucket = bucket.take(len(taken))
        await self._store(conn, load.destination, bucket)
        starved = load.due > len(taken) and bucket.available == 0
        return taken, bucket.seconds_to_next() if starved else None

    async def _loads(self, conn: Connection, now: datetime) -> list[Load]:
        rows = await conn.fetch(
            "SELECT destination, "
            "count(*) FILTER (WHERE state = 'sending' AND due_at > $2) AS in_flight, "
            "count(*) FILTER (WHERE due_at <= $2) AS due, "
            "min(due_at) FILTER (WHERE due_at <= $2) AS oldest, "
            "min(due_at) FILTER (WHERE due_at > $2) AS next_due "
            f"FROM {self._jobs} WHERE outbound = $1 AND state IN {OPEN} "
            "GROUP BY destination ORDER BY oldest NULLS LAST, destination",
            self.outbound,
            now,
        )
        return [Load(r["destination"], r["in_flight"], r["due"], r["next_due"]) for r in rows]

    async def _take(
        self, conn: Connection, destination: str, count: int, now: datetime, policy: DestinationPolicy
    ) -> list[JobRecord]:
        rows = await conn.fetch(
            f"WITH chosen AS (SELECT job_id FROM {self._jobs} "
            f"WHERE outbound = $1 AND destination = $2 AND state IN {OPEN} AND due_at <= $3::timestamptz "
            "ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED) "
            f"UPDATE {self._jobs} j SET state = 'sending', attempts = j.attempts + 1, "
            "claim_id = gen_random_uuid(), due_at = $3::timestamptz + make_interval(secs => $5), "
            "updated_at = $3::timestamptz, history = CASE WHEN j.state = 'sending' THEN j.history || "
            "jsonb_build_array(jsonb_build_object('at', $3::timestamptz, 'attempt', j.attempts, "
            "'outcome', 'lease-expired', 'reason', $6::text)) ELSE j.history END "
            "FROM chosen WHERE j.job_id = chosen.job_id RETURNING j.*",
            self.outbound,
            destination,
            now,
            count,
            policy.lease_seconds,
            LEASE_EXPIRED,
        )
        return [JobRecord.of(r) for r in rows]

    async def _bucket(
        self, conn: Connection, destination: str, policy: DestinationPolicy, now: datetime
    ) -> TokenBucket:
        row = await conn.fetchrow(
            f"SELECT tokens, refilled_at FROM {self.schema}.outbound_buckets WHERE outbound = $1 AND destination = $2",
            self.outbound,
            destination,
        )
        if row is None:
            return TokenBucket.full(policy.rate_per_second, policy.burst, now)
        stored = TokenBucket(policy.rate_per_second, policy.burst, row["tokens"], row["refilled_at"])
        return stored.refilled(now)

    async def _store(self, conn: Connection, destination: str, bucket: TokenBucket) -> None:
        await conn.execute(
            f"INSERT INTO {self.schema}.outbound_buckets (outbound, destination, tokens, refilled_at) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (outbound, destination) "
            "DO UPDATE SET tokens = EXCLUDED.tokens, refilled_at = EXCLUDED.refilled_at",
            self.outbound,
            destination,
            bucket.tokens,
            bucket.at,
        )
