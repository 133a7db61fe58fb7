"""`serialtrail dlq …`: the dead-letter topics (distributed mode): what was set aside and
why, one message in full, and redriving messages to the topic they came from."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from serialtrail_contracts import topics
from serialtrail_kit.db import create_pool
from serialtrail_kit.settings import Settings
from serialtrail_kit.transport.dead_letters import (
    DeadLetter,
    RefusedRedrive,
    read_dead_letters,
    redrive,
)
from serialtrail_kit.transport.topics import dead_letter_topic

from serialtrail import embedded
from serialtrail.services import BY_NAME

dlq_app = typer.Typer(help="Dead-letter topics: list, show and redrive set-aside messages.", no_args_is_help=True)


def _settings() -> Settings:
    settings = Settings()
    if not settings.kafka_bootstrap_servers:
        typer.echo("dead-letter topics exist in distributed mode: set KAFKA_BOOTSTRAP_SERVERS", err=True)
        raise typer.Exit(2)
    return settings


def _topics(settings: Settings, topic: str | None) -> list[str]:
    known = [dead_letter_topic(settings.kafka_topic_prefix + t) for t in topics.ALL]
    if topic is None:
        return known
    if topic not in known:
        typer.echo(f"unknown dead-letter topic {topic!r}; one of: {', '.join(known)}", err=True)
        raise typer.Exit(2)
    return [topic]


def _summary(letter: DeadLetter) -> str:
    envelope = letter.envelope
    event = f"{envelope['event_type']} {envelope['event_id']}" if envelope else "(not an event envelope)"
    reader = letter.label("dead_letter_reader") or "-"
    return f"{letter.topic} {letter.id}  {event}  reader={reader}  back to {letter.origin}  reason: {letter.reason}"


@dlq_app.command("list")
def list_letters(
    topic: Annotated[str | None, typer.Option(help="one dead-letter topic (default: every one)")] = None,
) -> None:
    """Every set-aside message with its event, the reader that set it aside, and why."""
    settings = _settings()
    assert settings.kafka_bootstrap_servers is not None
    total = 0
    for name in _topics(settings, topic):
        for letter in asyncio.run(read_dead_letters(settings.kafka_bootstrap_servers, name)):
            typer.echo(_summary(letter))
            total += 1
    typer.echo(f"{total} dead letter(s)")


@dlq_app.command("show")
def show(
    topic: Annotated[str, typer.Argument(help="the dead-letter topic")],
    letter_id: Annotated[str, typer.Argument(help="partition:offset, as `dlq list` prints it")],
) -> None:
    """One message in full: its headers and its body as it arrived."""
    letter = _find(_settings(), topic, [letter_id])[0]
    typer.echo(_summary(letter))
    for key, value in letter.headers:
        typer.echo(f"  {key}: {value.decode(errors='replace')}")
    body = letter.envelope
    typer.echo(json.dumps(body, indent=2) if body is not None else letter.value.decode(errors="replace"))


@dlq_app.command("redrive")
def redrive_command(
    topic: Annotated[str, typer.Argument(help="the dead-letter topic")],
    letter_ids: Annotated[list[str] | None, typer.Argument(help="partition:offset of each message")] = None,
    every: Annotated[bool, typer.Option("--all", help="every message on the topic")] = False,
) -> None:
    """Publish messages again to the topic they came from: the reader that set one aside
    applies it once; readers that applied it already leave it."""
    settings = _settings()
    if bool(letter_ids) == every:
        typer.echo("name the messages (partition:offset …) or give --all", err=True)
        raise typer.Exit(2)
    letters = _find(settings, topic, None if every else letter_ids)
    assert settings.kafka_bootstrap_servers is not None
    bootstrap = settings.kafka_bootstrap_servers
    with embedded.database(settings, start_if_needed=False) as dsn:

        async def run() -> list[str]:
            pool = await create_pool(dsn, max_size=2)
            try:
                return await redrive(bootstrap, pool, letters, frozenset(BY_NAME))
            finally:
                await pool.close()

        try:
            sent = asyncio.run(run())
        except RefusedRedrive as refused:
            typer.echo(f"nothing redriven: {refused}", err=True)
            raise typer.Exit(1) from refused
    for letter, where in zip(letters, sent, strict=True):
        typer.echo(f"{letter.topic} {letter.id} → {where}")
    typer.echo(f"{len(sent)} message(s) redriven")


def _find(settings: Settings, topic: str, ids: list[str] | None) -> list[DeadLetter]:
    (name,) = _topics(settings, topic)
    assert settings.kafka_bootstrap_servers is not None
    letters = asyncio.run(read_dead_letters(settings.kafka_bootstrap_servers, name))
    if ids is None:
        return letters
    by_id = {letter.id: letter for letter in letters}
    missing = [i for i in ids if i not in by_id]
    if missing:
        typer.echo(f"no message {', '.join(missing)} on {name}", err=True)
        raise typer.Exit(1)
    return [by_id[i] for i in ids]
