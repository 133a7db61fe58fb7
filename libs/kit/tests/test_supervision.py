"""A crashed runner is restarted, its failure shown while it keeps failing and cleared only
once the restarted runner has held for `recovered_after` seconds."""

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


def supervised(recovered_after: float) -> tuple[Runtime, FailsTwice, asyncio.Task[None]]:
    runtime = Runtime(cast(Any, None), cast(Any, None), [], recovered_after=recovered_after)
    runner = FailsTwice()
    return runtime, runner, asyncio.create_task(runtime._supervise("svc.thing", runner))


async def test_the_failure_stays_shown_while_the_restarted_runner_has_not_held_yet() -> None:
    runtime, runner, task = supervised(recovered_after=3600)  # never long enough within this test
    await until(lambda: runner.starts == 3)
    await asyncio.sleep(0)  # let the supervisor run on after the third start
    assert "broker gone (start 2)" in runtime.failures["svc.thing"]
    runner.stopping.set()
    await task


async def test_the_failure_clears_once_the_restarted_runner_holds() -> None:
    runtime, runner, task = supervised(recovered_after=0.0)
    await until(lambda: runner.starts == 3 and not runtime.failures)
    assert not task.done()  # cleared because it runs on, not because it ended
    runner.stopping.set()
    await task
