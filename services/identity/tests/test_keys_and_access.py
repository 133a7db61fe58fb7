"""Keys, authentication, refusal records, rate limiting and OIDC tokens, against the real app
with the identity service."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import jwt
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from identity.bootstrap import SERVICE as IDENTITY
from jwt.algorithms import RSAAlgorithm
from serialtrail_contracts.identity import Role, Scope
from serialtrail_kit.access import tokens
from serialtrail_kit.access.authenticate import MAX_FAILURES
from serialtrail_kit.access.oidc import JwtAuthenticator, OidcConfig
from serialtrail_kit.testing.harness import Harness, make_settings, serve
from serialtrail_kit.testing.waiting import until

ISSUER, AUDIENCE = "https://idp.test", "serialtrail"


@pytest.fixture
async def service(database_dsn: str) -> AsyncIterator[Harness]:
    async with serve(database_dsn, [IDENTITY]) as harness:
        yield harness


async def test_missing_malformed_and_unknown_credentials_are_401_with_a_challenge(service: Harness) -> None:
    cases = [None, "", "st_nothex_x", "st_0123456789abcdef_" + "A" * 43, "garbage-token"]
    for token in cases:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        async with service.client_with(None) as client:
            response = await client.get("/v1/api-keys", headers=headers)
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"].startswith('Bearer realm="serialtrail"')
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_request_with_two_credentials_is_refused_whichever_is_valid(service: Harness) -> None:
    """Not the first nor the admin's: a client adding a key to a default header acts as neither."""
    admin = service.client.headers["authorization"]
    created = await service.client.post(
        "/v1/api-keys", json={"name": "ACME", "role": "cmo", "scope": {"company_prefixes": ["9506000"]}}
    )
    cmo = created.json()["token"]
    cases = [
        [("authorization", admin), ("authorization", f"Bearer {cmo}")],
        [("authorization", f"Bearer {cmo}"), ("authorization", admin)],
        [("authorization", admin), ("x-api-key", cmo)],
        [("x-api-key", cmo), ("x-api-key", "st_bogus")],
    ]
    async with service.client_with(None) as client:
        for headers in cases:
            response = await client.get("/v1/api-keys", headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["detail"].startswith("one credential per request"), response.text
            assert 'error="invalid_request"' in response.headers["www-authenticate"]
        assert (await client.get("/v1/api-keys", headers=[("authorization", admin)])).status_code == 200


async def test_a_key_is_shown_once_stored_hashed_and_revocable(service: Harness) -> None:
    created = await service.client.post(
        "/v1/api-keys", json={"name": "ACME", "role": "cmo", "scope": {"company_prefixes": ["9506000"]}}
    )
    assert created.status_code == 201, created.text
    token, key_id = created.json()["token"], created.json()["key_id"]
    listing = (await service.client.get("/v1/api-keys")).text
    assert token not in listing
    parsed = tokens.parse(token)
    assert parsed is not None
    assert parsed[1] not in listing  # the secret (which may itself contain "_")
    assert "secret_hash" not in listing
    async with service.client_with(token) as acme:
        assert (await acme.get("/v1/api-keys")).status_code == 403  # authenticated, lacks identity:admin
        used = {k["key_id"]: k for k in (await service.client.get("/v1/api-keys")).json()}
        assert used[key_id]["last_used_at"] is not None
        revoked = await service.client.post(f"/v1/api-keys/{key_id}/revoke", json={"reason": "contract ended"})
        assert revoked.status_code == 200
        after = await acme.get("/v1/api-keys")
    assert after.status_code == 401
    assert "revoked" in after.json()["detail"]


async def test_an_expired_key_is_refused(service: Harness) -> None:
    _, token = await service.issue_key(
        name="old", role=Role.auditor, expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    async with service.client_with(token) as client:
        response = await client.get("/v1/access-audit")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_scoped_roles_need_a_scope(service: Harness) -> None:
    response = await service.client.post("/v1/api-keys", json={"name": "x", "role": "line"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "scope"


async def test_refusals_are_recorded_and_visible_to_admin_and_auditor_only(service: Harness) -> None:
    cmo = await service.token(Role.cmo, Scope(company_prefixes=frozenset({"9506000"})))
    auditor = await service.token(Role.auditor)
    async with service.client_with(cmo) as client:
        assert (await client.get("/v1/api-keys")).status_code == 403
        assert (await client.get("/v1/access-audit")).status_code == 403
    async with service.client_with(None) as client:
        assert (await client.get("/v1/access-audit")).status_code == 401
    async with service.client_with(auditor) as client:
        audit = await client.get("/v1/access-audit")
        assert audit.status_code == 200
        assert (await client.post("/v1/api-keys", json={"name": "x", "role": "admin"})).status_code == 403
    refusals = audit.json()
    reasons = [(r["status"], r["path"], r["reason"]) for r in refusals]
    assert (403, "/v1/api-keys", "role cmo lacks permission identity:admin") in reasons
    assert any(status == 401 and path == "/v1/access-audit" for status, path, _ in reasons)
    assert all(r["client_address"] for r in refusals)
    assert (await service.client.get("/v1/access-audit")).status_code == 200


async def test_repeated_failures_from_one_key_are_rate_limited(service: Harness) -> None:
    key_id, token = await service.issue_key(name="target", role=Role.auditor)
    wrong = f"st_{key_id}_" + "B" * 43
    async with service.client_with(wrong) as attacker:
        statuses = [(await attacker.get("/v1/access-audit")).status_code for _ in range(MAX_FAILURES + 2)]
        limited = await attacker.get("/v1/access-audit")
    assert statuses[:MAX_FAILURES] == [401] * MAX_FAILURES
    assert statuses[MAX_FAILURES:] == [429, 429]
    assert int(limited.headers["retry-after"]) > 0
    async with service.client_with(token) as owner:  # never verified here before, yet not locked out
        assert (await owner.get("/v1/access-audit")).status_code == 200
    async with service.client_with(wrong) as attacker:  # while the wrong secret still is
        assert (await attacker.get("/v1/access-audit")).status_code == 429


async def test_a_key_is_stored_as_the_sha256_of_its_256_bit_secret() -> None:
    """A key's secret is 256 random bits: a fast hash leaves nothing to guess, and lets the
    right secret pass at once while a flood of wrong ones is refused."""
    issued = tokens.issue()
    parsed = tokens.parse(issued.token)
    assert parsed is not None
    assert issued.secret_hash == "sha256$" + hashlib.sha256(parsed[1].encode()).hexdigest()
    assert tokens.quick_match(parsed[1], issued.secret_hash) is True
    other = parsed[1][:-1] + ("A" if parsed[1][-1] != "A" else "B")
    assert tokens.quick_match(other, issued.secret_hash) is False


def test_keys_created_with_argon2_still_verify() -> None:
    """Keys created before kept an argon2id hash: still accepted, slow the first time only."""
    legacy = PasswordHasher().hash("s" * 43)
    verifier = tokens.SecretVerifier()
    assert tokens.quick_match("s" * 43, legacy) is None
    assert verifier.known("s" * 43, legacy) is None
    assert verifier.verify("s" * 43, legacy) is True
    assert verifier.known("s" * 43, legacy) is True
    assert verifier.verify("t" * 43, legacy) is False


# --- OIDC bearer tokens, validated against a local JWKS endpoint -----------------------------------


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "test-key", "use": "sig", "alg": "RS256"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


@pytest.fixture
async def oidc_service(database_dsn: str, jwks_url: str) -> AsyncIterator[Harness]:
    settings = make_settings(oidc_jwks_url=jwks_url, oidc_issuer=ISSUER, oidc_audience=AUDIENCE)
    async with serve(database_dsn, [IDENTITY], settings) as harness:
        yield harness


def token(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": "alice",
        "name": "Alice Auditor",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "serialtrail_role": "auditor",
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "test-key"})


def unsigned(claims_token: str) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = claims_token.split(".")[1]
    return f"{header}.{payload}."


async def test_a_valid_oidc_token_maps_to_a_principal(oidc_service: Harness, signing_key: rsa.RSAPrivateKey) -> None:
    async with oidc_service.client_with(token(signing_key)) as client:
        assert (await client.get("/v1/access-audit")).status_code == 200
        assert (await client.get("/v1/api-keys")).status_code == 403  # an auditor changes nothing


async def test_failures_from_an_address_do_not_lock_out_a_valid_oidc_token(
    oidc_service: Harness, signing_key: rsa.RSAPrivateKey
) -> None:
    """Outside review: bad tokens from one address (a shared NAT) locked out every valid token from
    it. A valid one signed by a key already fetched passes; a bad one, or one naming a key not
    fetched (which would make the server fetch), is still refused 429."""
    good, bad = token(signing_key), token(signing_key, aud="someone-else")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unknown_key = jwt.encode(jwt.decode(good, options={"verify_signature": False}), stranger, "RS256", {"kid": "new"})
    async with oidc_service.client_with(good) as client:
        assert (await client.get("/v1/access-audit")).status_code == 200  # the key list is fetched
    async with oidc_service.client_with(bad) as client:
        statuses = [(await client.get("/v1/access-audit")).status_code for _ in range(MAX_FAILURES + 1)]
    assert statuses == [401] * MAX_FAILURES + [429]
    for refused in (bad, unknown_key):
        async with oidc_service.client_with(refused) as client:
            assert (await client.get("/v1/access-audit")).status_code == 429
    async with oidc_service.client_with(good) as client:
        assert (await client.get("/v1/access-audit")).status_code == 200


async def test_a_key_once_fetched_stays_known_after_the_key_list_cache_expires(
    jwks_url: str, signing_key: rsa.RSAPrivateKey
) -> None:
    """Re-test: the exemption above lapsed 5 minutes after the key list was fetched (PyJWT's copy
    of the whole list expires; the signing key itself stays cached, so checking needs no fetch)."""
    verifier = JwtAuthenticator(OidcConfig(jwks_url, ISSUER, AUDIENCE))
    good = token(signing_key)
    assert not verifier.names_a_known_key(good)  # nothing fetched yet: checking it would fetch
    await verifier.authenticate(good)
    assert verifier._jwks.jwk_set_cache is not None
    verifier._jwks.jwk_set_cache.put(None)  # as when its lifespan is over
    assert verifier.names_a_known_key(good)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not verifier.names_a_known_key(jwt.encode({"sub": "x"}, stranger, "RS256", {"kid": "new"}))


async def test_bad_oidc_tokens_are_refused(oidc_service: Harness, signing_key: rsa.RSAPrivateKey) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = token(signing_key)
    header, _payload, signature = good.split(".")
    forged_payload = (
        base64.urlsafe_b64encode(
            json.dumps({**jwt.decode(good, options={"verify_signature": False}), "serialtrail_role": "admin"}).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    cases = {
        "expired": token(signing_key, exp=int(time.time()) - 10),
        "wrong audience": token(signing_key, aud="someone-else"),
        "wrong issuer": token(signing_key, iss="https://evil.test"),
        "tampered": f"{header}.{forged_payload}.{signature}",
        "alg none": unsigned(good),
        "foreign signer": token(other_key),
        "unknown role": token(signing_key, serialtrail_role="superuser"),
        "exp as a string": token(signing_key, exp=str(int(time.time()) + 300)),
        "empty subject": token(signing_key, sub=""),
        "ES256 naming an RSA key": jwt.encode(
            jwt.decode(good, options={"verify_signature": False}),
            ec.generate_private_key(ec.SECP256R1()),
            algorithm="ES256",
            headers={"kid": "test-key"},
        ),
    }
    for case, bad in cases.items():
        async with oidc_service.client_with(bad) as client:
            response = await client.get("/v1/access-audit")
        assert response.status_code == 401, case
        assert 'error="invalid_token"' in response.headers["www-authenticate"], case


async def test_the_keys_copy_cannot_be_changed_by_the_application_role(service: Harness) -> None:
    """Every service authenticates against its own copy of the keys: the application role may
    only add to it (new keys, revocations), never promote a key or undo a revocation."""
    created = (await service.client.post("/v1/api-keys", json={"name": "x", "role": "auditor"})).json()
    await service.client.post(f"/v1/api-keys/{created['key_id']}/revoke", json={"reason": "gone"})
    async with service.composition.app_pool.acquire() as conn:
        schema = await conn.fetchval("SELECT active_schema FROM identity.projections WHERE name = 'principals'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"UPDATE {schema}.api_keys SET role = 'admin'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"DELETE FROM {schema}.api_key_revocations")


async def test_the_audit_trail_never_shows_a_secret_hash_and_positions_stay_in_range(service: Harness) -> None:
    await service.client.post("/v1/api-keys", json={"name": "x", "role": "auditor"})
    trail = (await service.client.get("/v1/audit-trail/identity")).json()
    created = [e for e in trail["events"] if e["event_type"] == "identity.ApiKeyCreated"]
    assert created
    assert {e["payload"]["secret_hash"] for e in created} == {"(redacted)"}
    too_far = 2**63
    assert (await service.client.get(f"/v1/audit-trail/identity?after={too_far}")).status_code == 422
    body = {"meaning": "approved", "credential": "x"}
    assert (await service.client.post(f"/v1/audit-trail/identity/{too_far}/signatures", json=body)).status_code == 422


@pytest.mark.parametrize(
    "claim",
    ["9506000", ["9506000"], {}, {"company_prefixes": []}, {"gtins": ["09506000134352"]}, {"lines": ["L1"]}],
    ids=["string", "list", "empty object", "empty prefixes", "no prefix", "line only"],
)
async def test_a_malformed_or_empty_scope_claim_is_refused_not_widened(
    oidc_service: Harness, signing_key: rsa.RSAPrivateKey, claim: Any
) -> None:
    bad = token(signing_key, serialtrail_role="line", serialtrail_scope=claim)
    async with oidc_service.client_with(bad) as client:
        response = await client.get("/v1/access-audit")
    assert response.status_code == 401, response.text
    assert "serialtrail_scope" in response.json()["detail"]


async def test_a_well_formed_scope_claim_narrows_the_principal(
    oidc_service: Harness, signing_key: rsa.RSAPrivateKey
) -> None:
    narrowed = token(signing_key, serialtrail_scope={"company_prefixes": ["9506000"]})
    async with oidc_service.client_with(narrowed) as client:
        # A narrowed auditor may not read what concerns every party.
        response = await client.get("/v1/access-audit")
    assert response.status_code == 403
    assert "lacks scope over every access-audit" in response.json()["detail"]


@pytest.mark.parametrize(
    ("scope", "field", "rule"),
    [
        ({}, "scope.company_prefixes", "required-for-role"),
        ({"gtins": ["09506000134352"]}, "scope.company_prefixes", "required-for-role"),
        ({"company_prefixes": []}, "scope.company_prefixes", "non-empty"),
        ({"company_prefixes": ["95O6000"]}, "scope.company_prefixes", "format"),
        ({"company_prefixes": ["9506000"], "gtins": ["04000001000005"]}, "scope.gtins", "within-company-prefixes"),
        ({"company_prefixes": ["9506000"], "lines": [""]}, "body.scope.lines.0", "string_too_short"),
        ({"company_prefixes": ["9506000"], "gtins": ["09506000134353"]}, "scope.gtins", "check-digit"),
        ({"company_prefixes": ["9506000"], "sites": ["9506000000009"]}, "scope.sites", "check-digit"),
        ({"company_prefixes": ["9506000\n"]}, "scope.company_prefixes", "format"),  # `$` before a final newline
        ({"company_prefixes": ["9506000"], "cmos": ["ACME\n"]}, "scope.cmos", "format"),
        ({"company_prefixes": ["9506000"], "lines": ["LINE-1\n"]}, "scope.lines", "format"),
    ],
)
async def test_an_api_key_scope_is_checked_strictly(service: Harness, scope: Any, field: str, rule: str) -> None:
    response = await service.client.post("/v1/api-keys", json={"name": "x", "role": "line", "scope": scope})
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert (error["field"], error["rule"]) == (field, rule)


async def test_a_slow_identity_provider_never_delays_api_keys(
    database_dsn: str, signing_key: rsa.RSAPrivateKey
) -> None:
    """The review: tokens naming unknown keys made the server fetch a slow JWKS on the threads
    API keys are verified on, and an API-key request took 20 s. Key fetches have their own."""
    release = threading.Event()
    asked: list[str] = []

    class SlowJwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            release.wait(30)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"keys": []}')

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowJwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    settings = make_settings(oidc_jwks_url=url, oidc_issuer=ISSUER, oidc_audience=AUDIENCE)
    try:
        async with serve(database_dsn, [IDENTITY], settings) as harness:
            _, api_key = await harness.issue_key(name="never verified yet", role=Role.auditor)
            unknown_kid = [
                jwt.encode({"sub": f"u{i}"}, signing_key, algorithm="RS256", headers={"kid": f"k{i}"})
                for i in range(12)
            ]
            stuck = [asyncio.create_task(_get_with(harness, token)) for token in unknown_kid]
            await until(lambda: len(asked) >= 1)  # key-list fetches wait on the provider now (one at a time)
            assert await _get_with(harness, api_key) == 200
            assert not any(task.done() for task in stuck)  # answered while the provider still hangs
            release.set()
            assert set(await asyncio.gather(*stuck)) == {401}
    finally:
        release.set()
        server.shutdown()
        server.server_close()


async def _get_with(harness: Harness, token: str) -> int:
    async with harness.client_with(token) as client:
        return (await client.get("/v1/access-audit")).status_code


async def test_an_expiry_written_as_a_number_or_without_offset_is_refused(service: Harness) -> None:
    """Fuzzing found `expires_at: 0` accepted as 1970-01-01 (a key born expired, recorded)."""
    for value in (0, "2027-01-01T00:00:00", "1893456000", "2027-01-01"):
        body = {"name": "x", "role": "auditor", "expires_at": value}
        answer = await service.client.post("/v1/api-keys", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == "body.expires_at"
    past = {"name": "x", "role": "auditor", "expires_at": "2020-01-01T00:00:00Z"}
    answer = await service.client.post("/v1/api-keys", json=past)
    assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("expires_at", "in-future")]
