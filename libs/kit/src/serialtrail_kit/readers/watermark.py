"""How far a reader (projection runner, relay) has got, and waiting for it to get somewhere."""

from __future__ import annotations

import asyncio


class Watermark:
    def __init__(self) -> None:
        self.position = 0
        self._advanced = asyncio.Condition()

    async def advance(self, position: int) -> None:
        async with self._advanced:
            self.position = position
            self._advanced.notify_all()

    async def reached(self, position: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - bounded by design
        async with asyncio.timeout(timeout), self._advanced:
            await self._advanced.wait_for(lambda: self.position >= position)
