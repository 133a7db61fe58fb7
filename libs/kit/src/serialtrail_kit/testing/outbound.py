"""Outbound in tests: limits fast enough for a test (backoff in milliseconds, short leases),
and dispatchers running for the length of a block."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from serialtrail_kit.outbound.dispatcher import Dispatcher
from serialtrail_kit.outbound.policy import DestinationPolicy, OutboundSettings

FAST: dict[str, Any] = {
    "backoff_base_seconds": 0.005,
    "backoff_cap_seconds": 0.02,
    "timeout_seconds": 2.0,  # a loaded test machine must not turn an answer into a timeout
    "lease_seconds": 4.0,
    "max_attempts": 4,
    "rate_per_second": 1000.0,
    "burst": 100,
    "concurrency": 8,
}


def fast_settings(**policy: Any) -> OutboundSettings:
    """One policy for every destination: FAST, with `policy`'s changes."""
    return OutboundSettings(default=DestinationPolicy(**(FAST | policy)), poll_interval_seconds=0.1)


@contextlib.asynccontextmanager
async def dispatching(*dispatchers: Dispatcher, grace: float = 10.0) -> AsyncIterator[None]:
    """The dispatchers run for the block; stopped at its end (cancelled if they do not), then closed."""
    tasks = [asyncio.create_task(d.run()) for d in dispatchers]
    try:
        yield
    finally:
        for dispatcher in dispatchers:
            dispatcher.stop()
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        ended = await asyncio.gather(*tasks, return_exceptions=True)
        for dispatcher in dispatchers:
            await dispatcher.close()
        failures = [e for e in ended if isinstance(e, Exception)]
        if failures:  # a dispatcher that crashed fails the test, rather than a wait timing out
            raise failures[0]
