"""Refusals are recorded without letting a flood grow the audit trail: from one client address,
the first `burst` refusals of a window are recorded one by one, the rest of that window as one
summary (an `AccessRefused` with `count` and `first_at`) when it closes. A flood from one
address adds at most `burst + 1` records per window and service (each refusal is recorded in
the log of the service that refused it); nothing is left unrecorded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request
from serialtrail_contracts.identity import AccessRefused

from serialtrail_kit.eventstore.metadata import RecordMetadata

WINDOW = 60.0
BURST = 5
log = logging.getLogger(__name__)
Record = Callable[[Request, AccessRefused, RecordMetadata], Awaitable[None]]


@dataclass
class _Window:
    opened: float
    recorded: int = 0
    held: int = 0  # refusals beyond the burst, to be summarised
    first_at: datetime | None = None
    statuses: dict[int, int] = field(default_factory=dict)
    last: tuple[Request, AccessRefused, RecordMetadata] | None = None


class RefusalThrottle:
    def __init__(self, record: Record, *, window: float = WINDOW, burst: int = BURST) -> None:
        self._record = record
        self.window, self.burst = window, burst
        self._windows: dict[str, _Window] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    def admit(self, request: Request, event: AccessRefused, meta: RecordMetadata) -> bool:
        """True: record this refusal now. False: it is held for its window's summary."""
        source = request.client.host if request.client else "unknown"
        # Per service as well: a summary is recorded in the log of the service that refused.
        log_of: Callable[[Request], str] | None = getattr(request.app.state, "log_of", None)
        windowed = f"{log_of(request) if log_of else ''}\0{source}"
        now = time.monotonic()
        if len(self._windows) > 10_000:  # sources seen long ago, with nothing held, are forgotten
            self._windows = {k: w for k, w in self._windows.items() if w.held or now - w.opened < self.window}
        current = self._windows.get(windowed)
        if current is None or now - current.opened >= self.window:
            current = self._windows[windowed] = _Window(opened=now)
        if current.recorded < self.burst:
            current.recorded += 1
            return True
        if current.held == 0:
            current.first_at = datetime.now(UTC)
            flush = asyncio.get_running_loop().create_task(self._flush_later(source, current))
            self._flushes.add(flush)
            flush.add_done_callback(self._flushes.discard)
        current.held += 1
        current.statuses[event.status] = current.statuses.get(event.status, 0) + 1
        current.last = (request, event, meta)
        return False

    async def _flush_later(self, source: str, window: _Window) -> None:
        await asyncio.sleep(max(0.0, window.opened + self.window - time.monotonic()))
        await self._flush(source, window)

    async def _flush(self, source: str, window: _Window) -> None:
        if window.held == 0 or window.last is None:
            return
        request, event, meta = window.last
        statuses = ", ".join(f"{count} x {status}" for status, count in sorted(window.statuses.items()))
        summary = event.model_copy(
            update={
                "count": window.held,
                "first_at": window.first_at,
                "reason": f"{window.held} refusals from {source} within {self.window:.0f} s ({statuses}); "
                f"the last: {event.reason}",
            }
        )
        window.held = 0
        try:
            await self._record(request, summary, meta)
        except Exception:  # the log must not lose it silently: say so where an operator looks
            log.exception("could not record a summary of %d refusals from %s", summary.count, source)

    async def close(self) -> None:
        """Record every summary still held (at shutdown)."""
        for flush in list(self._flushes):
            flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flush
        for windowed, window in list(self._windows.items()):
            await self._flush(windowed.partition("\0")[2], window)
