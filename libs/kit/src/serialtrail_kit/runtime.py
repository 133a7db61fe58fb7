"""Starts what a set of services needs: logs, write-side tables, projections and their
runners. Used by the embedded all-in-one process and by the tests alike."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from serialtrail_kit.db import APP_ROLE, Pool
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.identity import store as identity_store
from serialtrail_kit.readers.projection import ProjectionAdmin, ProjectionRunner
from serialtrail_kit.service import ServiceModule

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    admin_pool: Pool
    app_pool: Pool
    modules: Sequence[ServiceModule]
    poll_interval: float = 1.0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    async def install(self) -> None:
        async with self.admin_pool.acquire() as conn:
            await install_log(conn, identity_store.SCHEMA, APP_ROLE)
            await identity_store.install_write_side(conn)
            for module in self.modules:
                await install_log(conn, module.name, APP_ROLE)
                await module.install_write_side(conn)
            # In embedded mode a projection reads another service's log directly; that log
            # exists (empty) even when its service is not composed here, and fills once it is.
            for source in {p.source for m in self.modules for p in m.projections} - {m.name for m in self.modules}:
                await install_log(conn, source, APP_ROLE)
        for module in self.modules:
            admin = ProjectionAdmin(self.admin_pool, module.name, upcasters=module.upcasters)
            for projection in module.projections:
                await admin.ensure(projection)
                module.runners[projection.name] = ProjectionRunner(
                    self.app_pool,
                    module.name,
                    projection,
                    upcasters=module.upcasters,
                    poll_interval=self.poll_interval,
                )

    def start(self) -> None:
        for module in self.modules:
            for name, runner in module.runners.items():
                self._tasks.append(asyncio.create_task(self._supervise(f"{module.name}.{name}", runner)))

    async def _supervise(self, name: str, runner: ProjectionRunner) -> None:
        """Restart a crashed runner with backoff; the failure stays visible in /health/ready."""
        delay = 0.5
        while not runner.stopping.is_set():
            try:
                await runner.run()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.failures[name] = repr(error)
                log.exception("projection %s failed; restarting in %.1fs", name, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def stop(self, grace: float = 5.0) -> None:
        """Ask runners to stop between batches; cancel only those that do not within `grace`
        (cancelling mid-query leaves asyncpg waiting on a server-side cancel)."""
        for module in self.modules:
            for runner in module.runners.values():
                runner.stop()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=grace)
            for task in late:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks.clear()
