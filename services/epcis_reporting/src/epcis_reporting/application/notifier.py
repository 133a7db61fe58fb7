"""Telling subscribers: for each subscription due (a stream: always; a schedule: when its time
has come), the events that settled since it was last told, matching its query, read with the
subscriber's scope (a subscriber whose key was revoked or expired is told nothing more: its
subscriptions are cancelled); recorded (`SubscriptionNotified`, which moves its cursor) in the same
transaction as the delivery job the outbound worker then sends, signed, with retries. A
delivery holds at most `most` events; more are told in further deliveries of the same run."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from serialtrail_contracts.epcis import SubscriptionCancelled, SubscriptionCreated, SubscriptionNotified
from serialtrail_contracts.identity import Principal, Role, Scope
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.outbound import Job, enqueue
from serialtrail_kit.writes.model import UnitOfWork, WriteModel

from epcis_reporting.application import subscribers
from epcis_reporting.domain.query_document import query_document
from epcis_reporting.domain.query_params import filters_of
from epcis_reporting.domain.subscriptions import stream_id
from epcis_reporting.projections.repository import key_withdrawn, settled_after

OUTBOUND = "subscriptions"
SIGNATURE = "GS1-Signature"
log = logging.getLogger(__name__)
Unseal = Callable[[str], str]


def signature(token: str, body: bytes) -> str:
    """HMAC-SHA256 of the body, keyed with the subscriber's signatureToken (hex)."""
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


class Notifier:
    def __init__(self, writes: WriteModel, unseal: Unseal, meta: Callable[[], RecordMetadata], most: int = 1000):
        self.writes, self.unseal, self.meta, self.most = writes, unseal, meta, most
        self.poll_interval = 1.0
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        while not self.stopping.is_set():
            await self.run_once(datetime.now(UTC))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.poll_interval)

    def stop(self) -> None:
        self.stopping.set()

    async def run_once(self, now: datetime) -> int:
        """Deliveries decided now, for every subscription due. One that cannot be told (its query
        fails, its delivery cannot be kept) is logged and left; the others are told all the same."""
        async with self.writes.together() as conn:
            due = await subscribers.due(conn, self.writes.store.schema, now)
        told = 0
        for row in due:
            try:
                while (told_now := await self._tell(row["subscription_id"], now)) == self.most:
                    told += 1
            except Exception:
                log.exception("subscription %s could not be told; the others are", row["subscription_id"])
                continue
            told += told_now > 0
        return told

    async def _tell(self, subscription_id: uuid.UUID, now: datetime) -> int:
        """One delivery (or none): the events the subscription is told next, and its cursor moved.
        The subscriber's query runs before the log's append lock is taken (it may be slow: it must
        not hold up every write); the unit then records it only if the cursor has not moved meanwhile."""
        async with self.writes.together() as conn:
            row = await subscribers.one(conn, self.writes.store.schema, subscription_id)
            if row is None or (row["next_run"] is not None and row["next_run"] > now):
                return 0  # cancelled, or told by another notifier meanwhile
            created = SubscriptionCreated.model_validate(row["created"])
            after = (int(row["through_settled"]), int(row["through_seq"]))
            withdrawn = await key_withdrawn(conn, created.principal_id)
            found = [] if withdrawn else await settled_after(
                conn, _principal(created), filters_of(created.query, "query"), after,
                created.initial_record_time, self.most,
            )  # fmt: skip
            if not (withdrawn or found or created.report_if_empty):
                if created.schedule is not None:  # nothing to tell: its next run, and nothing recorded
                    await subscribers.postpone(conn, self.writes.store.schema, subscription_id, row["next_run"], now)
                return 0
        async with self.writes.unit(self.meta()) as work:
            again = await subscribers.one(work.conn, work.schema, subscription_id)
            moved = again is None or again["next_run"] != row["next_run"]
            if moved or (int(again["through_settled"]), int(again["through_seq"])) != after:
                return 0  # cancelled or told meanwhile: looked at again on the next run
            if await key_withdrawn(work.conn, created.principal_id):
                cancelled = SubscriptionCancelled(
                    subscription_id=created.subscription_id,
                    query_name=created.query_name,
                    principal_id=created.principal_id,
                    reason="the subscriber's key was revoked or expired",
                )
                stream = stream_id(created.subscription_id)
                work.record(stream, await work.version(stream), [cancelled])
                return 0
            if not found and created.schedule is None:
                return 0  # a stream with nothing new (asked to report when empty): nothing to record
            await self._record(work, created, found, after, now)
        return len(found)

    async def _record(
        self,
        work: UnitOfWork,
        created: SubscriptionCreated,
        found: list[dict[str, Any]],
        after: tuple[int, int],
        now: datetime,
    ) -> None:
        through = (int(found[-1]["settled_at"]), int(found[-1]["seq"])) if found else after
        delivery_id = uuid.uuid4()
        notified = SubscriptionNotified(
            subscription_id=created.subscription_id,
            delivery_id=delivery_id,
            through_settled=through[0],
            through_seq=through[1],
            events=len(found),
            run_at=now,
        )
        stream = stream_id(created.subscription_id)
        work.record(stream, await work.version(stream), [notified])
        if found or created.report_if_empty:
            await enqueue(work, OUTBOUND, [self._delivery(created, delivery_id, found)])

    def _delivery(self, created: SubscriptionCreated, delivery_id: uuid.UUID, found: list[dict[str, Any]]) -> Job:
        document = query_document(found, created.query_name, str(created.subscription_id))
        body = orjson.dumps(document)
        headers = {"Content-Type": "application/ld+json", "GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
        if created.sealed_token is not None:
            headers[SIGNATURE] = signature(self.unseal(created.sealed_token), body)
        payload = {
            "subscription_id": str(created.subscription_id),
            "delivery_id": str(delivery_id),
            "dest": created.dest,
            "body": body.decode(),
            "headers": headers,
        }
        return Job(destination=_host(created.dest), key=str(delivery_id), payload=payload)


def _principal(created: SubscriptionCreated) -> Principal:
    scope = created.principal_scope
    return Principal(
        id=created.principal_id,
        name=created.principal_name,
        role=Role(created.principal_role),
        auth_method="subscription",
        scope=Scope.from_json(scope.model_dump()),
    )


def _host(dest: str) -> str:
    """Limits apply per subscriber's host."""
    from urllib.parse import urlsplit

    return urlsplit(dest).hostname or dest
