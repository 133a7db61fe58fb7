"""Electronic signatures (21 CFR 11.50, 11.70, 11.200): the signer re-authenticates at
signing time, states the meaning, and the signature is bound to the signed record by that
record's hash-chain digest. The signature is recorded in the same log as the record it
signs (the service that owns the record signs it: no service reads another's log). Moving
a signature to another record fails the check, and so does any change to the record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from serialtrail_contracts.identity import Principal, RecordedRef, RecordSigned

from serialtrail_kit.db import Connection
from serialtrail_kit.eventstore.codec import append_of
from serialtrail_kit.eventstore.hashchain import chain_hash
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.postgres import COLUMNS, PostgresEventStore, content_of


class Meaning(StrEnum):
    approved = "approved"
    reviewed = "reviewed"
    responsible = "responsible"
    authored = "authored"
    verified = "verified"


@dataclass(frozen=True)
class Signer:
    """Who signs, re-authenticated at signing time, and what the signature means."""

    principal: Principal
    meaning: Meaning


@dataclass(frozen=True)
class Verification:
    valid: bool
    reason: str


def _stream(signature_id: str) -> str:
    return f"signature-{signature_id}"


async def record_digest(log: PostgresEventStore, global_position: int, conn: Connection | None = None) -> bytes | None:
    """The stored chain digest of a record, if the row exists and still matches its content."""
    sql = f"SELECT {COLUMNS} FROM {log.schema}.events WHERE global_position = $1"
    if conn is None:
        async with log.pool.acquire() as own:
            row = await own.fetchrow(sql, global_position)
    else:
        row = await conn.fetchrow(sql, global_position)
    if row is None:
        return None
    stored = bytes(row["hash"])
    return stored if chain_hash(bytes(row["prev_hash"]), content_of(row)) == stored else None


async def sign(
    log: PostgresEventStore,
    signer: Principal,
    global_position: int,
    meaning: Meaning,
    reason: str | None,
    meta: RecordMetadata,
    *,
    conn: Connection | None = None,
) -> dict[str, Any]:
    """Sign the record at `global_position`; on `conn`, inside the caller's transaction (a record
    and its signature committed together, or neither)."""
    digest = await record_digest(log, global_position, conn)
    if digest is None:
        raise LookupError(f"no intact record at {log.schema} position {global_position}")
    signed = RecordSigned(
        signature_id=str(uuid.uuid4()),
        signer_id=signer.id,
        printed_name=signer.name,
        signer_role=signer.role.value,
        meaning=meaning.value,
        reason=reason,
        record=RecordedRef(service=log.schema, global_position=global_position),
        record_hash=digest.hex(),
    )
    appended = [append_of(_stream(signed.signature_id), 0, [signed])]
    if conn is None:
        recorded = await log.append(appended, meta)
    else:
        async with log.locked_on(conn) as locked:
            recorded = await locked.append(appended, meta)
    return {**signed.payload(), "signed_at": recorded[0].recorded_at}


async def signature(log: PostgresEventStore, signature_id: str) -> dict[str, Any] | None:
    events = await log.read_stream(_stream(signature_id))
    if not events or events[0].event_type != RecordSigned.EVENT_TYPE:
        return None
    return {**events[0].payload, "signed_at": events[0].recorded_at}


async def verify(log: PostgresEventStore, signed: dict[str, Any]) -> Verification:
    digest = await record_digest(log, int(signed["record"]["global_position"]))
    if digest is None:
        return Verification(False, "the signed record is missing or no longer matches its hash")
    if digest.hex() != signed["record_hash"]:
        return Verification(False, "the signature's hash does not match this record: it belongs to another record")
    return Verification(True, "the signature is bound to this record and the record is unchanged")
