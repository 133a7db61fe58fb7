"""The EU hub simulator beside the service, for a development run (`make run`, `serialtrail run
--distributed`): when `SERIALTRAIL_FMD_HUB_SIMULATOR` is on, a worker runs the simulator
(`eu_hub_simulator`, a process of its own) on the hub URL with the service's own token and a data
file that outlives restarts, so uploads have a hub to go to without anyone setting one up. Never in
production (the settings refuse it there)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from urllib.parse import urlsplit

from fmd_hub.settings import FmdHubSettings

log = logging.getLogger(__name__)
TOKEN_VARIABLE = "EU_HUB_SIMULATOR_TOKEN"  # noqa: S105 - the variable's name (the simulator reads it)
STOP_SECONDS = 10.0
START_SECONDS = 30.0


class SimulatedHub:
    def __init__(self, settings: FmdHubSettings) -> None:
        self.settings = settings
        self.stopping = asyncio.Event()

    def command(self) -> list[str]:
        address = urlsplit(self.settings.hub_url)
        host, port = address.hostname or "127.0.0.1", str(address.port or 80)
        return [sys.executable, "-m", "eu_hub_simulator", "--host", host, "--port", port, "--data", self.data()]

    def data(self) -> str:
        return str(self.settings.simulator_data)

    def environment(self) -> dict[str, str]:
        """The token in its environment, not on its command line (which `ps` shows)."""
        token = self.settings.hub_token.get_secret_value() if self.settings.hub_token else ""
        return {**os.environ, TOKEN_VARIABLE: token}

    async def run(self) -> None:
        if not self.settings.simulator:
            await self.stopping.wait()
            return
        if await asyncio.to_thread(served_elsewhere, self.settings.hub_url):
            raise RuntimeError(
                f"{self.settings.hub_url} is served by another process: the hub simulator cannot start there, and "
                "uploads (with the hub token) would go to that process; free the port or set "
                "SERIALTRAIL_FMD_HUB_HUB_URL to a free one"
            )
        self.settings.simulator_data.parent.mkdir(parents=True, exist_ok=True)
        process = await asyncio.create_subprocess_exec(
            *self.command(), stdout=asyncio.subprocess.PIPE, env=self.environment()
        )
        try:
            await self._listening(process)
            log.warning(
                "EU hub simulator (pid %s) serving %s, data in %s: a stand-in, not the hub",
                process.pid,
                self.settings.hub_url,
                self.data(),
            )
            waiting = asyncio.create_task(self.stopping.wait())
            exited = asyncio.create_task(process.wait())
            await asyncio.wait([waiting, exited], return_when=asyncio.FIRST_COMPLETED)
            if exited.done():  # the supervisor starts it again after a pause
                raise RuntimeError(f"the EU hub simulator exited with {process.returncode} (is its port taken?)")
        finally:
            await _stopped(process)

    def stop(self) -> None:
        self.stopping.set()

    async def _listening(self, process: asyncio.subprocess.Process) -> None:
        """Until the simulator says it listens (its one line), or fails saying why."""
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), START_SECONDS)
        if b"listening on" not in line:
            await process.wait()
            raise RuntimeError(f"the EU hub simulator did not start (exit {process.returncode}); see its output above")


def refuse_a_taken_port(settings: FmdHubSettings) -> None:
    """At start, with the simulator on: its port must be free, or the hub token would go, with every
    upload and alert fetch, to whatever process serves it (a leftover simulator of another run, say)."""
    if not settings.simulator:
        return
    address = urlsplit(settings.hub_url)
    with (
        contextlib.suppress(OSError),
        socket.create_connection((address.hostname or "127.0.0.1", address.port or 80), 1),
    ):
        raise RuntimeError(
            f"{settings.hub_url} is served by another process: with SERIALTRAIL_FMD_HUB_SIMULATOR on, the hub "
            "simulator is started there and the hub token sent to it; stop that process, or set "
            "SERIALTRAIL_FMD_HUB_HUB_URL to a free port"
        )


def served_elsewhere(url: str) -> bool:
    """Something already accepts connections on the URL's port."""
    address = urlsplit(url)
    try:
        with socket.create_connection((address.hostname or "127.0.0.1", address.port or 80), 1):
            return True
    except OSError:
        return False


async def _stopped(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
