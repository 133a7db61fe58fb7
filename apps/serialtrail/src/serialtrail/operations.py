"""`serialtrail db setup` and `serialtrail topics create`: what distributed mode needs once,
before its services start (the compose and Kubernetes jobs run these)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from serialtrail_contracts import topics
from serialtrail_kit.db_setup import describe, setup_database
from serialtrail_kit.settings import Settings
from serialtrail_kit.startup import CannotStart, naming_kafka
from serialtrail_kit.transport.topics import DEFAULT_PARTITIONS, create_topics, with_dead_letters

db_app = typer.Typer(help="Database setup for distributed mode.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics for distributed mode.", no_args_is_help=True)


@db_app.command("setup")
def setup(
    admin_url: Annotated[
        str,
        typer.Option(
            envvar="SERIALTRAIL_DB_ADMIN_URL",
            help="an administrator's DSN (a superuser, or a role with CREATEDB and CREATEROLE); used for this only",
        ),
    ],
) -> None:
    """Create the database DATABASE_URL names, its owner login (DATABASE_URL's role), the
    serialtrail_app role and the service login (SERIALTRAIL_APP_DATABASE_URL's role), with their
    grants. Safe to run again with the same DSNs. An unset DSN is generated (database: DATABASE_URL's,
    else serialtrail) and printed once: running again without it gives its role a new password."""
    settings = Settings()
    try:
        result = asyncio.run(setup_database(admin_url, settings.database_url, settings.app_database_url))
    except (ValueError, CannotStart) as error:
        typer.echo(f"db setup: {error}", err=True)
        raise typer.Exit(2) from error
    except (TimeoutError, OSError) as error:
        typer.echo(f"db setup: cannot reach the server of SERIALTRAIL_DB_ADMIN_URL: {error}", err=True)
        raise typer.Exit(2) from error
    for line in describe(result):
        typer.echo(line)


@topics_app.command("create")
def create(
    bootstrap_servers: Annotated[str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka brokers")],
    partitions: Annotated[int, typer.Option(min=1, help="partitions per topic (streams spread by key)")] = (
        DEFAULT_PARTITIONS
    ),
    prefix: Annotated[str, typer.Option(envvar="SERIALTRAIL_KAFKA_TOPIC_PREFIX", help="topic name prefix")] = "",
    replication_factor: Annotated[
        int, typer.Option(min=1, help="copies of each partition (1 on a single broker; 3 is usual in production)")
    ] = 1,
) -> None:
    """Create every missing topic and its dead-letter topic, retention.ms=-1 (a topic is a copy
    of a log: it keeps everything). Services never auto-create topics; they check theirs at start."""
    names = with_dead_letters(prefix + topic for topic in topics.ALL)
    try:
        with naming_kafka(bootstrap_servers):
            created = asyncio.run(create_topics(bootstrap_servers, names, partitions, replication_factor))
    except CannotStart as error:
        typer.echo(f"topics create: {error}", err=True)
        raise typer.Exit(2) from error
    for name in names:
        typer.echo(f"{'created' if name in created else 'exists '}  {name}")
