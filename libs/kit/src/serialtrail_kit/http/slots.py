"""At most so many of one kind of costly request at a time: a request that finds every slot taken
waits for one (its body unread, left to the socket), and is refused 503 with Retry-After when
none frees within the wait. Bounds the memory the kind can take to the slots' share, whatever
many clients send at once."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from serialtrail_kit.errors import Unavailable


class Slots:
    def __init__(self, what: str, at_once: int, wait_seconds: float) -> None:
        self.what, self.at_once, self.wait_seconds = what, at_once, wait_seconds
        self._free = asyncio.Semaphore(at_once)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._free.acquire(), self.wait_seconds)
        except TimeoutError:
            detail = f"{self.at_once} {self.what} at once is the most this server takes, and none ended in time"
            raise Unavailable(detail, retry_after=max(1, math.ceil(self.wait_seconds))) from None
        try:
            yield
        finally:
            self._free.release()
