"""The reactor port's contract, on both transports: another service's log read directly
(embedded mode) and its Kafka topic fed by the relay (distributed mode). A reaction is
recorded once per causing event, with the cause as its causation, whatever is redelivered,
restarted or read again from the start."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import ClassVar

import pytest
from serialtrail_contracts.base import EventContract, event_types
from serialtrail_kit.db import Pool
from serialtrail_kit.eventstore.model import NewEvent, RecordedEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.readers.delivery import Subscribe
from serialtrail_kit.readers.projection import ProjectionAdmin, ProjectionRunner
from serialtrail_kit.testing.harness import SYSTEM
from serialtrail_kit.testing.readers import logs, running, topic_subscription
from serialtrail_kit.testing.waiting import until
from serialtrail_kit.transport.relay import Relay
from serialtrail_kit.transport.topics import create_topics, with_dead_letters
from serialtrail_kit.writes.model import UnitOfWork, WriteModel
from serialtrail_kit.writes.reactor import ReactorFold, keep_part, take_parts

SOURCE, OWNER = "ordering_svc", "shipping_svc"


class Shipped(EventContract):
    EVENT_TYPE: ClassVar[str] = "test.Shipped"
    EVENT_VERSION: ClassVar[int] = 1
    order: str
    quantity: int


class Shipper:
    """Ships each order once; ignores everything else its source records."""

    name = "shipper"
    source = SOURCE

    async def react(self, event: RecordedEvent, work: UnitOfWork) -> None:
        if event.event_type != "test.Ordered":
            return
        stream = await work.stream(f"shipment-{event.payload['order']}")
        work.record(stream.id, stream.version, [Shipped(order=event.payload["order"], quantity=event.payload["n"])])


class Gatherer:
    """Ships an order once it is closed, with every line it had: lines arrive one message each."""

    name = "gatherer"
    source = SOURCE

    async def react(self, event: RecordedEvent, work: UnitOfWork) -> None:
        order = event.payload["order"]
        if event.event_type == "test.Line":
            await keep_part(work, self.name, order, event.stream_version, event.payload["n"])
        elif event.event_type == "test.Closed":
            lines = await take_parts(work, self.name, order)
            digits = int("".join(str(n) for n in lines))  # in the order they were kept
            work.record(f"shipment-{order}", 0, [Shipped(order=order, quantity=digits)])


@dataclass
class World:
    admin: Pool
    app: Pool
    source: PostgresEventStore
    writes: WriteModel
    fold: ReactorFold
    subscribe: Subscribe | None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def order(self, count: int, start: int = 0, kind: str = "test.Ordered") -> list[RecordedEvent]:
        appends = [
            StreamAppend(
                stream_id=f"order-{n}",
                expected_version=0,
                events=(NewEvent(event_type=kind, event_version=1, payload={"order": f"o{n}", "n": n}),),
            )
            for n in range(start, start + count)
        ]
        return await self.source.append(appends, SYSTEM.model_copy(update={"correlation_id": "corr-1"}))

    def runner(self) -> ProjectionRunner:
        return ProjectionRunner(self.app, OWNER, self.fold, poll_interval=0.1, subscribe=self.subscribe)

    async def shipped(self) -> list[RecordedEvent]:
        return await PostgresEventStore(self.app, OWNER).read_all(0, 10_000)


@pytest.fixture(params=["log", "kafka"])
async def world(request: pytest.FixtureRequest, database_dsn: str) -> AsyncIterator[World]:
    async with logs(database_dsn, SOURCE, OWNER) as (admin, app):
        writes = WriteModel(PostgresEventStore(app, OWNER), event_types(Shipped))
        fold = ReactorFold(Shipper(), writes, "0.0.0-test", "sha256:test")
        await ProjectionAdmin(admin, OWNER).ensure(fold)
        world = World(admin, app, PostgresEventStore(app, SOURCE), writes, fold, None)
        if request.param == "log":
            yield world
            return
        bootstrap: str = request.getfixturevalue("kafka_bootstrap")
        topic = f"reactor.{uuid.uuid4().hex[:8]}.v1"
        await create_topics(bootstrap, with_dead_letters([topic]), partitions=3)
        relay = Relay(app, SOURCE, topic, bootstrap, poll_interval=0.1)
        world.tasks.append(asyncio.create_task(relay.run()))
        # A consumer group per generation, as in distributed mode.
        world.subscribe = topic_subscription(bootstrap, topic, OWNER, f"g-{uuid.uuid4().hex[:6]}-")
        try:
            yield world
        finally:
            relay.stop()
            await asyncio.wait(world.tasks, timeout=10)


async def shipped_orders(world: World, count: int) -> list[str]:
    """The orders shipped, once at least `count` reactions are recorded."""

    async def enough() -> bool:
        return len(await world.shipped()) >= count

    await until(enough, timeout=60, interval=0.05)
    return sorted(e.payload["order"] for e in await world.shipped())


async def test_each_cause_gets_one_reaction_that_names_it(world: World) -> None:
    causes = await world.order(5)
    await world.order(2, start=100, kind="test.Cancelled")  # not a cause: tracked past, nothing recorded
    async with running(world.runner()) as runner:
        assert await shipped_orders(world, 5) == [f"o{n}" for n in range(5)]
        await runner.caught_up(timeout=30)
    reactions = await world.shipped()
    assert len(reactions) == 5
    by_cause = {str(c.event_id): c for c in causes}
    for reaction in reactions:
        cause = by_cause[reaction.metadata["causation_id"]]
        assert reaction.payload["order"] == cause.payload["order"]
        assert reaction.metadata["correlation_id"] == "corr-1"
        assert reaction.metadata["principal_id"] == f"reactor:{OWNER}.shipper"


async def test_a_restart_resumes_and_records_nothing_twice(world: World) -> None:
    await world.order(10)
    async with running(world.runner()):
        assert len(await shipped_orders(world, 10)) == 10
    await world.order(5, start=10)
    async with running(world.runner()) as runner:
        assert len(await shipped_orders(world, 15)) == 15
        await runner.caught_up(timeout=30)
    assert sorted(e.payload["order"] for e in await world.shipped()) == sorted(f"o{n}" for n in range(15))


async def test_reading_the_source_again_from_the_start_records_nothing_twice(world: World) -> None:
    """A new generation reads its source from the start (a replay, a new consumer group): the
    causes already reacted to are recognised, only new ones get a reaction."""
    await world.order(8)
    async with running(world.runner()):
        assert len(await shipped_orders(world, 8)) == 8
    result = await ProjectionAdmin(world.admin, OWNER).replay(world.fold)
    assert result.events == 8  # every cause was delivered again...
    assert len(await world.shipped()) == 8  # ...and none reacted to twice
    await world.order(2, start=8)
    async with running(world.runner()) as runner:
        assert len(await shipped_orders(world, 10)) == 10
        await runner.caught_up(timeout=30)
    assert len(await world.shipped()) == 10


async def test_a_whole_delivered_in_parts_is_decided_once_with_every_part_in_order(world: World) -> None:
    for version, (kind, n) in enumerate([("test.Line", 3), ("test.Line", 1), ("test.Line", 2), ("test.Closed", 0)]):
        new = NewEvent(event_type=kind, event_version=1, payload={"order": "g1", "n": n})
        await world.source.append([StreamAppend(stream_id="order-g1", expected_version=version, events=(new,))], SYSTEM)
    gathering = ReactorFold(Gatherer(), world.writes, "0.0.0-test", "sha256:test")
    await ProjectionAdmin(world.admin, OWNER).ensure(gathering)
    runner = ProjectionRunner(world.app, OWNER, gathering, poll_interval=0.1, subscribe=world.subscribe)
    async with running(runner):
        assert await shipped_orders(world, 1) == ["g1"]
        await runner.caught_up(timeout=30)
    assert [e.payload["quantity"] for e in await world.shipped()] == [312]
    await ProjectionAdmin(world.admin, OWNER).replay(gathering)  # every part delivered again: none kept twice
    async with world.app.acquire() as conn:
        assert await conn.fetchval(f"SELECT count(*) FROM {OWNER}.reaction_parts") == 0
    assert len(await world.shipped()) == 1
