"""A crashed runner is restarted, its failure shown while it keeps failing and cleared once
it has kept running."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from serialtrail_kit.runtime import Runtime
from serialtrail_kit.testing.waiting import until


class FailsTwice:
    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.starts = 0

    async def run(self) -> None:
        self.starts += 1
        if self.starts <= 2:
            raise ConnectionError(f"broker gone (start {self.starts})")
        await self.stopping.wait()


async def test_a_failure_is_shown_until_the_restarted_runner_holds() -> None:
    runtime = Runtime(cast(Any, None), cast(Any, None), [], recovered_after=0.3)
    runner = FailsTwice()
    task = asyncio.create_task(runtime._supervise("svc.thing", runner))
    await until(lambda: runner.starts >= 3)
    assert "broker gone (start 2)" in runtime.failures["svc.thing"]
    await until(lambda: not runtime.failures)
    assert runner.starts == 3  # it held: no further restart
    runner.stopping.set()
    await task
