"""Query subscriptions by webhook (EPCIS 2.0 REST binding): a named query's new results POSTed to
the subscriber's endpoint (a real HTTP server here, keeping the receiver's rule: an
Idempotency-Key on every request, a key processed once), signed with its signatureToken,
retried until accepted; as they settle (stream) or on a schedule."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from epcis_reporting import bootstrap
from epcis_reporting.application.subscribers import only_in_force
from epcis_reporting.application.webhooks import check_destination, only_public
from epcis_reporting.domain.subscriptions import MOST_PER_SUBSCRIBER, next_run
from epcis_reporting.settings import EpcisSettings
from serialtrail_contracts.epcis import Schedule
from serialtrail_contracts.identity import Role
from serialtrail_kit.errors import InvalidInput
from serialtrail_kit.outbound import Delivered, Permanent
from serialtrail_kit.outbound.jobs import Attempt
from serialtrail_kit.testing.harness import Harness, serve
from serialtrail_kit.testing.outbound import fast_settings
from serialtrail_kit.testing.remote import Answer, RemoteEndpoint, remote_endpoint
from serialtrail_kit.testing.waiting import until
from test_query import GTIN_OWN, capture, event, unit, validator

__all__ = ["validator"]
TOKEN = "13df38d8275b13f05704629e5f1cf3d45d6132d5"
TIME = "2026-11-30T09:15:00+01:00"


@pytest.fixture
async def endpoint() -> AsyncIterator[RemoteEndpoint]:
    async with remote_endpoint(script=[Answer(503)]) as served:  # the first delivery fails once
        yield served


@pytest.fixture
async def harness(database_dsn: str) -> AsyncIterator[Harness]:
    own = EpcisSettings(
        route_to=(),
        webhooks_allow_private=True,
        # Fast retries, but time enough to answer on a busy machine (a timeout would be a second attempt).
        subscriptions=fast_settings(timeout_seconds=5.0, lease_seconds=10.0),
        notify_every_seconds=0.05,
    )
    async with serve(database_dsn, [bootstrap.SERVICE], own_settings={"epcis_reporting": own}) as served:
        yield served


async def _query(harness: Harness, **query: Any) -> str:
    name = f"q-{uuid.uuid4().hex[:10]}"
    defined = await harness.client.post("/v1/epcis/queries", json={"name": name, "query": query})
    assert defined.status_code == 201, defined.text
    return name


def _events(received: Any) -> list[Any]:
    found: list[Any] = received.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return found


async def test_a_stream_is_told_what_settles_signed_and_once(
    harness: Harness, endpoint: RemoteEndpoint, validator: Any
) -> None:
    client, tag = harness.client, uuid.uuid4().hex[:10].upper()
    name = await _query(harness, EQ_bizStep=["shipping"])
    body = {"dest": f"{endpoint.url}/hook", "signatureToken": TOKEN, "stream": True}
    subscribed = await client.post(f"/v1/epcis/queries/{name}/subscriptions", json=body)
    assert subscribed.status_code == 201, subscribed.text
    subscription = subscribed.json()
    assert "signatureToken" not in subscription
    assert subscribed.headers["location"].endswith(subscription["subscriptionID"])

    first, other, second = (unit(GTIN_OWN, f"{tag}{n}") for n in (1, 2, 3))
    await capture(client, event([first], "shipping", TIME), event([other], "receiving", TIME))
    await until(lambda: len(endpoint.accepted) == 1, timeout=20)
    await capture(client, event([second], "shipping", TIME))
    await until(lambda: len(endpoint.accepted) == 2, timeout=20)

    told = [r for r in endpoint.received if r.body is not None]
    deliveries = {r.key: r for r in told}  # the failed attempt and its repeat share their key
    assert len(deliveries) == 2
    assert len(told) == 3  # the first delivery was answered 503 once, then sent again
    for received in deliveries.values():
        assert list(validator.iter_errors(received.body)) == []
        expected = "sha256=" + hmac.new(TOKEN.encode(), received.raw, hashlib.sha256).hexdigest()
        assert received.headers["gs1-signature"] == expected
        results = received.body["epcisBody"]["queryResults"]
        assert (results["queryName"], results["subscriptionID"]) == (name, subscription["subscriptionID"])
    assert [[e["epcList"] for e in _events(r)] for r in deliveries.values()] == [[[first]], [[second]]]

    read = (await client.get(subscribed.headers["location"])).json()
    assert read["lastNotifiedAt"] is not None
    listed = (await client.get(f"/v1/epcis/queries/{name}/subscriptions")).json()
    assert [s["subscriptionID"] for s in listed] == [subscription["subscriptionID"]]
    logged = await harness.composition.admin_pool.fetch(
        "SELECT payload::text AS payload FROM epcis_reporting.events WHERE event_type = 'epcis.SubscriptionCreated'"
    )
    assert logged
    assert all(TOKEN not in row["payload"] for row in logged)  # sealed, never in clear on the log
    # A receipt is recorded once the webhook's answer is back: just after it counted the acceptance.
    await until(lambda: _receipts_number(harness, 2), timeout=20)
    assert await _receipts(harness) == [1, 2]  # attempts: the first delivery was answered 503 once

    assert (await client.delete(subscribed.headers["location"])).status_code == 204
    assert (await client.get(subscribed.headers["location"])).status_code == 404
    await capture(client, event([unit(GTIN_OWN, f"{tag}4")], "shipping", TIME))
    await harness.runner("epcis_reporting", "repository").caught_up(timeout=10)
    await bootstrap_notifier(harness).run_once(datetime.now(UTC))
    assert len(endpoint.accepted) == 2  # unsubscribed: told nothing more


async def _receipts(harness: Harness) -> list[int]:
    """The attempts each recorded receipt (epcis.SubscriptionDelivered) took."""
    rows = await harness.composition.admin_pool.fetch(
        "SELECT payload FROM epcis_reporting.events WHERE event_type = 'epcis.SubscriptionDelivered'"
    )
    return sorted(row["payload"]["attempts"] for row in rows)


async def _receipts_number(harness: Harness, count: int) -> bool:
    return len(await _receipts(harness)) == count


def bootstrap_notifier(harness: Harness) -> Any:
    (module,) = [m for m in harness.composition.modules if m.name == "epcis_reporting"]
    return module.workers["notifier"]


async def test_a_schedule_reports_even_when_empty_if_asked(harness: Harness, endpoint: RemoteEndpoint) -> None:
    name = await _query(harness, EQ_bizStep=["shipping"], MATCH_epc=[unit(GTIN_OWN, "NEVERCAPTURED")])
    body = {"dest": f"{endpoint.url}/hook", "schedule": {"second": "[0-59]"}, "reportIfEmpty": True}
    subscribed = await harness.client.post(f"/v1/epcis/queries/{name}/subscriptions", json=body)
    assert subscribed.status_code == 201, subscribed.text
    assert subscribed.json()["schedule"] == {"second": "[0-59]"}
    await until(lambda: len(endpoint.accepted) >= 2, timeout=20)
    assert all(_events(r) == [] for r in endpoint.received if r.body is not None)
    assert all("gs1-signature" not in r.headers for r in endpoint.received)  # no token: unsigned


async def test_a_subscription_is_refused_naming_what_is_wrong(harness: Harness) -> None:
    name = await _query(harness, EQ_bizStep=["shipping"])
    url = f"/v1/epcis/queries/{name}/subscriptions"
    dest = {"dest": "https://client.example.com/cb"}
    for body, field, rule in (
        ({}, "stream", "stream-or-schedule"),
        ({"stream": True, "schedule": {"hour": "1"}}, "stream", "stream-or-schedule"),
        ({"schedule": {"hour": "25"}}, "schedule.hour", "schedule"),
        ({"schedule": {"dayOfMonth": "31", "month": "2"}}, "schedule", "schedule"),
        ({"dest": "ftp://client.example.com/cb", "stream": True}, "dest", "webhook-destination"),
    ):
        refused = await harness.client.post(url, json=dest | body)
        assert refused.status_code == 422, refused.text
        assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [(field, rule)]
    assert (await harness.client.get(url)).json() == []
    unknown = await harness.client.post(
        "/v1/epcis/queries/no-such/subscriptions", json={"dest": "https://a.b/c", "stream": True}
    )
    assert unknown.status_code == 404


def test_a_schedule_runs_at_the_next_time_every_field_allows() -> None:
    at = datetime(2026, 12, 4, 0, 0, 0, tzinfo=UTC)
    assert next_run(Schedule(hour="1", minute="5"), at) == datetime(2026, 12, 4, 1, 5, 0, tzinfo=UTC)
    assert next_run(Schedule(hour="1", minute="5"), datetime(2026, 12, 4, 1, 5, tzinfo=UTC)) == datetime(
        2026, 12, 5, 1, 5, tzinfo=UTC
    )
    assert next_run(Schedule(day_of_week="1", hour="[8-9]", minute="0,30"), at) == datetime(
        2026, 12, 7, 8, 0, tzinfo=UTC
    )
    assert next_run(Schedule(month="2", day_of_month="29"), at) == datetime(2028, 2, 29, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "dest",
    [
        "http://client.example.com/cb",  # plain http
        "https://127.0.0.1/cb",
        "https://[::1]/cb",
        "https://10.0.0.8/cb",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost:8000/v1/api-keys",
        "https://api.localhost/cb",
        "https://127.1:8743/cb",  # the legacy forms a resolver reads (inet_aton) and connect() accepts
        "https://2130706433:8743/cb",
        "https://0x7f000001:8743/cb",
        "https://0:8743/cb",
        "https://localhost.:8743/cb",
        "https://[64:ff9b::7f00:1]:8743/cb",  # NAT64's form of 127.0.0.1
        "https://[::ffff:10.0.0.1]/cb",
        "https://[::127.0.0.1]/cb",  # IPv4-compatible
        "https://[64:ff9b:1::7f00:1]/cb",  # NAT64, local-use prefix
        "https://[::ffff:0:7f00:1]/cb",  # IPv4-translated
        "https://[2002:7f00:1::]/cb",  # 6to4 of 127.0.0.1
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/cb",  # Teredo, client 127.0.0.1
        # Not a URL a resolver reads: refused before anything is kept (were a 500, or kept and failing).
        "https://[::1/cb",
        "https://user:pw@[::1/cb",
        "https://client.example.com:99999/cb",
        "https://a:b:c/cb",
        "https://ho st/cb",
        "https://" + "\u00e9" * 300 + "/cb",
        "https://" + ".".join(["a" * 60] * 5) + "/cb",  # longer than a DNS name may be
        "https://client.example.com\t/cb",  # the URL parser drops tabs and line breaks: the caller does not
        " https://client.example.com/cb",
        "https://client.example.com\n/cb",
        "https://client.example.com:0/cb",
        "https://224.0.0.1/cb",  # multicast
        "https://[ff02::1]/cb",
    ],
)
def test_a_webhook_to_this_servers_own_network_is_refused(dest: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_destination(dest, allow_private=False)
    assert refused.value.violations[0].rule == "webhook-destination"
    assert check_destination("https://client.example.com/cb", allow_private=False) == "https://client.example.com/cb"


async def test_a_subscriber_whose_key_expired_is_told_nothing_more(harness: Harness, endpoint: RemoteEndpoint) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=3)
    _, token = await harness.issue_key(name="partner feed", role=Role.qa, expires_at=expires)
    async with harness.client_with(token) as subscriber:
        name = f"q-{uuid.uuid4().hex[:10]}"
        defined = await subscriber.post("/v1/epcis/queries", json={"name": name, "query": {"EQ_bizStep": ["shipping"]}})
        assert defined.status_code == 201, defined.text
        body = {"dest": f"{endpoint.url}/hook", "stream": True}
        assert (await subscriber.post(f"/v1/epcis/queries/{name}/subscriptions", json=body)).status_code == 201
    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.5)
    await capture(harness.client, event([unit(GTIN_OWN, uuid.uuid4().hex[:10].upper())], "shipping", TIME))

    async def cancelled() -> Any:
        return await harness.composition.admin_pool.fetchval(
            "SELECT payload->>'reason' FROM epcis_reporting.events WHERE event_type = 'epcis.SubscriptionCancelled'"
        )

    await until(cancelled, timeout=20)
    assert "revoked or expired" in await cancelled()
    assert endpoint.received == []  # told nothing: the key no longer reads anything


async def test_a_webhook_that_resolves_to_this_servers_network_is_never_called() -> None:
    """Checked again when called: a name may resolve elsewhere than when it was subscribed."""
    called = []

    async def send(attempt: Any) -> Any:
        called.append(attempt)
        return Delivered(200)

    checked = only_public(send)
    for dest in ("https://localhost:8743/cb", "https://127.1/cb"):
        attempt = SimpleNamespace(job=SimpleNamespace(payload={"dest": dest}))
        outcome = await checked(cast(Attempt, attempt))
        assert isinstance(outcome, Permanent), dest
        assert "own networks" in outcome.reason
    assert called == []


async def _notified(harness: Harness, subscription_id: str) -> int:
    found = await harness.composition.admin_pool.fetchval(
        "SELECT count(*) FROM epcis_reporting.events "
        "WHERE event_type = 'epcis.SubscriptionNotified' AND payload->>'subscription_id' = $1",
        subscription_id,
    )
    return int(found)


async def _next_run(harness: Harness, subscription_id: str) -> datetime:
    found: datetime = await harness.composition.admin_pool.fetchval(
        "SELECT next_run FROM epcis_reporting.subscriptions WHERE subscription_id = $1::uuid", subscription_id
    )
    return found


async def test_a_schedule_with_nothing_to_tell_records_nothing(harness: Harness, endpoint: RemoteEndpoint) -> None:
    """A run with nothing new (no empty report asked for) moves the schedule on; the log keeps
    deliveries, not one record per look (a schedule may run every second)."""
    client, awaited = harness.client, unit(GTIN_OWN, uuid.uuid4().hex[:10].upper())
    name = await _query(harness, MATCH_epc=[awaited])
    body = {"dest": f"{endpoint.url}/hook", "schedule": {"second": "[0-59]"}}
    subscribed = await client.post(f"/v1/epcis/queries/{name}/subscriptions", json=body)
    assert subscribed.status_code == 201, subscribed.text
    subscription_id = subscribed.json()["subscriptionID"]
    first = await _next_run(harness, subscription_id)

    async def moved_twice() -> bool:
        return await _next_run(harness, subscription_id) >= first + timedelta(seconds=2)

    await until(moved_twice, timeout=20)  # looked at, at least twice
    assert await _notified(harness, subscription_id) == 0
    assert endpoint.received == []
    await capture(client, event([awaited], "shipping", TIME))
    await until(lambda: len(endpoint.accepted) == 1, timeout=20)
    told = {r.key: r for r in endpoint.received if r.body is not None}  # a 503 and its repeat: one key
    assert [[e["epcList"] for e in _events(r)] for r in told.values()] == [[[awaited]]]
    assert await _notified(harness, subscription_id) == 1


async def test_a_subscriber_holds_a_bounded_number_of_subscriptions(harness: Harness) -> None:
    name = await _query(harness, EQ_bizStep=["shipping"])
    url = f"/v1/epcis/queries/{name}/subscriptions"
    yearly = {"month": "1", "dayOfMonth": "1", "hour": "0", "minute": "0", "second": "0"}
    body = {"dest": "https://client.example.com/hook", "schedule": yearly}
    held = len((await harness.client.get(url)).json())
    for _ in range(MOST_PER_SUBSCRIBER - held):
        assert (await harness.client.post(url, json=body)).status_code == 201
    refused = await harness.client.post(url, json=body)
    assert refused.status_code == 409, refused.text
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("dest", "subscriptions-per-subscriber")]
    assert len((await harness.client.get(url)).json()) == MOST_PER_SUBSCRIBER  # nothing kept
    listed = (await harness.client.get(url)).json()
    assert (await harness.client.delete(f"{url}/{listed[0]['subscriptionID']}")).status_code == 204
    assert (await harness.client.post(url, json=body)).status_code == 201  # room again


async def test_a_delivery_decided_before_an_unsubscribe_is_not_sent_after_it(harness: Harness) -> None:
    name = await _query(harness, EQ_bizStep=["shipping"])
    body = {"dest": "https://client.example.com/hook", "stream": True}
    subscribed = await harness.client.post(f"/v1/epcis/queries/{name}/subscriptions", json=body)
    assert subscribed.status_code == 201, subscribed.text
    sent = []

    async def send(attempt: Any) -> Any:
        sent.append(attempt)
        return Delivered(200)

    checked = only_in_force(send, harness.composition.admin_pool, "epcis_reporting")
    job = SimpleNamespace(payload={"subscription_id": subscribed.json()["subscriptionID"]})
    attempt = cast(Attempt, SimpleNamespace(job=job))
    assert isinstance(await checked(attempt), Delivered)  # in force: sent
    assert (await harness.client.delete(subscribed.headers["location"])).status_code == 204
    outcome = await checked(attempt)
    assert isinstance(outcome, Permanent)
    assert "cancelled" in outcome.reason
    assert len(sent) == 1  # not sent after the unsubscribe
