"""Electronic signatures: re-authentication, meaning, printed name, bound to the record's hash."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from identity.bootstrap import SERVICE as IDENTITY
from serialtrail_contracts.identity import Role
from serialtrail_kit.db import connect
from serialtrail_kit.testing.harness import Harness, serve

SIGN = "/v1/audit-trail/identity/{position}/signatures"
SIGNATURE = "/v1/audit-trail/identity/signatures/{signature_id}"


@pytest.fixture
async def service(database_dsn: str) -> AsyncIterator[Harness]:
    async with serve(database_dsn, [IDENTITY]) as harness:
        # Something to sign: records in the identity log (key creations); signed in the same log.
        await harness.client.post("/v1/api-keys", json={"name": "record one", "role": "auditor"})
        await harness.client.post("/v1/api-keys", json={"name": "record two", "role": "auditor"})
        yield harness


def body(credential: str) -> dict[str, object]:
    return {"meaning": "approved", "reason": "reviewed and approved", "credential": credential}


async def test_a_signature_records_who_what_meaning_and_verifies(service: Harness) -> None:
    qa = await service.token(Role.qa)
    async with service.client_with(qa) as client:
        signed = await client.post(SIGN.format(position=2), json=body(qa))
        assert signed.status_code == 201, signed.text
        signature = signed.json()
        assert signature["printed_name"] == "test qa"
        assert signature["meaning"] == "approved"
        assert signature["signer_role"] == "qa"
        assert len(signature["record_hash"]) == 64
        checked = (await client.get(SIGNATURE.format(signature_id=signature["signature_id"]))).json()
    assert checked["verification"]["valid"] is True


async def test_signing_needs_reauthentication_by_the_signer(service: Harness) -> None:
    """A refused signature is 403 `signature-refused` naming the credential's field, in the same
    words for a made-up key and for another party's valid one (no oracle for keys), without a
    WWW-Authenticate challenge (the caller's own session is fine)."""
    qa, other = await service.token(Role.qa), await service.token(Role.qa)
    async with service.client_with(qa) as client:
        made_up = await client.post(SIGN.format(position=2), json=body("st_0000000000000000_" + "x" * 43))
        by_another = await client.post(SIGN.format(position=2), json=body(other))
        for refused in (made_up, by_another):
            assert (refused.status_code, refused.json()["type"].rsplit("/", 1)[-1]) == (403, "signature-refused")
            assert "www-authenticate" not in refused.headers
            assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
                ("body.credential", "signer-reauthenticated")
            ]
        assert made_up.json()["detail"] == by_another.json()["detail"]
    cmo = await service.token(Role.auditor)
    async with service.client_with(cmo) as client:
        assert (await client.post(SIGN.format(position=2), json=body(cmo))).status_code == 403


async def test_a_signature_moved_to_another_record_fails_verification(service: Harness, database_dsn: str) -> None:
    qa = await service.token(Role.qa)
    async with service.client_with(qa) as client:
        signature = (await client.post(SIGN.format(position=2), json=body(qa))).json()
    conn = await connect(database_dsn)
    try:  # a superuser rewrites the signature to point at record 1
        await conn.execute("ALTER TABLE identity.events DISABLE TRIGGER USER")
        await conn.execute(
            "UPDATE identity.events SET payload = jsonb_set(payload, '{record,global_position}', '1') "
            "WHERE stream_id = $1",
            f"signature-{signature['signature_id']}",
        )
    finally:
        await conn.close()
    checked = (await service.client.get(SIGNATURE.format(signature_id=signature["signature_id"]))).json()
    assert checked["record"]["global_position"] == 1
    assert checked["verification"]["valid"] is False
    assert "another record" in checked["verification"]["reason"]


async def test_a_changed_record_invalidates_its_signature(service: Harness, database_dsn: str) -> None:
    qa = await service.token(Role.qa)
    async with service.client_with(qa) as client:
        signature = (await client.post(SIGN.format(position=2), json=body(qa))).json()
    conn = await connect(database_dsn)
    try:
        await conn.execute("ALTER TABLE identity.events DISABLE TRIGGER USER")
        await conn.execute(
            "UPDATE identity.events SET payload = jsonb_set(payload, '{name}', '\"forged\"') WHERE global_position = 2"
        )
    finally:
        await conn.close()
    checked = (await service.client.get(SIGNATURE.format(signature_id=signature["signature_id"]))).json()
    assert checked["verification"]["valid"] is False
