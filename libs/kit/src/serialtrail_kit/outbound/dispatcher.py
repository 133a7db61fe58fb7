"""The dispatcher of one declared outbound: claims due jobs, sends each with the service's
`send`, records each outcome. Run and supervised by the runtime like a read model's runner, in
both run modes (the jobs are in the service's own database either way).

It sleeps until the next job may be due (a due time, a lease's end, a token in a bucket),
woken earlier by an enqueue or an operator's retry (NOTIFY, at their commit) and by a send
ending; the poll interval only bounds a lost notification. Sends run as tasks of their own:
a failing claim (the database restarting) does not abandon the requests in flight."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from opentelemetry.trace import SpanKind

from serialtrail_kit.db import Pool
from serialtrail_kit.outbound.claims import LEASE_EXPIRED, Claims
from serialtrail_kit.outbound.declared import Outcomes, Remote
from serialtrail_kit.outbound.jobs import Attempt, Delivered, Failure, JobRecord, Outcome, Retryable, bounded
from serialtrail_kit.outbound.outcomes import Recorder
from serialtrail_kit.outbound.policy import DestinationPolicy
from serialtrail_kit.outbound.schema import notify_channel
from serialtrail_kit.telemetry import TRACER, links
from serialtrail_kit.writes.model import WriteModel

log = logging.getLogger(__name__)
DRAIN_SECONDS = 3.0  # at stop, sends in flight may finish this long (the runtime's grace is longer)
SHORTEST_SLEEP = 0.005  # never spin, whatever the clocks say


class Dispatcher:
    def __init__(
        self, pool: Pool, writes: WriteModel, name: str, remote: Remote, outcomes: Outcomes, software: tuple[str, str]
    ) -> None:
        self.pool = pool
        self.name = name
        self.schema = writes.store.schema
        self.remote = remote
        self.settings = remote.settings
        self.claims = Claims(pool, self.schema, name, remote.settings)
        self.recorder = Recorder(writes, name, outcomes, software)
        self.stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        """Dispatch until `stop()`; then let the sends in flight finish for a moment."""
        listener = await self.pool.acquire()
        channel = notify_channel(self.schema)
        try:
            await listener.add_listener(channel, self._on_notify)
            while not self.stopping.is_set():
                self._wake.clear()
                room = self.settings.max_in_flight - len(self._sending)
                claimed = await self.claims.claim(room) if room > 0 else None
                for job in claimed.jobs if claimed else ():
                    self._start(job)
                await self._idle(claimed.next_in if claimed else None)
            await self._drain(DRAIN_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(channel, self._on_notify)
            await self.pool.release(listener)
            if self.stopping.is_set():
                await self._drain(0)  # what did not finish is sent again when its lease ends

    async def close(self) -> None:
        """Release the remote side (its client's connections), once stopped."""
        if self.remote.close is not None:
            await self.remote.close()

    async def backlog(self) -> dict[str, int]:
        """How many of this outbound's jobs wait, are in flight, or are dead (for readiness and
        operators). Delivered jobs are not counted: they only grow, and readiness is asked often."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT state, count(*) AS n FROM {self.schema}.outbound_jobs "
                "WHERE state IN ('pending', 'sending', 'dead') AND outbound = $1 GROUP BY state",
                self.name,
            )
        return {"pending": 0, "sending": 0, "dead": 0} | {row["state"]: row["n"] for row in rows}

    def _on_notify(self, *args: Any) -> None:
        if args[-1] == self.name:  # (connection, pid, channel, payload): payload names the outbound
            self._wake.set()

    def _start(self, job: JobRecord) -> None:
        task = asyncio.create_task(self._attempt(job, self.settings.of(job.destination)))
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        self._wake.set()  # a slot is free: more may be claimed

    async def _attempt(self, job: JobRecord, policy: DestinationPolicy) -> None:
        try:
            if job.attempts > policy.max_attempts:  # the last attempt's sender stopped: no attempt is left
                await self.recorder.dead(job, Failure(LEASE_EXPIRED, None, job.attempts - 1, permanent=False))
                return
            outcome = await self._send(job, policy)
            if isinstance(outcome, Delivered):
                await self.recorder.delivered(job, outcome)
            else:
                await self.recorder.failed(job, outcome, policy)
        except Exception:
            log.exception(
                "outbound %s.%s: job %s: its outcome was not recorded; sent again when its lease ends",
                self.schema,
                self.name,
                job.job_id,
            )

    async def _send(self, job: JobRecord, policy: DestinationPolicy) -> Outcome:
        """The service's `send`, bounded by the guard; an exception or no outcome is a failure to retry."""
        attributes = {"serialtrail.outbound": f"{self.schema}.{self.name}", "serialtrail.destination": job.destination}
        with TRACER.start_as_current_span(
            "outbound.send", kind=SpanKind.CLIENT, links=links([job.traceparent]), attributes=attributes
        ):
            try:
                async with asyncio.timeout(policy.guard_seconds):
                    return await self.remote.send(Attempt(job, job.attempts, policy.timeout_seconds))
            except TimeoutError:
                return Retryable(f"no outcome within {policy.guard_seconds:g}s")
            except Exception as error:
                log.warning("outbound %s.%s: send raised", self.schema, self.name, exc_info=True)
                return Retryable(bounded(f"send raised {type(error).__name__}: {error}"))

    async def _idle(self, next_in: float | None) -> None:
        """Until woken, stopped, or the next job may be due (the poll interval at most)."""
        poll = self.settings.poll_interval_seconds
        timeout = max(SHORTEST_SLEEP, min(poll, next_in if next_in is not None else poll))
        waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(self.stopping.wait())}
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _drain(self, seconds: float) -> None:
        pending = set(self._sending)
        if pending and seconds > 0:
            _, pending = await asyncio.wait(pending, timeout=seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
