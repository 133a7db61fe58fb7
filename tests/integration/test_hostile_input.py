"""Hostile input costs little, changes nothing and is answered precisely (issue 10, item 4):
bodies are never read for a request that is refused anyway, oversized ones are refused before
they are read, what JSON lets through but no record may hold is a 422 naming field and rule,
a wrong secret never locks the right one out, and a flood of refusals cannot grow the audit
trail without bound."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from serialtrail.services import SERVICES
from serialtrail_contracts.identity import AccessRefused, Role
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.http.gate import BodyPace
from serialtrail_kit.testing.harness import Harness, make_settings, serve

GTIN = "09506000134352"
LIMIT = 64 * 1024


@dataclass
class Raw:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks_read: int = 0


async def raw_request(
    harness: Harness,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: list[bytes],
    client: str = "10.9.9.9",
    gap: float = 0.0,
    ends: bool = True,
) -> Raw:
    """The app called as a server would, counting how much of the body it asked for."""
    answer = Raw()
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        if not pending:
            await asyncio.sleep(3600)  # a client that keeps the connection open
        await asyncio.sleep(gap)  # a client that dribbles its body
        answer.chunks_read += 1
        return {"type": "http.request", "body": pending.pop(0), "more_body": bool(pending) or not ends}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": (client, 40000),
        "server": ("serialtrail.test", 80),
    }
    await asyncio.wait_for(harness.composition.app(scope, receive, send), 30)
    return answer


@pytest.fixture(scope="module")
async def harness(module_database_dsn: str) -> AsyncIterator[Harness]:
    settings = make_settings(max_request_bytes=LIMIT, refusal_window_seconds=1.0, refusal_burst=3)
    async with serve(module_database_dsn, SERVICES, settings) as served:
        yield served


async def _refusals(harness: Harness, service: str, client: str) -> list[dict[str, Any]]:
    events = await PostgresEventStore(harness.composition.app_pool, service).read_all(0, 1_000_000)
    return [
        e.payload
        for e in events
        if e.event_type == AccessRefused.EVENT_TYPE and e.metadata.get("client_address") == client
    ]


async def test_an_anonymous_body_is_never_read(harness: Harness) -> None:
    hundred_megabytes = [b"x" * (1 << 20)] * 100
    headers = {"content-type": "application/json", "content-length": str(100 << 20)}
    answer = await raw_request(harness, "POST", "/v1/commissioning", headers, hundred_megabytes)
    assert answer.status == 413  # the declared length is refused first, before credentials or body
    assert answer.chunks_read == 0
    assert answer.headers["content-type"].startswith("application/problem+json")  # was plain text
    outside_the_api = await raw_request(harness, "POST", "/health/live", headers, hundred_megabytes)
    assert (outside_the_api.status, outside_the_api.chunks_read) == (413, 0)
    assert outside_the_api.headers["content-type"].startswith("application/problem+json")
    del headers["content-length"]  # chunked: credentials come first, and are missing
    answer = await raw_request(harness, "POST", "/v1/commissioning", headers, hundred_megabytes)
    assert answer.status == 401
    assert answer.chunks_read == 0
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_a_body_that_stalls_or_dribbles_is_a_408(harness: Harness) -> None:
    token = await harness.token(Role.admin)
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    app_state = harness.composition.app.state
    normal_pace, app_state.body_pace = app_state.body_pace, BodyPace(idle_seconds=0.5, whole_seconds=2.0)
    try:
        stalled = await raw_request(harness, "POST", "/v1/commissioning", headers, [b'{"gtin": '], ends=False)
        dribbled = await raw_request(harness, "POST", "/v1/commissioning", headers, [b" "] * 40, gap=0.1)
        on_time = await raw_request(harness, "POST", "/v1/commissioning", headers, [b"{", b"}"], gap=0.1)
    finally:
        app_state.body_pace = normal_pace
    assert stalled.status == 408
    assert b"no body data for 0.5s" in stalled.body
    assert b"request-timeout" in stalled.body
    assert dribbled.status == 408
    assert b"took more than 2s" in dribbled.body
    assert dribbled.chunks_read < 40  # it stopped reading at the deadline
    assert on_time.status == 422  # read in full, then judged by the route's schema


async def test_an_oversized_body_is_refused_as_soon_as_it_is_too_large(harness: Harness) -> None:
    token = await harness.token(Role.admin)
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    answer = await raw_request(harness, "POST", "/v1/commissioning", headers, [b"x" * 16 * 1024] * 100)
    assert answer.status == 413
    assert b"too-large" in answer.body
    assert answer.chunks_read == LIMIT // (16 * 1024) + 1  # it stopped reading right after the limit


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (b'{"gtin": "09506000134352", "gtin": "x", "lot": "L"}', "body.gtin", "unique-key"),
        (b'{"gtin": "09506000134352", "lot": "L\\u0000", "serials": ["A"]}', "body.lot", "no-nul"),
        (b'{"gtin": "09506000134352", "lot": "L", "serials": ["\\ud83d"]}', "body.serials[0]", "utf-8"),
        (b'{"gtin": "09506000134352", "quantity": 123456789012345678901234567890}', "body", "int64"),
        (b'{"gtin": "\xff\xfe"}', "body", "utf-8"),
        (b"[" * 50_000, "body", "max-depth"),
        ('{"gtin": "09506000134352", "lot": "L\\u0000"}'.encode("utf-16"), "body", "utf-8"),
        ('{"gtin": "09506000134352", "lot": "\\ud800"}'.encode("utf-32-le"), "body", "utf-8"),
        (b'{"gtin": "09506000134352", "quantity": ' + b"9" * 5000 + b"}", "body", "int64"),
    ],
    ids=[
        "duplicate key",
        "NUL",
        "lone surrogate",
        "huge integer",
        "invalid UTF-8",
        "deep nesting",
        "UTF-16 with a NUL",
        "UTF-32 with a surrogate",
        "5000 digits",
    ],
)
async def test_what_no_record_may_hold_is_a_422_naming_field_and_rule(
    harness: Harness, body: bytes, field: str, rule: str
) -> None:
    before = len(await PostgresEventStore(harness.composition.app_pool, "serial_issuance").read_all(0, 1_000_000))
    response = await harness.client.post(
        "/v1/commissioning", content=body, headers={"content-type": "application/json", "x-request-id": "probe-1"}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["errors"][0]["field"], problem["errors"][0]["rule"]) == (field, rule)
    assert problem["request_id"] == response.headers["x-request-id"] == "probe-1"
    after = len(await PostgresEventStore(harness.composition.app_pool, "serial_issuance").read_all(0, 1_000_000))
    assert after == before


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),  # curl -d without a content type
        (None, 415),
        ("application/xml; charset=utf-8", 415),
        ("application/json; charset=utf-8", 422),  # JSON: on to the route's rules
        ("application/merge-patch+json", 422),
    ],
)
async def test_a_body_that_is_not_json_is_a_415_naming_the_type(
    harness: Harness, content_type: str | None, expected: int
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await harness.client.post("/v1/products", content=b'{"gtin": "1"}', headers=headers)
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if expected == 415:
        (error,) = response.json()["errors"]
        assert (error["field"], error["rule"]) == ("content-type", "media-type")
        assert (content_type or "of no declared type").partition(";")[0] in error["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/serials/09506000134352/AB%00CD",
        "/v1/batches/09506000134352/L1/aggregation-report?limit=%C2%B2",
        "/v1/batches/09506000134352/L1/aggregation-report?limit=" + "9" * 5000,
        "/v1/hierarchy/%D9%A0%D9%A9%D9%A5%D9%A0%D9%A6%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A5",
    ],
    ids=["NUL in the path", "superscript digit", "5000 digits", "Arabic-Indic digits"],
)
async def test_odd_paths_and_queries_are_answered_never_a_500(harness: Harness, path: str) -> None:
    """What the review found giving 500s: a NUL in a serial, int('²'), int() past 4,300 digits."""
    response = await harness.client.get(path)
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", ["/v1/hierarchy/00%0A106141412345678908", "/v1/hierarchy/%09x", "/v1/ancestors/a%7Fb"])
async def test_a_control_character_in_the_path_is_a_422_naming_the_rule(harness: Harness, path: str) -> None:
    """The fuzzer's find: routes do not match a path with a line break, which answered a bare
    404 as if the operation did not exist; it is refused as what it is."""
    response = await harness.client.get(path)
    assert response.status_code == 422, response.text
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("path", "no-control-character")]


async def test_error_answers_keep_their_headers_and_carry_a_request_id(harness: Harness) -> None:
    wrong_method = await harness.client.delete(f"/v1/products/{GTIN}")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"]
    both = await harness.client.delete("/v1/api-keys")  # a path served by a GET route and a POST route
    assert (both.status_code, both.headers["allow"]) == (405, "GET, POST")
    assert wrong_method.json()["request_id"] == wrong_method.headers["x-request-id"]
    async with harness.client_with(None) as anonymous:
        refused = await anonymous.get(f"/v1/products/{GTIN}", headers={"x-request-id": "bad id with spaces"})
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.headers["x-request-id"] != "bad id with spaces"  # not echoed: a fresh one


async def test_a_wrong_secret_never_locks_the_right_one_out(harness: Harness) -> None:
    key_id, token = await harness.issue_key(name="victim", role=Role.auditor)
    async with harness.client_with(token) as owner:
        assert (await owner.get("/v1/access-audit")).status_code == 200
    forged = token[:-6] + ("A" * 6 if not token.endswith("AAAAAA") else "B" * 6)
    async with harness.client_with(forged) as attacker:
        answers = [(await attacker.get("/v1/access-audit")).status_code for _ in range(15)]
    assert answers[:10] == [401] * 10
    assert set(answers[10:]) == {429}
    async with harness.client_with(token) as owner:
        assert (await owner.get("/v1/access-audit")).status_code == 200
    assert key_id in token


async def test_a_flood_of_refusals_adds_a_bounded_number_of_records(harness: Harness) -> None:
    flood = 300
    for _ in range(flood):
        answer = await raw_request(harness, "GET", "/v1/api-keys", {}, [], client="10.7.7.7")
        assert answer.status == 401
    await asyncio.sleep(1.5)  # the window closes: its summary is recorded
    recorded = await _refusals(harness, "identity", "10.7.7.7")
    burst = harness.settings.refusal_burst
    assert len(recorded) == burst + 1
    summary = recorded[-1]
    assert summary["count"] == flood - burst
    assert "10.7.7.7" in summary["reason"]
