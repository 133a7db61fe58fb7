"""Grants and named queries: load the record's stream, decide, append. Both are single-stream
records, decided by `domain.grants` and `domain.named_queries`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.epcis import (
    PartnerGranted,
    PartnerGrantRevoked,
    QueryDefined,
    QueryDeleted,
    SubscriptionCreated,
)
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.writes.model import WriteModel

from epcis_reporting.application import subscribers
from epcis_reporting.domain import grants, named_queries, subscriptions

Decide = Callable[[Sequence[EventContract], Any], list[EventContract]]


class RecordHandlers:
    def __init__(self, writes: WriteModel) -> None:
        self.writes = writes

    async def grant(self, proposed: PartnerGranted, meta: RecordMetadata) -> bool:
        """Whether the grant is new (False: it was in force already; nothing recorded)."""
        return await self._grant(proposed, meta, grants.grant)

    async def revoke(self, proposed: PartnerGrantRevoked, meta: RecordMetadata) -> None:
        await self._grant(proposed, meta, grants.revoke)

    async def define_query(self, proposed: QueryDefined, meta: RecordMetadata) -> None:
        await self._decide(
            named_queries.stream_id(proposed.principal_id, proposed.name), proposed, meta, named_queries.define
        )

    async def delete_query(self, proposed: QueryDeleted, meta: RecordMetadata) -> None:
        await self._decide(
            named_queries.stream_id(proposed.principal_id, proposed.name), proposed, meta, named_queries.delete
        )

    async def subscribe(self, created: SubscriptionCreated, meta: RecordMetadata) -> None:
        async with self.writes.unit(meta) as work:  # the log's append lock: the count cannot change meanwhile
            subscriptions.room_for_one_more(await subscribers.held_by(work.conn, work.schema, created.principal_id))
            work.record(subscriptions.stream_id(created.subscription_id), 0, [created])

    async def unsubscribe(
        self, subscription_id: UUID, principal_id: str, query_name: str, meta: RecordMetadata
    ) -> None:
        stream_id = subscriptions.stream_id(subscription_id)
        async with self.writes.unit(meta) as work:
            stream = await work.stream(stream_id)
            work.record(stream_id, stream.version, [subscriptions.cancel(stream.events, principal_id, query_name)])

    async def _grant(
        self, proposed: PartnerGranted | PartnerGrantRevoked, meta: RecordMetadata, decide: Decide
    ) -> bool:
        stream_id = grants.stream_id(proposed.partner_gln, proposed.gtin, proposed.lot)
        return await self._decide(stream_id, proposed, meta, decide)

    async def _decide(self, stream_id: str, proposed: EventContract, meta: RecordMetadata, decide: Decide) -> bool:
        async with self.writes.unit(meta) as work:
            stream = await work.stream(stream_id)
            decided = decide(stream.events, proposed)
            if decided:
                work.record(stream_id, stream.version, decided)
        return bool(decided)
