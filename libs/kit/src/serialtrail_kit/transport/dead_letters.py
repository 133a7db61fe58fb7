"""Dead-letter topics, read and redriven by an operator.

A message lands on `<topic>.dlq` exactly as it arrived, with headers saying why, which reader
set it aside, where that reader keeps its state and where the message was. Redriving one
publishes it again to the topic it came from, after releasing the setting-aside reader's note
that it handled the event: that reader applies it once, and every other reader of the topic,
which applied it already, recognises it and leaves it. Redriving it again changes nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from serialtrail_kit.db import Pool, ident
from serialtrail_kit.transport.topics import DEAD_LETTER_SUFFIX, read_to_end

LABELS = ("dead_letter_reason", "dead_letter_reader", "dead_letter_owner", "dead_letter_source")


@dataclass(frozen=True)
class DeadLetter:
    topic: str  # the dead-letter topic
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"

    def label(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k == name]
        return found[-1].decode(errors="replace") if found else None

    @property
    def reason(self) -> str:
        return self.label("dead_letter_reason") or "(no reason recorded)"

    @property
    def origin(self) -> str:
        """The topic the message was set aside from: the one this dead-letter topic belongs to,
        whatever the message's own headers claim."""
        return self.topic.removesuffix(DEAD_LETTER_SUFFIX)

    def problem(self, owners: frozenset[str]) -> str | None:
        """Why this letter must not be redriven: headers that disagree with where it lies."""
        source = self.label("dead_letter_source")
        if source is not None and source.rsplit(":", 2)[0] != self.origin:
            return f"{self.id} claims to come from {source}, not {self.origin}"
        owner = self.label("dead_letter_owner")
        if owner is not None and owner not in owners:
            return f"{self.id} names reader state in {owner!r}, which is no service of this installation"
        return None

    @property
    def envelope(self) -> dict[str, Any] | None:
        """The event envelope it carries, or None for a message that never was one."""
        try:
            body = orjson.loads(self.value)
        except orjson.JSONDecodeError:
            return None
        return body if isinstance(body, dict) and "event_id" in body else None


async def read_dead_letters(bootstrap_servers: str, topic: str) -> list[DeadLetter]:
    """Every message on a dead-letter topic, oldest first per partition (no consumer group:
    reading them changes nothing)."""
    return [_letter(m) for m in await read_to_end(bootstrap_servers, topic)]


def _letter(message: Any) -> DeadLetter:
    headers = tuple((k, bytes(v)) for k, v in (message.headers or ()))
    return DeadLetter(message.topic, message.partition, message.offset, message.key, message.value, headers)


class RefusedRedrive(ValueError):
    pass


async def redrive(bootstrap_servers: str, pool: Pool, letters: list[DeadLetter], owners: frozenset[str]) -> list[str]:
    """Publish each letter again to the topic it came from; returns where each went. Nothing is
    sent when any letter's headers disagree with where it lies (a forged letter)."""
    problems = [p for letter in letters if (p := letter.problem(owners)) is not None]
    if problems:
        raise RefusedRedrive("; ".join(problems))
    await _forget_handled(pool, letters)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        sent = []
        for letter in letters:
            headers = [(k, v) for k, v in letter.headers if k not in LABELS]
            headers.append(("redriven_from", f"{letter.topic}:{letter.id}".encode()))
            sent.append(await producer.send(letter.origin, value=letter.value, key=letter.key, headers=headers))
        acknowledged = await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return [f"{meta.topic}:{meta.partition}:{meta.offset}" for meta in acknowledged]


async def _forget_handled(pool: Pool, letters: list[DeadLetter]) -> None:
    """The reader that set an event aside noted it as handled; forget that note, once: a
    letter redriven again after the event was applied changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        for letter in letters:
            owner, reader = letter.label("dead_letter_owner"), letter.label("dead_letter_reader")
            envelope = letter.envelope
            if owner and reader and envelope is not None:
                await conn.execute(
                    f"WITH released AS (DELETE FROM {ident(owner)}.set_aside WHERE reader = $1 AND event_id = $2::uuid "
                    f"RETURNING event_id) DELETE FROM {ident(owner)}.processed_messages "
                    "WHERE reader = $1 AND event_id IN (SELECT event_id FROM released)",
                    reader,
                    envelope["event_id"],
                )
