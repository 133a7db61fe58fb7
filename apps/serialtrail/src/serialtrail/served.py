"""A real `serialtrail run` process in a temporary data directory (embedded PostgreSQL), for
benchmarks and for tests that need a server over HTTP, as users run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from serialtrail_kit.pgserver import free_port


@contextmanager
def running_server(**settings: str) -> Iterator[tuple[str, str]]:
    """(base URL, admin API key) of a fresh server; `settings` are SERIALTRAIL_* variables."""
    with running_process(**settings) as (base, key, _):
        yield base, key


@contextmanager
def running_process(**settings: str) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """As `running_server`, with the server's process (to watch its memory, for one)."""
    with tempfile.TemporaryDirectory(prefix="serialtrail-served-") as data_dir:
        os.chmod(data_dir, 0o755)  # noqa: S103 - the unprivileged postgres user must reach its data dir
        port = free_port()
        env = {**os.environ, "SERIALTRAIL_DATA_DIR": data_dir, "SERIALTRAIL_PROJECTION_POLL_INTERVAL": "0.2"}
        env |= {f"SERIALTRAIL_{name.upper()}": value for name, value in settings.items()}
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no outside input
            [sys.executable, "-m", "serialtrail", "run", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(data_dir, "server.log"), "w"),  # noqa: SIM115
        )
        log_path = os.path.join(data_dir, "server.log")
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, process)
            yield base, _admin_key(log_path), process
        finally:
            stopped(process)


def distributed_env(dsn: str, bootstrap_servers: str, topic_prefix: str) -> dict[str, str]:
    """The environment of a `serialtrail serve` process on its own PostgreSQL and broker (this run's
    topics), with the short polls benchmarks and tests want."""
    return {
        **os.environ,
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
        "SERIALTRAIL_KAFKA_TOPIC_PREFIX": topic_prefix,
        "SERIALTRAIL_KAFKA_FETCH_MAX_WAIT_MS": "100",
        "SERIALTRAIL_PROJECTION_POLL_INTERVAL": "0.2",
    }


def stopped(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Asked to stop as Ctrl-C would (it writes its last checkpoint); killed if it does not within `timeout` s."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def _admin_key(log_path: str) -> str:
    """The first-start admin key the server prints (once) on its console, once it works."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(log_path) as log:
            for line in log:
                if "ADMIN_KEY=" in line:
                    return line.split("ADMIN_KEY=", 1)[1].strip()
        time.sleep(0.1)
    raise RuntimeError("the server printed no admin key")
