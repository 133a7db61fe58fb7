"""Electronic signatures (21 CFR 11.50, 11.70, 11.200): the signer re-authenticates at
signing time, states the meaning, and the signature is bound to the signed record by
that record's hash-chain digest. Moving a signature to another record fails the check,
and so does any change to the signed record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from serialtrail_contracts.identity import Principal

from serialtrail_kit.db import Pool, ident
from serialtrail_kit.eventstore.hashchain import chain_hash
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.model import NewEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import COLUMNS, content_of
from serialtrail_kit.identity.store import SIGNED, IdentityStore


class Meaning(StrEnum):
    approved = "approved"
    reviewed = "reviewed"
    responsible = "responsible"
    authored = "authored"
    verified = "verified"


@dataclass(frozen=True)
class RecordRef:
    service: str
    global_position: int


@dataclass(frozen=True)
class Verification:
    valid: bool
    reason: str


async def record_digest(pool: Pool, ref: RecordRef) -> bytes | None:
    """The stored chain digest of a record, if the row exists and still matches its content."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM {ident(ref.service)}.events WHERE global_position = $1", ref.global_position
        )
    if row is None:
        return None
    stored = bytes(row["hash"])
    return stored if chain_hash(bytes(row["prev_hash"]), content_of(row)) == stored else None


async def sign(
    store: IdentityStore,
    signer: Principal,
    ref: RecordRef,
    meaning: Meaning,
    reason: str | None,
    meta: RecordMetadata,
) -> dict[str, Any]:
    digest = await record_digest(store.pool, ref)
    if digest is None:
        raise LookupError(f"no intact record at {ref.service} position {ref.global_position}")
    payload = {
        "signature_id": str(uuid.uuid4()),
        "signer_id": signer.id,
        "printed_name": signer.name,
        "signer_role": signer.role.value,
        "meaning": meaning.value,
        "reason": reason,
        "record": {"service": ref.service, "global_position": ref.global_position},
        "record_hash": digest.hex(),
    }
    event = NewEvent(event_type=SIGNED, event_version=1, payload=payload)
    stream = f"signature-{payload['signature_id']}"
    recorded = await store.log.append([StreamAppend(stream_id=stream, expected_version=0, events=(event,))], meta)
    return {**payload, "signed_at": recorded[0].recorded_at}


async def signature(store: IdentityStore, signature_id: str) -> dict[str, Any] | None:
    events = await store.log.read_stream(f"signature-{signature_id}")
    if not events:
        return None
    return {**events[0].payload, "signed_at": events[0].recorded_at}


async def verify(store: IdentityStore, signed: dict[str, Any], known_services: set[str]) -> Verification:
    record = signed["record"]
    if record["service"] not in known_services:
        return Verification(False, f"unknown service {record['service']!r}")
    digest = await record_digest(store.pool, RecordRef(record["service"], int(record["global_position"])))
    if digest is None:
        return Verification(False, "the signed record is missing or no longer matches its hash")
    if digest.hex() != signed["record_hash"]:
        return Verification(False, "the signature's hash does not match this record: it belongs to another record")
    return Verification(True, "the signature is bound to this record and the record is unchanged")
