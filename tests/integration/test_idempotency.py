"""Idempotent commands (issue 10, item 5): a committed request whose answer was lost is retried
with the same Idempotency-Key and gets the original answer, never a second effect."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
from issuance_helpers import GTIN, batch, product, serials, site
from serialtrail.services import SERVICES
from serialtrail_contracts.identity import Role
from serialtrail_contracts.serials import SerialsCommissioned
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import Harness, serve


@pytest.fixture(scope="module")
async def harness(module_database_dsn: str) -> AsyncIterator[Harness]:
    async with serve(module_database_dsn, SERVICES) as served:
        await product(served.client)
        await batch(served.client)
        await site(served.client)
        yield served


def _commissioning(values: list[str]) -> dict[str, object]:
    return {"gtin": GTIN, "serials": values, "lot": "L2026A", "line_id": "LINE-1", "event_time": moment()}


async def _commissionings(harness: Harness) -> int:
    events = await PostgresEventStore(harness.composition.app_pool, "serial_issuance").read_all(0, 1_000_000)
    return sum(1 for e in events if e.event_type == SerialsCommissioned.EVENT_TYPE)


async def test_a_retry_after_a_lost_answer_gets_the_original_answer(harness: Harness) -> None:
    body = _commissioning(await serials(harness.client, 3))
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await harness.client.post("/v1/commissioning", json=body, headers=key)  # its answer "lost"
    assert first.status_code == 201, first.text
    count = await _commissionings(harness)
    retry = await harness.client.post("/v1/commissioning", json=body, headers=key)
    assert retry.status_code == 201, retry.text
    assert retry.json() == first.json()  # the same commissioning id: one effect
    assert retry.headers["idempotent-replayed"] == "true"
    assert await _commissionings(harness) == count
    without_key = await harness.client.post("/v1/commissioning", json=body)
    assert without_key.status_code == 409  # what a retry without a key gets


async def test_the_same_key_for_another_request_is_refused(harness: Harness) -> None:
    issued = await serials(harness.client, 4)
    key = {"Idempotency-Key": "order-4711"}
    assert (
        await harness.client.post("/v1/commissioning", json=_commissioning(issued[:2]), headers=key)
    ).status_code == 201
    other = await harness.client.post("/v1/commissioning", json=_commissioning(issued[2:]), headers=key)
    assert other.status_code == 422
    assert other.json()["errors"][0]["rule"] == "idempotency-key-reuse"


async def test_the_same_json_in_another_key_order_is_the_same_request(harness: Harness) -> None:
    body = _commissioning(await serials(harness.client, 1))
    key = {"Idempotency-Key": str(uuid.uuid4()), "content-type": "application/json"}
    first = await harness.client.post("/v1/commissioning", content=orjson.dumps(body), headers=key)
    reordered = orjson.dumps(dict(reversed(list(body.items()))), option=orjson.OPT_INDENT_2)
    again = await harness.client.post("/v1/commissioning", content=reordered, headers=key)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_burst_with_one_key_has_one_effect_and_never_hangs(harness: Harness) -> None:
    """The review's burst of 20 at once with one key hung every service: each duplicate waited
    on the claim holding a connection, and the first could not get the ones it needed. Now a
    duplicate of a request still being answered gets 409 `request-in-progress` at once, and a
    later retry gets the original answer."""
    body = _commissioning(await serials(harness.client, 2))
    key = {"Idempotency-Key": str(uuid.uuid4())}
    count = await _commissionings(harness)
    burst = asyncio.gather(*(harness.client.post("/v1/commissioning", json=body, headers=key) for _ in range(30)))
    answers = await asyncio.wait_for(burst, 60)  # a hang, not a speed: the answers come in well under a second
    first = [a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers]
    assert len(first) == 1
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["errors"][0]["rule"] == "request-in-progress"
            assert answer.headers["retry-after"] == "1"
        else:
            assert (answer.status_code, answer.json()) == (201, first[0].json())
    retry = await harness.client.post("/v1/commissioning", json=body, headers=key)
    assert (retry.status_code, retry.json()) == (201, first[0].json())
    assert (await harness.client.get(f"/v1/products/{GTIN}")).status_code == 200
    assert await _commissionings(harness) == count + 1


async def test_a_key_is_the_callers_own(harness: Harness) -> None:
    """Another principal using the same key makes its own request (keys are per principal)."""
    body = _commissioning(await serials(harness.client, 1))
    key = {"Idempotency-Key": "shared-key"}
    mine = await harness.client.post("/v1/commissioning", json=body, headers=key)
    assert mine.status_code == 201
    token = await harness.token(Role.admin)
    async with harness.client_with(token) as second:
        theirs = await second.post("/v1/commissioning", json=body, headers=key)
    assert theirs.status_code == 409  # not a replay of someone else's answer: the serial is taken


async def test_a_read_your_writes_route_is_idempotent_too(harness: Harness) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"name": "integration", "role": "auditor"}
    first = await harness.client.post("/v1/api-keys", json=body, headers=key)
    assert first.status_code == 201, first.text
    retry = await harness.client.post("/v1/api-keys", json=body, headers=key)
    assert retry.json()["key_id"] == first.json()["key_id"]
