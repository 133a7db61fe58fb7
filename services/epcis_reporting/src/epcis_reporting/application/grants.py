"""Granting and revoking a partner's reads of a batch: load the grant's stream, decide, append."""

from __future__ import annotations

from typing import Any

from serialtrail_contracts.epcis import PartnerGranted, PartnerGrantRevoked
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.writes.model import WriteModel

from epcis_reporting.domain import grants


class GrantHandlers:
    def __init__(self, writes: WriteModel) -> None:
        self.writes = writes

    async def grant(self, proposed: PartnerGranted, meta: RecordMetadata) -> bool:
        """Whether the grant is new (False: it was in force already; nothing recorded)."""
        return await self._decide(proposed, meta, grants.grant)

    async def revoke(self, proposed: PartnerGrantRevoked, meta: RecordMetadata) -> None:
        await self._decide(proposed, meta, grants.revoke)

    async def _decide(self, proposed: PartnerGranted | PartnerGrantRevoked, meta: RecordMetadata, decide: Any) -> bool:
        stream_id = grants.stream_id(proposed.partner_gln, proposed.gtin, proposed.lot)
        async with self.writes.unit(meta) as work:
            stream = await work.stream(stream_id)
            decided = decide(stream.events, proposed)
            if decided:
                work.record(stream_id, stream.version, decided)
        return bool(decided)
