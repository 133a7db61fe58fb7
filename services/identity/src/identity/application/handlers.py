"""Issuing and revoking API keys through the write model."""

from __future__ import annotations

from datetime import UTC, datetime

from serialtrail_contracts.identity import ApiKeyCreated, ApiKeyRevoked, Role
from serialtrail_kit.access import tokens
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.writes.model import WriteModel

from identity.domain import keys


class IdentityHandlers:
    def __init__(self, writes: WriteModel) -> None:
        self.writes = writes

    async def issue_key(
        self,
        *,
        name: str,
        role: Role,
        scope: dict[str, list[str] | None] | None,
        expires_at: datetime | None,
        meta: RecordMetadata,
        principal_id: str | None = None,
    ) -> tuple[ApiKeyCreated, str]:
        """The key as recorded, and its token: shown once, never stored (only its hash is)."""
        issued = tokens.issue()
        created = keys.create(
            key_id=issued.key_id,
            secret_hash=issued.secret_hash,
            name=name,
            role=role,
            scope=keys.scope_for(role, scope),
            expires_at=keys.future_expiry(expires_at, datetime.now(UTC)),
            principal_id=principal_id,
        )
        async with self.writes.unit(meta) as work:
            work.record(keys.stream_id(created.key_id), 0, [created])
        return created, issued.token

    async def revoke_key(self, key_id: str, reason: str, meta: RecordMetadata) -> ApiKeyRevoked:
        async with self.writes.unit(meta) as work:
            history = await work.stream(keys.stream_id(key_id))
            revoked = keys.revoke(history.events, key_id, reason)
            work.record(history.id, history.version, [revoked])
        return revoked
