"""The identity log (schema `identity`): API keys, refused requests and signatures are
events like any other record, hash-chained and immutable."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from serialtrail_contracts.identity import Role, Scope

from serialtrail_kit.db import APP_ROLE, Connection, Pool
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.model import NewEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore

SCHEMA = "identity"
KEY_CREATED, KEY_REVOKED = "identity.ApiKeyCreated", "identity.ApiKeyRevoked"
ACCESS_REFUSED, SIGNED = "identity.AccessRefused", "identity.RecordSigned"


async def install_write_side(conn: Connection) -> None:
    await conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {SCHEMA}.api_key_usage (key_id text PRIMARY KEY, last_used_at timestamptz NOT NULL);
        GRANT SELECT, INSERT, UPDATE ON {SCHEMA}.api_key_usage TO {APP_ROLE};
        """
    )


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

    def public(self, last_used_at: datetime | None = None) -> dict[str, Any]:
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


def _stream(key_id: str) -> str:
    return f"api-key-{key_id}"


class IdentityStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.log = PostgresEventStore(pool, SCHEMA)

    async def create_key(self, key: dict[str, Any], meta: RecordMetadata) -> None:
        event = NewEvent(event_type=KEY_CREATED, event_version=1, payload=key)
        await self.log.append(
            [StreamAppend(stream_id=_stream(key["key_id"]), expected_version=0, events=(event,))], meta
        )

    async def revoke_key(self, key_id: str, reason: str, meta: RecordMetadata) -> bool:
        version = await self.log.stream_version(_stream(key_id))
        key = await self.key(key_id)
        if key is None or key.revoked_at is not None:
            return False
        event = NewEvent(event_type=KEY_REVOKED, event_version=1, payload={"key_id": key_id, "reason": reason})
        await self.log.append(
            [StreamAppend(stream_id=_stream(key_id), expected_version=version, events=(event,))], meta
        )
        return True

    async def key(self, key_id: str) -> ApiKey | None:
        events = await self.log.read_stream(_stream(key_id))
        if not events or events[0].event_type != KEY_CREATED:
            return None
        p = events[0].payload
        revoked = next((e.recorded_at for e in events[1:] if e.event_type == KEY_REVOKED), None)
        return ApiKey(
            key_id=p["key_id"],
            principal_id=p["principal_id"],
            name=p["name"],
            role=Role(p["role"]),
            scope=Scope.from_json(p["scope"]),
            secret_hash=p["secret_hash"],
            expires_at=datetime.fromisoformat(p["expires_at"]) if p.get("expires_at") else None,
            created_at=events[0].recorded_at,
            revoked_at=revoked,
        )

    async def keys(self) -> list[ApiKey]:
        async with self.pool.acquire() as conn:
            ids = await conn.fetch(
                f"SELECT payload->>'key_id' AS key_id FROM {SCHEMA}.events "
                "WHERE event_type = $1 ORDER BY global_position",
                KEY_CREATED,
            )
        found = [await self.key(r["key_id"]) for r in ids]
        return [k for k in found if k is not None]

    async def touch(self, key_id: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"INSERT INTO {SCHEMA}.api_key_usage VALUES ($1, now()) "
                "ON CONFLICT (key_id) DO UPDATE SET last_used_at = EXCLUDED.last_used_at",
                key_id,
            )

    async def last_used(self) -> dict[str, datetime]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(f"SELECT key_id, last_used_at FROM {SCHEMA}.api_key_usage")
        return {r["key_id"]: r["last_used_at"] for r in rows}

    async def record_refusal(self, refusal: dict[str, Any], meta: RecordMetadata) -> None:
        event = NewEvent(event_type=ACCESS_REFUSED, event_version=1, payload=refusal)
        stream = f"access-refused-{uuid.uuid4()}"
        await self.log.append([StreamAppend(stream_id=stream, expected_version=0, events=(event,))], meta)

    async def refusals(self, limit: int = 200) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT global_position, payload, metadata, recorded_at FROM {SCHEMA}.events "
                "WHERE event_type = $1 ORDER BY global_position DESC LIMIT $2",
                ACCESS_REFUSED,
                limit,
            )
        return [
            {
                **r["payload"],
                "recorded_at": r["recorded_at"],
                "global_position": r["global_position"],
                "client_address": r["metadata"].get("client_address"),
                "correlation_id": r["metadata"].get("correlation_id"),
            }
            for r in rows
        ]
