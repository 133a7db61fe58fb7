"""Slots: at most so many at once; one more waits its turn, or is refused 503 with Retry-After."""

from __future__ import annotations

import asyncio

import pytest
from serialtrail_kit.errors import Unavailable
from serialtrail_kit.http.slots import Slots


async def test_one_more_than_the_slots_waits_and_is_refused_when_none_frees() -> None:
    slots, release = Slots("documents", at_once=2, wait_seconds=0.2), asyncio.Event()
    held = [asyncio.Event(), asyncio.Event()]

    async def hold(mine: asyncio.Event) -> None:
        async with slots.held(f"holder-{id(mine)}"):
            mine.set()
            await release.wait()

    holders = [asyncio.create_task(hold(mine)) for mine in held]
    await asyncio.gather(*(mine.wait() for mine in held))
    with pytest.raises(Unavailable) as refused:
        async with slots.held("a third"):
            pytest.fail("a third held while two did")
    assert refused.value.headers == {"Retry-After": "1"}
    assert "2 documents at once" in refused.value.detail

    waiting = asyncio.create_task(_held_after(slots))
    await asyncio.sleep(0.05)
    release.set()  # a slot frees within the wait: the one waiting goes on
    await asyncio.gather(*holders)
    assert await waiting is True


async def _held_after(slots: Slots, holder: str = "later") -> bool:
    async with slots.held(holder):
        return True


async def test_one_holder_takes_its_own_share_and_leaves_the_others_theirs() -> None:
    slots, release, held = Slots("documents", at_once=3, wait_seconds=0.2), asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with slots.held("slow"):
            held.set()
            await release.wait()

    holding = asyncio.create_task(hold())
    await held.wait()
    with pytest.raises(Unavailable) as refused:
        async with slots.held("slow"):
            pytest.fail("one holder held two slots")
    assert "1 documents at once for one caller" in refused.value.detail
    assert await _held_after(slots, "another") is True  # the others' slots stay free
    release.set()
    await holding
    assert await _held_after(slots, "slow") is True
