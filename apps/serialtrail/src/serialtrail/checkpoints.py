"""`serialtrail checkpoints …`: check signed checkpoints without any database — what an
inspector or an auditor holding an old checkpoint does with the public key alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from serialtrail_kit.eventstore.checkpoints import load_public_key, read_lines, signature_valid

checkpoints_app = typer.Typer(help="Check signed checkpoints of the logs, offline.", no_args_is_help=True)


@checkpoints_app.command("verify")
def verify(
    files: Annotated[list[Path], typer.Argument(help="checkpoint files (<log>.checkpoints.jsonl)")],
    public_key: Annotated[Path, typer.Option(help="PEM public key the checkpoints are signed with")],
) -> None:
    """Every checkpoint validly signed, and each log's checkpoints never moving backwards."""
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
