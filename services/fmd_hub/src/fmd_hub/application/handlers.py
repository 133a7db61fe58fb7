"""Command handlers: check what the request names against what serial issuance and line
exceptions published, then in a unit of work (the log's append lock held) load what the
decision needs from the write side, let the domain decide and record. The hub is called later,
by the outbound worker, for what was recorded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from serialtrail_contracts.fmd import MasterDataVersioned
from serialtrail_kit.db import Pool
from serialtrail_kit.errors import Conflict, InvalidInput, Violation
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.writes.model import WriteModel

from fmd_hub.application import write_side
from fmd_hub.domain import master_data, uploads
from fmd_hub.domain.master_data import MasterData
from fmd_hub.domain.rules import MASTER_DATA_FIRST
from fmd_hub.domain.uploads import Batch, Known, Plan
from fmd_hub.projections import knowledge, taken_out
from fmd_hub.projections.knowledge import Product


@dataclass(frozen=True)
class Versioned:
    version: MasterDataVersioned
    changed: bool


class HubHandlers:
    def __init__(self, writes: WriteModel, pool: Pool, chunk_size: int) -> None:
        self.writes = writes
        self.pool = pool
        self.chunk_size = chunk_size

    async def submit_master_data(self, product: Product, submitted: MasterData, meta: RecordMetadata) -> Versioned:
        """A new version of the product's master data, or the latest when nothing changed."""
        _refuse(master_data.market_violations(submitted.markets, product.target_markets), InvalidInput)
        async with self.writes.unit(meta) as work:
            latest = await write_side.latest_master_data(work.conn, work.schema, product.gtin)
            new = master_data.next_version(submitted, latest[0] if latest else None)
            if new is None:
                assert latest is not None
                return Versioned(latest[0], changed=False)
            work.record(master_data.stream_id(product.gtin), new.version - 1, [new])
        return Versioned(new, changed=True)

    async def upload(self, batch: Batch, meta: RecordMetadata) -> Plan:
        """Plan the batch's serials not uploaded before for the hub, under the master data
        version the hub acknowledged last; the outbound worker sends the chunks."""
        _refuse(uploads.check(batch, datetime.now(UTC).date()), InvalidInput)
        async with self.pool.acquire() as conn:
            commissioned = await knowledge.commissioned(conn, batch.gtin, batch.lot)
            states = await taken_out.states_of(conn, batch.gtin, batch.lot)
        async with self.writes.unit(meta) as work:
            version = await write_side.acknowledged_master_data(work.conn, work.schema, batch.gtin)
            if version is None:
                message = f"the hub has not acknowledged master data of {batch.gtin} yet: send it first, then upload"
                raise Conflict(message, [MASTER_DATA_FIRST.at("gtin", message)])
            before = await write_side.planned_serials(work.conn, work.schema, batch.gtin, batch.lot)
            markets = tuple(m.market for m in version.markets)
            known = Known(commissioned, before, states, version.version, markets)
            decided = uploads.plan(uuid.uuid4(), batch, known, self.chunk_size)
            if not isinstance(decided, Plan):
                _refuse(decided, Conflict if decided[0].rule == uploads.NOTHING_TO_UPLOAD.name else InvalidInput)
                raise AssertionError("refused above")
            work.record(uploads.stream_id(decided.planned.upload_id), 0, decided.events)
        return decided


def _refuse(violations: list[Violation], kind: type[InvalidInput] | type[Conflict]) -> None:
    if violations:
        raise kind(violations[0].message, violations)
