"""Create Serialtrail's topics and their dead-letter topics, explicitly: services never
auto-create them, and check at start that theirs exist.

    KAFKA_BOOTSTRAP_SERVERS=broker:9092 .venv/bin/python scripts/create_topics.py --partitions 12
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from serialtrail_contracts import topics
from serialtrail_kit.transport.topics import DEFAULT_PARTITIONS, create_topics, with_dead_letters

app = typer.Typer(add_completion=False)


@app.command()
def main(
    bootstrap_servers: Annotated[str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka brokers")],
    partitions: Annotated[int, typer.Option(min=1, help="partitions per topic (streams spread by key)")] = (
        DEFAULT_PARTITIONS
    ),
    prefix: Annotated[str, typer.Option(envvar="SERIALTRAIL_KAFKA_TOPIC_PREFIX", help="topic name prefix")] = "",
) -> None:
    """Create every missing topic with retention.ms=-1 (a topic is a copy of a log: it keeps everything)."""
    names = with_dead_letters(prefix + topic for topic in topics.ALL)
    created = asyncio.run(create_topics(bootstrap_servers, names, partitions))
    for name in names:
        typer.echo(f"{'created' if name in created else 'exists '}  {name}")


if __name__ == "__main__":
    app()
