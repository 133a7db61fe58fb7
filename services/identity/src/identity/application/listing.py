"""The keys as the identity log holds them, folded directly (for the command line, which may
run before any read model exists)."""

from __future__ import annotations

from dataclasses import replace

from serialtrail_contracts import identity
from serialtrail_contracts.identity import ApiKeyCreated, ApiKeyRevoked
from serialtrail_kit.access.principals import ApiKey
from serialtrail_kit.eventstore import codec
from serialtrail_kit.eventstore.postgres import PostgresEventStore

BATCH = 5000


async def keys_in_log(log: PostgresEventStore) -> list[ApiKey]:
    found: dict[str, ApiKey] = {}
    position = 0
    while batch := await log.read_all(position, BATCH):
        for recorded in batch:
            event = codec.decode(identity.EVENTS, recorded)
            if isinstance(event, ApiKeyCreated):
                found[event.key_id] = ApiKey.created(event, recorded.recorded_at)
            elif isinstance(event, ApiKeyRevoked) and event.key_id in found:
                key = found[event.key_id]
                found[event.key_id] = replace(key, revoked_at=key.revoked_at or recorded.recorded_at)
        position = batch[-1].global_position
    return list(found.values())
