"""The outbound worker's rules on their own: what an HTTP answer means for a job, Retry-After,
the backoff's bounds, the token bucket, and limits refused at start when they make no sense.
The HTTP helper is also run against a real server on the loopback (and a port with none)."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from serialtrail_kit.outbound import Delivered, DestinationPolicy, OutboundSettings, Permanent, Retryable
from serialtrail_kit.outbound.bucket import TokenBucket
from serialtrail_kit.outbound.http import HttpRequest, HttpSend, RequestOf, outcome_of, retry_after_seconds
from serialtrail_kit.outbound.jobs import Attempt, JobRecord, JobState
from serialtrail_kit.service_settings import ServiceSettings
from serialtrail_kit.testing.remote import Answer, remote_endpoint

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered_with_a_bounded_receipt(status: int) -> None:
    headers = {"content-type": "application/json", "set-cookie": "session=secret", "location": "/r/1"}
    outcome = outcome_of(status, headers, '{"id": 1}')
    assert outcome == Delivered(
        status,
        {"status": status, "headers": {"content-type": "application/json", "location": "/r/1"}, "body": '{"id": 1}'},
    )  # never a cookie: a receipt is recorded on an immutable log


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 599])
def test_these_are_worth_retrying(status: int) -> None:
    assert outcome_of(status, {}, "busy") == Retryable(f"HTTP {status}: busy", status)


@pytest.mark.parametrize("status", [301, 400, 401, 403, 404, 409, 410, 413, 422, 451])
def test_the_others_are_refused_for_good(status: int) -> None:
    assert outcome_of(status, {}, "") == Permanent(f"HTTP {status}", status)


def test_retry_after_counts_on_429_and_503_only() -> None:
    assert outcome_of(429, {"retry-after": "7"}, "") == Retryable("HTTP 429", 429, 7.0)
    assert outcome_of(503, {"retry-after": "2"}, "") == Retryable("HTTP 503", 503, 2.0)
    assert outcome_of(500, {"retry-after": "7"}, "") == Retryable("HTTP 500", 500, None)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("120", NOW) == 120.0
    assert retry_after_seconds("Fri, 04 Dec 2026 12:01:30 GMT", NOW) == 90.0
    assert retry_after_seconds("Fri, 04 Dec 2026 11:00:00 GMT", NOW) == 0.0  # past: now
    for unreadable in (None, "", "soon", "-5", "nan", "inf"):
        assert retry_after_seconds(unreadable, NOW) is None


def test_a_long_answer_is_bounded_in_the_reason() -> None:
    outcome = outcome_of(500, {}, "x" * 5000)
    assert isinstance(outcome, Retryable)
    assert len(outcome.reason) == 500


def test_the_backoff_is_a_full_jitter_draw_under_a_capped_exponential_bound() -> None:
    policy = DestinationPolicy(backoff_base_seconds=1.0, backoff_cap_seconds=10.0)
    for attempt, bound in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (60, 10.0), (5000, 10.0)]:
        draws = [policy.backoff(attempt) for _ in range(200)]
        assert all(0 <= d <= bound for d in draws), attempt
        assert max(draws) > bound / 2  # spread over the range, not pinned at its bottom
        assert min(draws) < bound / 2


def test_the_backoff_waits_at_least_what_the_remote_asked_within_a_bound() -> None:
    policy = DestinationPolicy(backoff_base_seconds=0.01, backoff_cap_seconds=0.02, max_retry_after_seconds=60)
    assert all(policy.backoff(1, retry_after=5) == 5 for _ in range(50))
    assert policy.backoff(1, retry_after=86_400) == 60


def test_limits_that_make_no_sense_are_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="backoff_cap_seconds"):
        DestinationPolicy(backoff_base_seconds=10, backoff_cap_seconds=1)
    with pytest.raises(ValidationError, match="lease_seconds"):
        DestinationPolicy(timeout_seconds=30, lease_seconds=30)
    for wrong in ({"concurrency": 0}, {"rate_per_second": 0}, {"max_attempts": 0}, {"concurrency_limit": 3}):
        with pytest.raises(ValidationError):
            DestinationPolicy.model_validate(wrong)


class SenderSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SERIALTRAIL_SENDER_TEST_", frozen=True)
    calls: OutboundSettings = OutboundSettings()


def test_a_services_outbound_settings_come_from_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    given = '{"default": {"max_attempts": 3}, "destinations": {"slow": {"concurrency": 1, "rate_per_second": 0.5}}}'
    monkeypatch.setenv("SERIALTRAIL_SENDER_TEST_CALLS", given)
    calls = SenderSettings().calls
    assert (calls.of("anyone").max_attempts, calls.of("anyone").concurrency) == (3, 4)
    assert (calls.of("slow").concurrency, calls.of("slow").rate_per_second, calls.of("slow").max_attempts) == (
        1,
        0.5,
        8,
    )
    monkeypatch.setenv("SERIALTRAIL_SENDER_TEST_CALLS", '{"default": {"lease_seconds": 1, "timeout_seconds": 5}}')
    with pytest.raises(ValidationError, match="lease_seconds"):
        SenderSettings()


def test_the_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=3, at=NOW)
    assert bucket.available == 3
    emptied = bucket.take(3)
    assert (emptied.available, emptied.seconds_to_next()) == (0, 0.5)
    with pytest.raises(ValueError, match="available"):
        emptied.take(1)
    assert emptied.refilled(NOW + timedelta(seconds=1)).available == 2
    assert emptied.refilled(NOW + timedelta(seconds=60)).available == 3  # never more than the burst
    assert emptied.refilled(NOW - timedelta(seconds=5)).available == 0  # a clock going back adds nothing


def a_job() -> JobRecord:
    return JobRecord(
        job_id=uuid.uuid4(),
        outbound="calls",
        destination="partner",
        key="k",
        payload={"n": 1},
        cause_id=None,
        correlation_id="c",
        traceparent=None,
        state=JobState.sending,
        attempts=1,
        due_at=NOW,
        created_at=NOW,
        updated_at=NOW,
        last_reason=None,
        history=(),
    )


def constant(request: HttpRequest) -> RequestOf:
    return lambda attempt: request


async def test_the_helper_sends_the_key_and_keeps_a_bounded_receipt() -> None:
    job = a_job()
    async with remote_endpoint([Answer(201, body=b"y" * 10_000, headers={"X-Request-Id": "r-1"})]) as endpoint:
        send = HttpSend(
            constant(HttpRequest("PUT", f"{endpoint.url}/x", json={"n": 1})), idempotency_header="Idempotency-Key"
        )
        try:
            outcome = await send(Attempt(job, 1, timeout=5))
        finally:
            await send.aclose()
    assert isinstance(outcome, Delivered)
    kept = outcome.receipt["headers"]
    assert (sorted(kept), kept["x-request-id"]) == (["content-type", "date", "x-request-id"], "r-1")  # not "server"
    assert outcome.receipt["body"] == "y" * 512
    assert endpoint.keys() == [str(job.job_id)]
    assert endpoint.received[0].body == {"n": 1}


async def test_the_helper_says_what_went_wrong_before_any_answer() -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    job = a_job()
    for url, expected in [(f"http://127.0.0.1:{port}/x", Retryable), ("ftp://127.0.0.1/x", Permanent)]:
        send = HttpSend(constant(HttpRequest("POST", url)))
        try:
            outcome = await send(Attempt(job, 1, timeout=2))
        finally:
            await send.aclose()
        assert isinstance(outcome, expected), (url, outcome)
