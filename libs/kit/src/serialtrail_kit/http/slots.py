"""At most so many of one kind of costly request at a time, and at most so many of them for one
holder (a principal): a request that finds its slot taken waits for one (its body unread, left to
the socket), and is refused 503 with Retry-After when none frees within the wait. Bounds the memory
the kind can take to the slots' share, whatever many clients send at once, and keeps one holder's
slow requests from taking every slot."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from serialtrail_kit.errors import Unavailable


class Slots:
    def __init__(self, what: str, at_once: int, wait_seconds: float, per_holder: int = 1) -> None:
        self.what, self.at_once, self.wait_seconds, self.per_holder = what, at_once, wait_seconds, per_holder
        self._free = asyncio.Semaphore(at_once)
        self._holders: dict[str, tuple[asyncio.Semaphore, int]] = {}  # holder -> its slots, requests using them

    @asynccontextmanager
    async def held(self, holder: str) -> AsyncIterator[None]:
        deadline = asyncio.get_running_loop().time() + self.wait_seconds
        own = self._own(holder)
        try:
            async with (
                self._within(own, deadline, f"{self.per_holder} {self.what} at once for one caller"),
                self._within(self._free, deadline, f"{self.at_once} {self.what} at once"),
            ):
                yield
        finally:
            self._release_own(holder)

    def _own(self, holder: str) -> asyncio.Semaphore:
        semaphore, users = self._holders.get(holder) or (asyncio.Semaphore(self.per_holder), 0)
        self._holders[holder] = (semaphore, users + 1)
        return semaphore

    def _release_own(self, holder: str) -> None:
        semaphore, users = self._holders[holder]
        if users == 1:
            del self._holders[holder]
        else:
            self._holders[holder] = (semaphore, users - 1)

    @asynccontextmanager
    async def _within(self, slots: asyncio.Semaphore, deadline: float, most: str) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(slots.acquire(), max(0.0, deadline - asyncio.get_running_loop().time()))
        except TimeoutError:
            detail = f"{most} is the most this server takes, and none ended in time"
            raise Unavailable(detail, retry_after=max(1, math.ceil(self.wait_seconds))) from None
        try:
            yield
        finally:
            slots.release()
