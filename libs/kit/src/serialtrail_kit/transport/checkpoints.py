"""Signed checkpoints on the service's own topic, beside its events.

In distributed mode each checkpoint is also published to the topic the log is relayed to: a
copy held by the broker, outside the log's database and outside the checkpoint directory, so
deleting or trimming either one still leaves the other. A checkpoint message carries the
header `record_type: checkpoint` and no event headers; consumers of the topic pass over it
(it is no event) and `verify-log` reads them back.

All checkpoints of one log share a key, so they lie in one partition, in the order taken."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer

from serialtrail_kit.eventstore.checkpoints import Checkpoint, parsed_or_unreadable
from serialtrail_kit.transport.topics import read_to_end

RECORD_TYPE = "record_type"
CHECKPOINT = b"checkpoint"


def is_checkpoint(headers: Sequence[tuple[str, bytes]] | None) -> bool:
    return any(name == RECORD_TYPE and value == CHECKPOINT for name, value in headers or ())


def message_key(log_name: str) -> bytes:
    return f"checkpoint:{log_name}".encode()


class TopicCheckpoints:
    """Publishes each checkpoint to its log's topic and waits for the broker's acknowledgement
    (acks=all) before the checkpoint counts as written."""

    def __init__(self, bootstrap_servers: str, topic_of: Callable[[str], str]) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic_of = topic_of
        self._producer: AIOKafkaProducer | None = None

    async def append(self, checkpoint: Checkpoint) -> None:
        if self._producer is None:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all", enable_idempotence=False)
            await producer.start()
            self._producer = producer
        await self._producer.send_and_wait(
            self.topic_of(checkpoint.log),
            value=checkpoint.to_line().encode(),
            key=message_key(checkpoint.log),
            headers=[(RECORD_TYPE, CHECKPOINT)],
        )

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


async def read_topic_checkpoints(bootstrap_servers: str, topic: str, log_name: str) -> list[Checkpoint]:
    """Every checkpoint of `log_name` published on `topic`, in the order taken. A message
    marked as a checkpoint that does not parse is returned as an unsigned one, so that
    `verify-log` reports it rather than passing over it."""
    found = []
    key = message_key(log_name)
    for message in await read_to_end(bootstrap_servers, topic, key=key):
        if is_checkpoint(message.headers) and message.key == key:
            where = f"unreadable message {message.topic}:{message.partition}:{message.offset}"
            found.append(parsed_or_unreadable(bytes(message.value or b"").decode(errors="replace"), where))
    return found
