"""`send` over HTTP with httpx, for the common case: the service says what request a job is
(`request_of`), this sends it with the job's idempotency key and says what the answer means:

- 2xx: delivered; the receipt keeps the status, a bounded snippet of the body and a few
  harmless headers (never cookies or credentials: a receipt is recorded on an immutable log);
- 408, 425, 429, 5xx, no answer in time, no connection: worth retrying (on 429 and 503 the
  remote's Retry-After, in seconds or as an HTTP date, is honoured);
- any other answer (other 4xx, a redirect, which is not followed) and a URL that cannot be
  used: refused for good, the job dead at once with the remote's reason."""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from serialtrail_kit.outbound.declared import Remote
from serialtrail_kit.outbound.jobs import Attempt, Delivered, Outcome, Permanent, Retryable, bounded
from serialtrail_kit.outbound.policy import OutboundSettings

RETRYABLE = frozenset({408, 425, 429})  # and every 5xx
RETRY_AFTER_HONOURED = frozenset({429, 503})
RECEIPT_HEADERS = ("content-type", "date", "etag", "location", "request-id", "x-request-id", "x-correlation-id")
SNIPPET_BYTES = 512
HEADER_CHARS = 200


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


# The request a job is; built when it is sent, from the job alone or (awaited) from what the
# service keeps of it (what its tables hold rather than the job carries).
RequestOf = Callable[[Attempt], HttpRequest | Awaitable[HttpRequest]]


def http_remote(
    request_of: RequestOf,
    settings: OutboundSettings | None = None,
    *,
    client: httpx.AsyncClient | None = None,
    idempotency_header: str = "Idempotency-Key",
    receipt_bytes: int = SNIPPET_BYTES,
) -> Remote:
    """A `Remote` sending each job as `request_of` says; its client is closed with the runtime.
    `receipt_bytes`: how much of an answer's body the receipt keeps (and a failure's reason shows)."""
    send = HttpSend(request_of, client=client, idempotency_header=idempotency_header, receipt_bytes=receipt_bytes)
    return Remote(send=send, settings=settings or OutboundSettings(), close=send.aclose)


class HttpSend:
    def __init__(
        self,
        request_of: RequestOf,
        *,
        client: httpx.AsyncClient | None = None,
        idempotency_header: str = "Idempotency-Key",
        receipt_bytes: int = SNIPPET_BYTES,
    ) -> None:
        self.request_of = request_of
        self.receipt_bytes = receipt_bytes
        # Redirects are not followed: a remote that moved is an operator's to configure, not ours to guess.
        self.client = client or httpx.AsyncClient(follow_redirects=False)
        self.idempotency_header = idempotency_header

    async def __call__(self, attempt: Attempt) -> Outcome:
        built = self.request_of(attempt)
        request = await built if inspect.isawaitable(built) else built
        headers = {**request.headers, self.idempotency_header: attempt.idempotency_key}
        try:
            async with asyncio.timeout(attempt.timeout):  # the whole exchange, not each read
                return await self._exchange(request, headers, attempt)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
            return Permanent(bounded(f"the request cannot be sent: {error}"))
        except (TimeoutError, httpx.TimeoutException):
            return Retryable(f"no answer within {attempt.timeout:g}s")
        except httpx.TransportError as error:
            return Retryable(bounded(f"{type(error).__name__}: {error}"))

    async def _exchange(self, request: HttpRequest, headers: dict[str, str], attempt: Attempt) -> Outcome:
        async with self.client.stream(
            request.method,
            request.url,
            json=request.json,
            content=request.content,
            headers=headers,
            timeout=attempt.timeout,
        ) as response:
            snippet = await _head_of(response, self.receipt_bytes)
            return outcome_of(response.status_code, response.headers, snippet)

    async def aclose(self) -> None:
        await self.client.aclose()


async def _head_of(response: httpx.Response, limit: int) -> str:
    """The start of the body, at most `limit` bytes read: a remote answering megabytes costs nothing."""
    head = b""
    async for chunk in response.aiter_bytes():
        head += chunk
        if len(head) >= limit:
            break
    return head[:limit].decode("utf-8", errors="replace")


def outcome_of(status: int, headers: Mapping[str, str], snippet: str, now: datetime | None = None) -> Outcome:
    """What an answer means for the job (see the module's docstring)."""
    said = f"HTTP {status}" + (f": {snippet}" if snippet else "")
    if 200 <= status < 300:
        kept = {name: bounded(headers[name], HEADER_CHARS) for name in RECEIPT_HEADERS if name in headers}
        return Delivered(status, {"status": status, "headers": kept, "body": snippet})
    if status in RETRYABLE or 500 <= status < 600:
        wait = retry_after_seconds(headers.get("retry-after"), now) if status in RETRY_AFTER_HONOURED else None
        return Retryable(bounded(said), status, wait)
    return Permanent(bounded(said), status)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from `now`: delay-seconds or an HTTP date; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, now or datetime.now(UTC))
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _seconds_until(value: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
