"""What hostile input costs a real server: six anonymous 100 MB bodies at once (memory), and
20,000 anonymous requests (how many audit records they add)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
from serialtrail.served import running_process

from bench.memory import status_mb
from bench.report import emit, watching

BODY_MB, BODIES, FLOOD = 100, 6, 20_000
WINDOW = 5  # seconds: refusals beyond the burst are summarised per window (60 s by default)


def _rss_mb(pid: int) -> float:
    found = status_mb(pid, "VmRSS:")
    if found is None:
        raise RuntimeError(f"the server (pid {pid}) is gone")
    return found


async def _megabytes(count: int) -> AsyncIterator[bytes]:
    chunk = b"x" * (1 << 20)
    for _ in range(count):
        yield chunk


async def _anonymous_upload(base: str, declared: bool) -> int:
    async with httpx.AsyncClient(timeout=60) as client:
        try:
            headers = {"content-type": "application/json"}
            if declared:
                headers["content-length"] = str(BODY_MB << 20)
            response = await client.post(f"{base}/v1/commissioning", content=_megabytes(BODY_MB), headers=headers)
            return response.status_code
        except httpx.HTTPError:
            return 0  # the server answered and closed before the upload finished


async def _memory(base: str, pid: int, declared: bool) -> None:
    before = _rss_mb(pid)
    started = time.perf_counter()
    statuses = await asyncio.gather(*(_anonymous_upload(base, declared) for _ in range(BODIES)))
    after = _rss_mb(pid)
    how = "with Content-Length" if declared else "chunked"
    emit(
        f"server memory growth from {BODIES} anonymous {BODY_MB} MB bodies at once ({how})",
        [after - before],
        "MB",
        "< 20 MB",
        statuses=sorted(statuses),
        seconds=round(time.perf_counter() - started, 2),
        rss_before_mb=round(before, 1),
    )


async def _flood(base: str, key: str) -> None:
    admin = httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    async with admin, httpx.AsyncClient(base_url=base, timeout=60) as anonymous:
        before = await _recorded(admin)
        started = time.perf_counter()
        queue = list(range(FLOOD))

        async def worker() -> None:
            while queue:
                queue.pop()
                await anonymous.get("/v1/api-keys")

        await asyncio.gather(*(worker() for _ in range(16)))
        seconds = time.perf_counter() - started
        await asyncio.sleep(WINDOW + 2)  # the last window's summary
        added = await _recorded(admin) - before
    emit(
        f"audit records added by {FLOOD:,} anonymous requests",
        [added],
        "records",
        f"<= (burst 5 + 1) per {WINDOW} s window per address",
        seconds=round(seconds, 1),
        windows=int(seconds // WINDOW) + 1,
    )


async def _recorded(admin: httpx.AsyncClient) -> int:
    """Refusals recorded in identity's log (where a refusal of its route is kept)."""
    total, after = 0, 0
    while True:
        page = (await admin.get("/v1/audit-trail/identity", params={"after": after, "limit": 1000})).json()
        total += sum(1 for e in page["events"] if e["event_type"] == "identity.AccessRefused")
        if not page["events"]:
            return total
        after = page["next_after"]


def hostile_input_benchmark() -> None:
    served = running_process(refusal_window_seconds=str(WINDOW))
    with served as (base, key, process), watching(process.pid, "the serialtrail run process"):
        asyncio.run(_memory(base, process.pid, declared=True))
        asyncio.run(_memory(base, process.pid, declared=False))
        asyncio.run(_flood(base, key))


if __name__ == "__main__":
    hostile_input_benchmark()
