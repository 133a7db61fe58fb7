"""Deviation commands: look up what a deviation groups, then in a unit of work load the
deviation, let the domain decide and record. Closing records QA's signature in the same
transaction as the closure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.identity import Scope
from serialtrail_kit.access.resources import EXISTS
from serialtrail_kit.access.signatures import Signer
from serialtrail_kit.db import Connection, Pool, json_list
from serialtrail_kit.errors import NotFound
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.writes.model import WriteModel

from line_exceptions.application.handlers import signed_in
from line_exceptions.domain import deviations
from line_exceptions.domain.deviations import Deviation, Links, OpenDeviation
from line_exceptions.projections.holds import within_holds
from line_exceptions.projections.knowledge import RM
from line_exceptions.projections.records.queries import within


class DeviationHandlers:
    def __init__(self, writes: WriteModel, pool: Pool) -> None:
        self.writes = writes
        self.pool = pool

    async def links(self, gtin: str, exception_ids: Sequence[UUID], hold_ids: Sequence[UUID], scope: Scope) -> Links:
        """What is to be grouped, with the lot of each record and hold of `gtin` the scope covers
        (another party's reads as unknown)."""
        lots: list[dict[UUID, str]] = []
        for table, column, ids, seen in (
            ("records", "exception_id", exception_ids, within),
            ("holds", "hold_id", hold_ids, within_holds),
        ):
            args: list[Any] = [json_list([str(i) for i in ids]), gtin]
            rows = await self.pool.fetch(
                f"SELECT {column} AS id, lot FROM {RM}.{table} "
                f"WHERE {column} IN (SELECT (json_array_elements_text($1::json))::uuid) AND gtin = $2 "
                f"AND {seen(scope, args)}",
                *args,
            )
            lots.append({row["id"]: row["lot"] for row in rows})
        return Links(tuple(exception_ids), tuple(hold_ids), lots[0], lots[1])

    async def open(self, command: OpenDeviation, meta: RecordMetadata) -> RecordedEvent:
        opened = deviations.open_deviation(command)
        async with self.writes.unit(meta) as work:
            work.record(deviations.stream_id(command.deviation_id), 0, [opened])
        return work.recorded[-1]

    async def change(
        self,
        deviation_id: UUID,
        decide: Callable[[Deviation], EventContract],
        meta: RecordMetadata,
        conn: Connection | None = None,
    ) -> RecordedEvent:
        """Load the deviation, let `decide` (a domain decision) say what happens, record it (in
        the caller's transaction when `conn` is given)."""
        async with self.writes.unit(meta, conn=conn) as work:
            stream = deviations.stream_id(deviation_id)
            found = deviations.fold((await work.stream(stream)).events)
            if found is None:
                raise NotFound("no deviation", [EXISTS.at("id", "unknown deviation")])
            work.record(stream, found.version, [decide(found)])
        return work.recorded[-1]

    async def close(
        self, deviation_id: UUID, reason: str, signer: Signer | None, meta: RecordMetadata
    ) -> tuple[RecordedEvent, dict[str, Any] | None]:
        """The closure and QA's signature bound to it: committed together, or neither."""
        signed = signer is not None
        async with self.writes.together() as conn:
            recorded = await self.change(
                deviation_id, lambda found: deviations.close(found, reason, signed=signed), meta, conn
            )
            return recorded, await signed_in(conn, self.writes, recorded, signer, reason, meta)
