"""Distributed mode's wiring: which topic each log is relayed to, and subscriptions that read
other services' topics. Chosen by settings; services' own code never sees it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from serialtrail_contracts import topics

from serialtrail_kit.db import Pool
from serialtrail_kit.eventstore.upcasting import NO_UPCASTERS, Upcasters
from serialtrail_kit.readers.delivery import Subscribe, Subscription
from serialtrail_kit.transport.checkpoints import TopicCheckpoints
from serialtrail_kit.transport.kafka import KafkaDeliveries
from serialtrail_kit.transport.relay import Relay
from serialtrail_kit.transport.topics import require_topics, with_dead_letters


def topic_of(service: str) -> str:
    try:
        return topics.BY_SERVICE[service]
    except KeyError:
        raise LookupError(f"no topic is declared for service {service!r} in serialtrail_contracts.topics") from None


@dataclass(frozen=True)
class KafkaTransport:
    bootstrap_servers: str
    consumer_settings: dict[str, int] = field(default_factory=dict)
    prefix: str = ""  # for several installations (or test runs) sharing one cluster

    def topic(self, service: str) -> str:
        return self.prefix + topic_of(service)

    def subscribe(self, owner: str, source: str, upcasters: Upcasters = NO_UPCASTERS) -> Subscribe:
        def make(reader: str, stopping: asyncio.Event) -> Subscription:
            return KafkaDeliveries(
                self.bootstrap_servers,
                self.topic(source),
                group_id=f"{self.prefix}serialtrail.{owner}.{reader}",
                reader_schema=owner,
                reader=reader,
                upcasters=upcasters,
                consumer_settings=self.consumer_settings,
                stopping=stopping,
            )

        return make

    def checkpoint_copy(self) -> TopicCheckpoints:
        """Checkpoints of each log, published on the log's own topic."""
        return TopicCheckpoints(self.bootstrap_servers, self.topic)

    def relay(self, pool: Pool, service: str, poll_interval: float) -> Relay:
        return Relay(pool, service, self.topic(service), self.bootstrap_servers, poll_interval=poll_interval)

    async def check(self, published: Iterable[str], consumed: Iterable[str]) -> None:
        """Fail fast, naming every missing topic: the services' own and those they read
        (with their dead-letter topics)."""
        needed = [self.topic(s) for s in published] + with_dead_letters(self.topic(s) for s in consumed)
        await require_topics(self.bootstrap_servers, needed)
