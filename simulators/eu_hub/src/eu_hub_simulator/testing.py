"""The simulator as a test fixture: a real subprocess on a free port, started, restarted (on the
same port and data file), killed -9, and always stopped at the end.

    async with running_simulator(tmp_path) as hub:
        async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers) as client: ...
        await hub.faults({"status": 503, "retry_after": "1"}, path="/packs$")
        await hub.restart()
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import IO, Any

import httpx

from eu_hub_simulator.__main__ import TOKEN_VARIABLE

DEFAULT_TOKEN = "eu-hub-simulator-test-token"  # noqa: S105 (a test token for a local simulator)
READY_LINE = "eu-hub-simulator listening on "
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class SimulatorFailed(RuntimeError):
    pass


class RunningSimulator:
    def __init__(self, data_dir: Path, token: str = DEFAULT_TOKEN) -> None:
        self.data_dir = data_dir
        self.data = data_dir / "eu-hub.sqlite"
        self.log = data_dir / "eu-hub-simulator.log"  # its stderr: read it when a test fails
        self.token = token
        self.port = 0  # the first start takes any free port; later starts take the same one
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        if self._process is not None:
            raise SimulatorFailed("the simulator is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("ab")
        command = [sys.executable, "-m", "eu_hub_simulator", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--data", str(self.data)]
        env = {**os.environ, TOKEN_VARIABLE: self.token}
        # Started on a thread: forking a big test process can take a while and must not stall the loop.
        self._process = await asyncio.to_thread(
            subprocess.Popen,
            command,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env=env,
        )
        try:
            await self._read_address()
            await self._wait_healthy()
        except BaseException:
            self.kill()
            raise

    async def _read_address(self) -> None:
        assert self._process is not None
        stdout = self._process.stdout
        assert stdout is not None
        try:
            line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), START_TIMEOUT)
        except TimeoutError:
            raise SimulatorFailed(f"no address printed within {START_TIMEOUT} s; see {self.log}") from None
        text = line.decode().strip()
        if not text.startswith(READY_LINE):
            raise SimulatorFailed(f"the simulator did not start ({text!r}); see {self.log}")
        self.url = text.removeprefix(READY_LINE)
        self.port = int(self.url.rsplit(":", 1)[1])

    async def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:
            while True:
                with suppress(httpx.TransportError):
                    if (await client.get("/health")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise SimulatorFailed(f"/health did not answer within {START_TIMEOUT} s; see {self.log}")
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Gracefully: SIGTERM, then SIGKILL if it has not ended within STOP_TIMEOUT."""
        process = self._process
        try:
            if process is not None and process.poll() is None:
                process.terminate()
                with suppress(subprocess.TimeoutExpired):
                    await asyncio.to_thread(process.wait, STOP_TIMEOUT)
        finally:
            self.kill()  # too slow, or cancelled while waiting: it never outlives the test

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing is flushed or closed by the simulator."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._forget()

    def _forget(self) -> None:
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()
        if self._log_file is not None:
            self._log_file.close()
        self._process, self._log_file = None, None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=30.0) as client:
            answer = await client.request(method, path, json=body)
        answer.raise_for_status()
        return answer.json()

    async def faults(self, *answers: Mapping[str, Any], path: str | None = None) -> int:
        """Script the next len(answers) /v1 requests matching `path` (a regex searched in the path;
        every /v1 path when None). Each answer: status, delay, retry_after, process. Returns the
        number of scripted answers still pending."""
        body: dict[str, Any] = {"answers": list(answers)}
        if path is not None:
            body["path"] = path
        return int((await self._call("POST", "/_sim/faults", body))["pending"])

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/_sim/faults")

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/_sim/stats")
        return result

    async def clock(self, offset_seconds: float) -> None:
        await self._call("POST", "/_sim/clock", {"offset_seconds": offset_seconds})

    async def verify(self, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", "/_sim/verify", body)
        return result

    async def pack(self, product_code: str, serial: str) -> dict[str, Any]:
        """The pack as the hub holds it, with its state history."""
        result: dict[str, Any] = await self._call("GET", f"/_sim/packs/{product_code}/{serial}")
        return result


@asynccontextmanager
async def running_simulator(data_dir: Path, token: str = DEFAULT_TOKEN) -> AsyncIterator[RunningSimulator]:
    hub = RunningSimulator(data_dir, token)
    try:
        await hub.start()
        yield hub
    finally:
        await hub.stop()
