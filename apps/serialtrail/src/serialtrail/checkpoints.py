"""`serialtrail checkpoints …`: check signed checkpoints without any database — what an
inspector or an auditor holding an old checkpoint does with the public key alone."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from serialtrail_kit.eventstore.checkpoints import (
    Checkpoint,
    CheckpointDirectory,
    load_public_key,
    read_lines,
    signature_valid,
)
from serialtrail_kit.settings import Settings
from serialtrail_kit.transport.checkpoints import read_topic_checkpoints
from serialtrail_kit.transport.wiring import topic_of

from serialtrail.services import BY_NAME

checkpoints_app = typer.Typer(help="Check signed checkpoints of the logs, offline.", no_args_is_help=True)


@checkpoints_app.command("verify")
def verify(
    files: Annotated[list[Path], typer.Argument(help="checkpoint files (<log>.checkpoints.jsonl)")],
    public_key: Annotated[Path, typer.Option(help="PEM public key the checkpoints are signed with")],
) -> None:
    """Every checkpoint validly signed, and each log's checkpoints never moving backwards."""
    if not public_key.is_file():
        typer.echo(
            f"no public key at {public_key} (it is <checkpoint key>.pub, by default in the data directory)", err=True
        )
        raise typer.Exit(2)
    keys = [load_public_key(public_key)]
    bad = 0
    for path in files:
        last: dict[str, int] = {}
        for number, checkpoint in enumerate(read_lines(path), start=1):
            where = f"{path}:{number} ({checkpoint.log} at position {checkpoint.position}, {checkpoint.at})"
            if not signature_valid(checkpoint, keys):
                bad += 1
                typer.echo(f"{where}: signature INVALID")
            elif checkpoint.position < last.get(checkpoint.log, 0):
                bad += 1
                typer.echo(f"{where}: goes back from position {last[checkpoint.log]}")
            else:
                typer.echo(f"{where}: ok")
                last[checkpoint.log] = checkpoint.position
    raise typer.Exit(1 if bad else 0)


@checkpoints_app.command("export")
def export(
    log_name: Annotated[str, typer.Argument(metavar="SERVICE", help="the service whose log's checkpoints to export")],
    out: Annotated[Path, typer.Option(help="file to write (<log>.checkpoints.jsonl format)")],
) -> None:
    """Gather a log's checkpoints from every place they are kept (the checkpoint directory and,
    in distributed mode, the log's topic) into one file, for `checkpoints verify` anywhere."""
    try:
        settings = Settings()
    except ValueError as error:
        typer.echo(f"invalid settings: {error}", err=True)
        raise typer.Exit(2) from error
    if log_name not in BY_NAME:
        typer.echo(f"unknown service {log_name!r}; known: {', '.join(BY_NAME)}", err=True)
        raise typer.Exit(2)
    found = asyncio.run(found_checkpoints(settings, log_name))
    out.write_text("".join(c.to_line() for c in found.checkpoints), encoding="utf-8")
    typer.echo(f"{out}: {found.count} checkpoints of {log_name} ({found.where})")


@dataclass(frozen=True)
class Found:
    """A log's checkpoints from every place they are kept, each one once."""

    checkpoints: list[Checkpoint]
    where: str  # how many came from each place

    @property
    def count(self) -> int:
        return len(self.checkpoints)


async def found_checkpoints(settings: Settings, log_name: str) -> Found:
    """The checkpoint directory's and, in distributed mode, those on the log's topic: removing
    either copy leaves the other to check against."""
    in_directory = CheckpointDirectory(settings.checkpoints_at).read(log_name)
    places = {"directory": in_directory}
    if settings.kafka_bootstrap_servers:
        topic = settings.kafka_topic_prefix + topic_of(log_name)
        places[f"topic {topic}"] = await read_topic_checkpoints(settings.kafka_bootstrap_servers, topic, log_name)
    unique: dict[tuple[int, str, str], Checkpoint] = {}
    for found in places.values():
        for checkpoint in found:
            unique.setdefault((checkpoint.position, checkpoint.at, checkpoint.signature), checkpoint)
    where = ", ".join(f"{len(found)} in the {place}" for place, found in places.items())
    return Found(sorted(unique.values(), key=lambda c: c.position), where)
