"""Every service's own read model of the API keys, folded from the identity service's events
(its log in embedded mode, its topic in distributed mode): a service authenticates without
reading another service's tables, and a revocation reaches it as fast as the events do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from serialtrail_contracts import identity
from serialtrail_contracts.identity import ApiKeyCreated, ApiKeyRevoked, Role, Scope

from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore import codec
from serialtrail_kit.eventstore.model import RecordedEvent

SOURCE = "identity"
NAME = "principals"


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    principal_id: str
    name: str
    role: Role
    scope: Scope
    secret_hash: str
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None = None

    @classmethod
    def created(cls, event: ApiKeyCreated, created_at: datetime) -> ApiKey:
        return cls(
            key_id=event.key_id,
            principal_id=event.principal_id,
            name=event.name,
            role=event.role,
            scope=Scope.from_json(event.scope),
            secret_hash=event.secret_hash,
            expires_at=event.expires_at,
            created_at=created_at,
        )

    def public(self, last_used_at: datetime | None = None) -> dict[str, Any]:
        """What may be shown: never the secret's hash."""
        return {
            "key_id": self.key_id,
            "principal_id": self.principal_id,
            "name": self.name,
            "role": self.role.value,
            "scope": self.scope.as_json(),
            "expires_at": self.expires_at,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "last_used_at": last_used_at,
        }


class PrincipalsProjection:
    name = NAME
    source = SOURCE
    tables: tuple[str, ...] = ("api_keys", "api_key_revocations")
    event_types = frozenset({ApiKeyCreated.EVENT_TYPE, ApiKeyRevoked.EVENT_TYPE})
    # Rows are only added: the application role can neither promote a key nor undo a revocation.
    append_only = True

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.api_keys (
            key_id text PRIMARY KEY, principal_id text NOT NULL, name text NOT NULL, role text NOT NULL,
            scope jsonb NOT NULL, secret_hash text NOT NULL, expires_at timestamptz,
            created_at timestamptz NOT NULL, created_position bigint NOT NULL
        );
        CREATE TABLE {schema}.api_key_revocations (key_id text PRIMARY KEY, revoked_at timestamptz NOT NULL);
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = codec.decode(identity.EVENTS, recorded)
            if isinstance(event, ApiKeyCreated):
                await conn.execute(
                    f"INSERT INTO {schema}.api_keys VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                    "ON CONFLICT (key_id) DO NOTHING",
                    event.key_id,
                    event.principal_id,
                    event.name,
                    event.role.value,
                    event.scope,
                    event.secret_hash,
                    event.expires_at,
                    recorded.recorded_at,
                    recorded.global_position,
                )
            elif isinstance(event, ApiKeyRevoked):
                await conn.execute(
                    f"INSERT INTO {schema}.api_key_revocations VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING",
                    event.key_id,
                    recorded.recorded_at,
                )


def _key(row: Any) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        principal_id=row["principal_id"],
        name=row["name"],
        role=Role(row["role"]),
        scope=Scope.from_json(row["scope"]),
        secret_hash=row["secret_hash"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


class Principals:
    """Lookups in one service's copy of the keys (its `<service>_rm.api_keys` view)."""

    def __init__(self, pool: Pool, views: str) -> None:
        self.pool = pool
        self.views = views
        self._select = (
            f"SELECT k.*, r.revoked_at FROM {views}.api_keys k LEFT JOIN {views}.api_key_revocations r USING (key_id)"
        )

    async def key(self, key_id: str) -> ApiKey | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(f"{self._select} WHERE k.key_id = $1", key_id)
        return None if row is None else _key(row)

    async def keys(self) -> list[ApiKey]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(f"{self._select} ORDER BY k.created_position")
        return [_key(r) for r in rows]
