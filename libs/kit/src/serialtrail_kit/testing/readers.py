"""Test plumbing for readers: the two pools and logs a reader test needs, a runner running for
the length of a block, and a Kafka subscription as distributed mode wires one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from serialtrail_kit.db import APP_ROLE, Pool, create_pool
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.readers.delivery import Subscribe, Subscription
from serialtrail_kit.readers.projection import ProjectionRunner
from serialtrail_kit.testing.broker import TEST_CONSUMER_SETTINGS
from serialtrail_kit.transport.kafka import KafkaDeliveries


@contextlib.asynccontextmanager
async def logs(dsn: str, *schemas: str, app_connections: int = 10) -> AsyncIterator[tuple[Pool, Pool]]:
    """(admin pool, application-role pool) on a database holding the logs of `schemas`."""
    admin = await create_pool(dsn)
    try:
        async with admin.acquire() as conn:
            for schema in schemas:
                await install_log(conn, schema)
        app = await create_pool(dsn, role=APP_ROLE, max_size=app_connections)
        try:
            yield admin, app
        finally:
            await app.close()
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def running(runner: ProjectionRunner, grace: float = 30.0) -> AsyncIterator[ProjectionRunner]:
    """The runner runs for the block; asked to stop at its end, cancelled if it does not."""
    task = asyncio.create_task(runner.run())
    try:
        yield runner
    finally:
        runner.stop()
        _, late = await asyncio.wait([task], timeout=grace)
        for pending in late:
            pending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def topic_subscription(bootstrap_servers: str, topic: str, owner: str, group_prefix: str) -> Subscribe:
    """Each reader (a read model's generation) in its own consumer group on `topic`."""

    def subscribe(reader: str, stopping: asyncio.Event) -> Subscription:
        return KafkaDeliveries(
            bootstrap_servers,
            topic,
            group_id=f"{group_prefix}{reader}",
            reader_schema=owner,
            reader=reader,
            consumer_settings=TEST_CONSUMER_SETTINGS,
            stopping=stopping,
        )

    return subscribe
