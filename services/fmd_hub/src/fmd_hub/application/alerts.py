"""The hub's alerts: fetched by a worker from where the last fetch ended (each page recorded in
one unit with the cursor after it, so a restart neither loses nor repeats one), then worked by
QA: investigated (linked to a deviation in line exceptions) and closed with a reason."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import orjson
from serialtrail_contracts.fmd import AlertReceived
from serialtrail_kit.errors import InvalidInput, NotFound
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.writes.model import WriteModel

from fmd_hub.application import write_side
from fmd_hub.domain import alerts
from fmd_hub.domain.rules import KNOWN_DEVIATION
from fmd_hub.projections.alerts import deviation_of

log = logging.getLogger(__name__)
PAGE = 100
FIRST_FETCH_AFTER = 2.0  # seconds after a start
MAX_PAGE_BYTES = 4 * 1024 * 1024
ALERT_ID = re.compile(r"[0-9A-Za-z-]{1,64}")  # as the routes take it
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class AlertPoller:
    def __init__(
        self,
        writes: WriteModel,
        client: Callable[[], httpx.AsyncClient],
        every: float,
        meta: Callable[[], RecordMetadata],
    ) -> None:
        self.writes, self.new_client, self.every, self.meta = writes, client, every, meta
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        async with self.new_client() as self.client:  # a client per run: a restart after a failure gets its own
            with contextlib.suppress(TimeoutError):  # the hub (a simulator beside us) a moment to listen
                await asyncio.wait_for(self.stopping.wait(), min(self.every, FIRST_FETCH_AFTER))
            while not self.stopping.is_set():
                try:
                    await self.fetch()
                except (httpx.HTTPError, UnreadablePage) as error:  # the hub away or answering nonsense: next time
                    log.warning("fetching the hub's alerts failed: %s", error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.every)

    def stop(self) -> None:
        self.stopping.set()

    async def fetch(self) -> int:
        """Every alert raised since the last fetch; the number recorded."""
        recorded = 0
        while True:
            async with self.writes.store.pool.acquire() as conn:
                cursor = await write_side.alert_cursor(conn, self.writes.store.schema)
            params: dict[str, Any] = {"limit": PAGE} | ({} if cursor is None else {"after": cursor})
            raised, after = await self._page(params)
            if not raised:
                return recorded
            recorded += await self._record(raised, after)

    async def _page(self, params: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """A page of alerts, read up to a bound (a hub answering megabytes costs nothing)."""
        async with self.client.stream("GET", "/v1/alerts", params=params) as answer:
            answer.raise_for_status()
            body = b""
            async for part in answer.aiter_bytes():
                body += part
                if len(body) > MAX_PAGE_BYTES:
                    raise UnreadablePage(f"the hub's page of alerts is larger than {MAX_PAGE_BYTES:,} bytes")
        try:
            page = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise UnreadablePage(f"the hub's page of alerts is no JSON: {error}") from error
        raised, after = (page.get("alerts"), page.get("next")) if isinstance(page, dict) else (None, None)
        if not isinstance(raised, list) or not all(isinstance(a, dict) for a in raised):
            raise UnreadablePage("the hub's page of alerts holds no list of alerts")
        return raised, None if after is None else _text(after, 200)

    async def _record(self, raised: list[dict[str, Any]], after: str | None) -> int:
        new = 0
        async with self.writes.unit(self.meta()) as work:
            for index, found in enumerate(raised):
                stream = alerts.stream_id(alert_id_of(found.get("alert_id")))
                last = index == len(raised) - 1
                if await work.version(stream) > 0:
                    if last:  # the cursor would not move on: the hub answered a page fetched before
                        raise UnreadablePage(f"the hub answered alerts already fetched again (after {after})")
                    continue  # fetched before (a page read again)
                work.record(stream, 0, [_received(found, after if last else None)])
                new += 1
        return new


class UnreadablePage(ValueError):
    pass


def alert_id_of(raw: object) -> str:
    """The hub's id when it can name a path segment here, else one derived from it (still unique)."""
    text = str(raw)
    if ALERT_ID.fullmatch(text):
        return text
    return "h-" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:40]


def _text(value: object, limit: int) -> str:
    """What a hub sent, as text this log can hold: no NUL or other control characters, bounded."""
    text = str(value)[:limit]
    return CONTROL.sub("\ufffd", text.encode("utf-8", "replace").decode("utf-8"))


def _optional(value: object, limit: int) -> str | None:
    return None if value is None else _text(value, limit)


def _when(value: object) -> datetime:
    try:
        found = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)  # the hub gave no time we can read: when we heard of it
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def _received(found: dict[str, Any], cursor: str | None) -> AlertReceived:
    """Whatever the alert holds is kept (each field made safe and bounded): an alert is never
    dropped for its form, and the fetch moves past it."""
    return AlertReceived(
        alert_id=alert_id_of(found.get("alert_id")),
        code=_text(found.get("code", "unknown"), 64),
        message=_text(found.get("message", ""), 500),
        product_code=_text(found.get("product_code", ""), 64),
        lot=_optional(found.get("batch_id"), 64),
        serial=_optional(found.get("serial"), 64),
        market=_optional(found.get("market"), 16),
        location=_optional(found.get("location"), 200),
        raised_at=_when(found.get("raised_at")),
        next_cursor=cursor,
    )


class AlertHandlers:
    def __init__(self, writes: WriteModel) -> None:
        self.writes = writes

    async def investigate(
        self, alert_id: str, product: str, note: str, deviation_id: UUID | None, meta: RecordMetadata
    ) -> None:
        if deviation_id is not None and await deviation_of(self.writes.store.pool, deviation_id) != product:
            message = f"no deviation {deviation_id} of product {product} is known"
            raise InvalidInput(message, [KNOWN_DEVIATION.at("deviation_id", message)])
        async with self.writes.unit(meta) as work:
            found = await _alert(work.stream, alert_id)
            work.record(alerts.stream_id(alert_id), found.version, [alerts.investigate(found, note, deviation_id)])

    async def close(self, alert_id: str, reason: str, meta: RecordMetadata) -> None:
        async with self.writes.unit(meta) as work:
            found = await _alert(work.stream, alert_id)
            work.record(alerts.stream_id(alert_id), found.version, [alerts.close(found, reason)])


async def _alert(stream: Any, alert_id: str) -> alerts.Alert:
    found = alerts.fold((await stream(alerts.stream_id(alert_id))).events)
    if found is None:
        raise NotFound(f"no alert {alert_id}")
    return found
