"""Starts what a set of services needs: logs, write-side tables, outbound jobs, projections
and their runners, outbound dispatchers. Used by the embedded all-in-one process, by each
service's own process in distributed mode, and by the tests alike."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from serialtrail_kit.db import APP_ROLE, Pool
from serialtrail_kit.eventstore.checkpoints import Checkpointer
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.outbound.schema import install_jobs
from serialtrail_kit.readers.projection import ProjectionAdmin, ProjectionRunner
from serialtrail_kit.service import ServiceModule
from serialtrail_kit.transport.relay import Relay
from serialtrail_kit.transport.wiring import KafkaTransport
from serialtrail_kit.writes.install import install_write_sides


class Runnable(Protocol):
    stopping: asyncio.Event

    async def run(self) -> None: ...


log = logging.getLogger(__name__)


@dataclass
class Runtime:
    admin_pool: Pool
    app_pool: Pool
    modules: Sequence[ServiceModule]
    poll_interval: float = 1.0
    transport: KafkaTransport | None = None  # None: embedded mode, other logs read directly
    recovered_after: float = 10.0  # seconds a restarted runner must keep running to count as healthy
    relays: dict[str, Relay] = field(default_factory=dict)
    checkpointer: Checkpointer | None = None  # signs each log's head outside the database
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    def _consumed(self) -> set[str]:
        """The services whose events these modules read (over Kafka in distributed mode)."""
        return {p.source for m in self.modules for p in m.projections if p.source != m.name}

    def _foreign_sources(self) -> set[str]:
        """Of those, the ones not composed here."""
        return self._consumed() - {m.name for m in self.modules}

    async def install(self) -> None:
        async with self.admin_pool.acquire() as conn:
            for module in self.modules:
                await install_log(conn, module.name, APP_ROLE, uncompressed_payloads=module.uncompressed_payloads)
                log_store = PostgresEventStore(self.admin_pool, module.name, module.upcasters)
                await install_write_sides(conn, log_store, module.write_sides)
                if module.dispatchers:
                    await install_jobs(conn, module.name, [d.name for d in module.dispatchers], APP_ROLE)
            # In embedded mode a projection reads another service's log directly; that log
            # exists (empty) even when its service is not composed here, and fills once it is.
            for source in self._foreign_sources() if self.transport is None else ():
                await install_log(conn, source, APP_ROLE)
        if self.transport is not None:
            await self.transport.check([m.name for m in self.modules], self._consumed())
        for module in self.modules:
            admin = ProjectionAdmin(self.admin_pool, module.name, upcasters=module.upcasters)
            for projection in module.projections:
                over_kafka = self.transport is not None and projection.source != module.name
                await admin.ensure(projection, source_readable=not over_kafka)
                module.runners[projection.name] = ProjectionRunner(
                    self.app_pool,
                    module.name,
                    projection,
                    upcasters=module.upcasters,
                    poll_interval=self.poll_interval,
                    subscribe=self.transport.subscribe(module.name, projection.source, module.upcasters)
                    if self.transport is not None and over_kafka
                    else None,
                )
            if self.transport is not None:
                self.relays[module.name] = self.transport.relay(self.app_pool, module.name, self.poll_interval)

    def start(self) -> None:
        for module in self.modules:
            for name, runner in module.runners.items():
                self._tasks.append(asyncio.create_task(self._supervise(f"{module.name}.{name}", runner)))
            for dispatcher in module.dispatchers:
                name = f"{module.name}.outbound.{dispatcher.name}"
                self._tasks.append(asyncio.create_task(self._supervise(name, dispatcher)))
            for name, worker in module.workers.items():
                self._tasks.append(asyncio.create_task(self._supervise(f"{module.name}.{name}", worker)))
        for service, relay in self.relays.items():
            self._tasks.append(asyncio.create_task(self._supervise(f"{service}.relay", relay)))
        if self.checkpointer is not None:
            self._tasks.append(asyncio.create_task(self._supervise("checkpoints", self.checkpointer)))

    async def _supervise(self, name: str, runner: Runnable) -> None:
        """Restart a crashed runner with backoff. The failure shows in /health/ready until the
        restarted runner has kept running for `recovered_after` seconds."""
        delay = 0.5
        loop = asyncio.get_running_loop()
        while not runner.stopping.is_set():
            recovered = loop.call_later(self.recovered_after, self._recovered, name)
            try:
                await runner.run()
            except Exception as error:
                recovered.cancel()
                self.failures[name] = repr(error)
                log.exception("%s failed; restarting in %.1fs", name, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            finally:
                recovered.cancel()

    def _recovered(self, name: str) -> None:
        if self.failures.pop(name, None) is not None:
            log.info("%s recovered", name)

    async def stop(self, grace: float = 5.0) -> None:
        """Ask runners to stop between batches; cancel only those that do not within `grace`
        (cancelling mid-query leaves asyncpg waiting on a server-side cancel)."""
        self._ask_to_stop()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=grace)
            for task in late:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks.clear()
        for module in self.modules:
            for dispatcher in module.dispatchers:
                await dispatcher.close()

    def _ask_to_stop(self) -> None:
        for module in self.modules:
            for runner in module.runners.values():
                runner.stop()
            for dispatcher in module.dispatchers:
                dispatcher.stop()
            for worker in module.workers.values():
                worker.stop()
        for relay in self.relays.values():
            relay.stop()
        if self.checkpointer is not None:
            self.checkpointer.stop()
