"""Command handlers: check what the request names against what serial issuance and line
exceptions published, then in a unit of work (the log's append lock held) load what the
decision needs from the write side, let the domain decide and record. The hub is called later,
by the outbound worker, for what was recorded."""

from __future__ import annotations

import contextlib
import ctypes
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from serialtrail_contracts.fmd import BatchHubState, BatchStateRequested, MasterDataVersioned
from serialtrail_kit.access import signatures
from serialtrail_kit.access.signatures import Signer
from serialtrail_kit.db import Pool
from serialtrail_kit.errors import Conflict, InvalidInput, Violation
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.writes.model import WriteModel

from fmd_hub.application import write_side
from fmd_hub.domain import master_data, uploads
from fmd_hub.domain.master_data import MasterData
from fmd_hub.domain.rules import BATCH_STATE_FINAL, BATCH_UPLOADED, MASTER_DATA_FIRST, NOT_RECALLED
from fmd_hub.domain.uploads import Batch, Known, Plan
from fmd_hub.projections import knowledge
from fmd_hub.projections.knowledge import Product


@dataclass(frozen=True)
class Versioned:
    version: MasterDataVersioned
    changed: bool


Settled = Callable[[], Awaitable[None]]


async def _nothing_to_wait_for() -> None:
    return None


class HubHandlers:
    def __init__(
        self, writes: WriteModel, pool: Pool, chunk_size: int, settled: Settled = _nothing_to_wait_for
    ) -> None:
        self.writes = writes
        self.pool = pool
        self.chunk_size = chunk_size
        # What serial issuance and line exceptions published before an upload is asked for (a
        # commissioning, a reject) is seen by it: their read model and reactor caught up first.
        self.settled = settled

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
        await self.settled()
        async with self.pool.acquire() as conn:
            commissioned = await knowledge.commissioned(conn, batch.gtin, batch.lot)
        async with self.writes.unit(meta) as work:
            states = await write_side.taken_out_of(work.conn, work.schema, batch.gtin)
            recalled = await write_side.batch_state(work.conn, work.schema, batch.gtin, batch.lot)
            if recalled is not None:
                message = f"batch {batch.lot} is {recalled.lower()} at the hub: nothing more of it is uploaded"
                raise Conflict(message, [NOT_RECALLED.at("lot", message)])
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
        release_memory()
        return decided

    async def change_batch_state(
        self, batch: Batch, state: BatchHubState, reason: str, signer: Signer, meta: RecordMetadata
    ) -> tuple[RecordedEvent, dict[str, Any]] | None:
        """Recall or withdraw the batch at the hub, signed: the request and its signature commit
        together. None: the batch is in that state already (nothing recorded)."""
        async with self.writes.together() as conn:
            async with self.writes.unit(meta, conn=conn) as work:
                if not await write_side.has_upload(work.conn, work.schema, batch.gtin, batch.lot):
                    message = f"batch {batch.lot} was never uploaded to the hub"
                    raise Conflict(message, [BATCH_UPLOADED.at("lot", message)])
                current = await write_side.batch_state(work.conn, work.schema, batch.gtin, batch.lot)
                if current == state.value:
                    return None
                if current is not None:
                    message = f"batch {batch.lot} is {current.lower()} at the hub already: that cannot change"
                    raise Conflict(message, [BATCH_STATE_FINAL.at("state", message)])
                requested = BatchStateRequested(gtin=batch.gtin, lot=batch.lot, state=state, reason=reason)
                work.record(f"fmd-batch-state-{batch.gtin}-{batch.lot}", 0, [requested])
            recorded = work.recorded[-1]
            signed = await signatures.sign(
                self.writes.store, signer.principal, recorded.global_position, signer.meaning, reason, meta, conn=conn
            )
        return recorded, signed


def release_memory() -> None:
    """Give back to the system what planning a million serials freed (glibc keeps freed memory in
    its arenas otherwise, and the next upload starts from the high-water mark)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _refuse(violations: list[Violation], kind: type[InvalidInput] | type[Conflict]) -> None:
    if violations:
        raise kind(violations[0].message, violations)
