"""The hub's alerts: fetched by a worker from where the last fetch ended (each page recorded in
one unit with the cursor after it, so a restart neither loses nor repeats one), then worked by
QA: investigated (linked to a deviation in line exceptions) and closed with a reason."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
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


class AlertPoller:
    def __init__(
        self, writes: WriteModel, client: httpx.AsyncClient, every: float, meta: Callable[[], RecordMetadata]
    ) -> None:
        self.writes, self.client, self.every, self.meta = writes, client, every, meta
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    await self.fetch()
                except (httpx.HTTPError, ValueError) as error:  # the hub away or answering nonsense: next time
                    log.warning("fetching the hub's alerts failed: %s", error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.every)
        finally:
            await self.client.aclose()

    def stop(self) -> None:
        self.stopping.set()

    async def fetch(self) -> int:
        """Every alert raised since the last fetch; the number recorded."""
        recorded = 0
        while True:
            async with self.writes.store.pool.acquire() as conn:
                cursor = await write_side.alert_cursor(conn, self.writes.store.schema)
            params: dict[str, Any] = {"limit": PAGE} | ({} if cursor is None else {"after": cursor})
            answer = await self.client.get("/v1/alerts", params=params)
            answer.raise_for_status()
            page = answer.json()
            raised, after = page["alerts"], page.get("next")
            if not raised:
                return recorded
            recorded += await self._record(raised, after)

    async def _record(self, raised: list[dict[str, Any]], after: str | None) -> int:
        new = 0
        async with self.writes.unit(self.meta()) as work:
            for index, found in enumerate(raised):
                stream = alerts.stream_id(str(found["alert_id"]))
                last = index == len(raised) - 1
                if await work.version(stream) > 0 and not last:
                    continue  # fetched before (a page read again)
                if await work.version(stream) > 0:
                    raise ValueError(f"the hub answered alerts already fetched again (after {after})")
                work.record(stream, 0, [_received(found, after if last else None)])
                new += 1
        return new


def _received(found: dict[str, Any], cursor: str | None) -> AlertReceived:
    return AlertReceived(
        alert_id=str(found["alert_id"]),
        code=str(found["code"]),
        message=str(found.get("message", ""))[:500],
        product_code=str(found["product_code"]),
        lot=found.get("batch_id"),
        serial=found.get("serial"),
        market=found.get("market"),
        location=found.get("location"),
        raised_at=datetime.fromisoformat(str(found["raised_at"])),
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
