"""Waiting in tests for something another task or process does, bounded so a failure is a
timeout naming what never happened, not a hang."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

Check = Callable[[], bool] | Callable[[], Awaitable[bool]]


async def until(check: Check, timeout: float = 60.0, interval: float = 0.1) -> None:  # noqa: ASYNC109 - bounded by design
    """Poll `check` (plain or async) until it holds."""
    async with asyncio.timeout(timeout):
        while True:
            outcome = check()
            if await outcome if inspect.isawaitable(outcome) else outcome:
                return
            await asyncio.sleep(interval)
