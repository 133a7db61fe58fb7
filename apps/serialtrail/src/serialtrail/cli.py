"""`serialtrail`: run embedded, serve one service, verify the logs, replay a projection."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import socket
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from serialtrail_kit import telemetry
from serialtrail_kit.composition import Composition, composed, settings_of
from serialtrail_kit.db import Pool, create_pool, where_of
from serialtrail_kit.declaration import Service
from serialtrail_kit.eventstore.checkpoints import load_public_key
from serialtrail_kit.eventstore.verify import VerifyReport, verify_log
from serialtrail_kit.http.context import SoftwareIdentity
from serialtrail_kit.http.gateway import Limits, create_gateway, parse_upstreams
from serialtrail_kit.http.serving import server_config
from serialtrail_kit.pgserver import EmbeddedPostgresError
from serialtrail_kit.readers.projection import ProjectionAdmin
from serialtrail_kit.service_settings import ServiceSettings
from serialtrail_kit.settings import Settings
from serialtrail_kit.startup import CannotStart
from serialtrail_kit.testing.broker import BrokerError
from serialtrail_kit.transport.topics import MissingTopics

from serialtrail import embedded
from serialtrail.checkpoints import checkpoints_app, found_checkpoints
from serialtrail.distributed import ServiceFailed, run_distributed
from serialtrail.dlq import dlq_app
from serialtrail.jobs import jobs_app
from serialtrail.keys import first_admin_key, keys_app
from serialtrail.operations import db_app, topics_app
from serialtrail.services import BY_NAME, PROJECTIONS, SERVICES, build, software_identity

app = typer.Typer(
    help="Serialtrail: pharmaceutical serialization and track-and-trace.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)  # one message, one line: logs and wrappers keep it whole


app.add_typer(keys_app, name="keys")
app.add_typer(dlq_app, name="dlq")
app.add_typer(jobs_app, name="jobs")
app.add_typer(checkpoints_app, name="checkpoints")
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as error:
        console.print(f"[red]invalid settings:[/red] {error}")
        raise typer.Exit(2) from error


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="listen address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="listen port (default 8000)")] = None,
    distributed: Annotated[
        bool,
        typer.Option(
            "--distributed",
            help="distributed mode on this machine: PostgreSQL, a Kafka-protocol broker, each service as its "
            "own process and the gateway on the port (data in ./.serialtrail/distributed/)",
        ),
    ] = False,
) -> None:
    """Start every service in one process on an embedded PostgreSQL (data in ./.serialtrail/, or
    SERIALTRAIL_DATA_DIR; port: --port or SERIALTRAIL_HTTP_PORT). With --distributed, each service
    as its own process behind the gateway, with a Kafka-protocol broker."""
    settings = _settings()
    if distributed:
        _run_distributed(settings, host, port)
        return
    if not settings.database_url and embedded.owns_running_server(settings.data_dir):
        console.print(
            f"[red]Serialtrail already runs on {settings.data_dir.resolve()}[/red]: stop that one first (Ctrl-C "
            "where it runs), or give this one another folder (SERIALTRAIL_DATA_DIR=…)"
        )
        raise typer.Exit(1)
    listening = _listen(host or settings.http_host, port or settings.http_port)  # before anything is created
    embedded.preflight(settings)
    own = _own_settings(lambda: embedded.own_settings(settings, SERVICES))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with embedded.database(settings) as dsn:
        _start("Serialtrail", _serve(settings, dsn, listening, SERVICES, own))


def _run_distributed(settings: Settings, host: str | None, port: int | None) -> None:
    if settings.database_url or settings.kafka_bootstrap_servers:
        console.print(
            "[red]run --distributed brings its own PostgreSQL and broker:[/red] unset DATABASE_URL and "
            "KAFKA_BOOTSTRAP_SERVERS (or run each service with `serialtrail serve`)"
        )
        raise typer.Exit(2)
    listening = _listen(host or settings.http_host, port or settings.http_port)  # before anything is created
    embedded.preflight(settings, settings.data_dir / "distributed")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        run_distributed(settings, listening, list(SERVICES), build(), sys.stderr)
    except (ServiceFailed, CannotStart, EmbeddedPostgresError, BrokerError) as error:
        console.print(f"[red]distributed mode cannot start:[/red] {error}")
        raise typer.Exit(2) from error


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help=f"the service to run: {', '.join(BY_NAME)}")],
    host: Annotated[str | None, typer.Option(help="listen address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="listen port (default 8000)")] = None,
) -> None:
    """Distributed mode: run one service (its API, its relay, its consumers). Needs DATABASE_URL (the
    owner login) and SERIALTRAIL_APP_DATABASE_URL (the service login), both from `serialtrail db
    setup`, and KAFKA_BOOTSTRAP_SERVERS, whose topics must exist (`serialtrail topics create`); also
    SERIALTRAIL_TRUSTED_PROXIES (the gateway's address) and each service's own secrets
    (serial_issuance: SERIALTRAIL_SERIAL_ISSUANCE_SERIAL_KEY)."""
    settings = _settings()
    if service not in BY_NAME:
        console.print(f"[red]unknown service {service!r}[/red]; one of: {', '.join(BY_NAME)}")
        raise typer.Exit(2)
    if not settings.database_url or not settings.kafka_bootstrap_servers:
        console.print(
            "[red]serve needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS[/red] "
            "(for everything in one process on an embedded database: `serialtrail run`)"
        )
        raise typer.Exit(2)
    chosen = [BY_NAME[service]]
    listening = _listen(host or settings.http_host, port or settings.http_port)
    own = _own_settings(lambda: settings_of(chosen))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    _start(service, _serve(settings, settings.database_url, listening, chosen, own))


def tcp_server(host: str, port: int) -> socket.socket:
    """A listening socket made as a TCP one (protocol IPPROTO_TCP, not 0 as `socket.create_server`
    makes it): asyncio sets TCP_NODELAY only on connections accepted from such a socket. Without
    it, a response's body waits for the client's delayed ACK, some 40 ms per request."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything is started or created, so that a busy port
    is said at once (uvicorn would only say it after the database and the first admin key)."""
    try:
        return tcp_server(host, port)
    except OSError as error:
        reason = "is in use (by another Serialtrail or another program)" if error.errno == errno.EADDRINUSE else ""
        console.print(
            f"[red]cannot listen on {host}:{port}:[/red] {reason or error.strerror or error}; "
            "choose another port with --port or SERIALTRAIL_HTTP_PORT (and the address with --host or "
            "SERIALTRAIL_HTTP_HOST)"
        )
        raise typer.Exit(2) from error


@app.command()
def gateway(
    host: Annotated[str | None, typer.Option(help="listen address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="listen port (default 8000)")] = None,
) -> None:
    """Distributed mode's entry point: one base URL for every service, as in embedded mode. Routes
    each request by the services' own OpenAPI documents (SERIALTRAIL_GATEWAY_UPSTREAMS names their
    URLs); serves the combined document, /docs and /redoc. SERIALTRAIL_TRUSTED_PROXIES: the addresses
    in front of it (an ingress) whose X-Forwarded-For names the client."""
    settings = _settings()
    try:
        upstreams = parse_upstreams(settings.gateway_upstreams, BY_NAME)
    except ValueError as error:
        console.print(f"[red]SERIALTRAIL_GATEWAY_UPSTREAMS:[/red] {error}")
        raise typer.Exit(2) from error
    listening = _listen(host or settings.http_host, port or settings.http_port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per forwarded request
    telemetry.configure(settings, service_name="serialtrail.gateway")
    config = server_config(create_gateway(upstreams, build(), limits=Limits.of(settings)), settings)
    where = listening.getsockname()
    console.print(
        f"[bold green]Serialtrail gateway[/bold green] on http://{where[0]}:{where[1]} for {', '.join(upstreams)}"
    )
    asyncio.run(uvicorn.Server(config).serve(sockets=[listening]))


def _own_settings(load: Callable[[], Mapping[str, ServiceSettings]]) -> Mapping[str, ServiceSettings]:
    try:
        return load()
    except ValueError as error:
        console.print(f"[red]invalid settings:[/red] {error}")
        raise typer.Exit(2) from error


def _start(what: str, serving: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.run(serving)
    except (ValueError, MissingTopics, CannotStart) as error:  # bad configuration, absent topics: say which, exit
        console.print(f"[red]{what} cannot start:[/red] {error}")
        raise typer.Exit(2) from error


def _where(settings: Settings) -> str:
    if settings.kafka_bootstrap_servers:
        database = where_of(settings.database_url or "")
        return f"database: {database}  Kafka: {settings.kafka_bootstrap_servers}  (Ctrl-C stops it)"
    if settings.database_url:
        return f"database: {where_of(settings.database_url)}  (Ctrl-C stops it)"
    return f"data: {settings.data_dir.resolve()}  (Ctrl-C stops it and PostgreSQL)"


async def _serve(
    settings: Settings,
    dsn: str,
    listening: socket.socket,
    services: Sequence[Service[Any]],
    own: Mapping[str, ServiceSettings],
) -> None:
    await embedded.ensure_database(dsn)
    software = software_identity(settings, own)
    host, port = listening.getsockname()[:2]
    async with composed(settings, dsn, services, software, own) as composition:
        config = server_config(composition.app, settings)
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[listening]))
        started = asyncio.create_task(composition.app.state.serving.wait())  # read models running
        await asyncio.wait([serving, started], return_when=asyncio.FIRST_COMPLETED)
        if not serving.done():
            # What startup built lives as long as the process: collections need not walk it again
            # (each full one paused the event loop ~100 ms while packing, measured in issue 9).
            gc.freeze()
            await _announce(composition, software, services, host, port, settings)
        started.cancel()
        await serving


async def _announce(
    composition: Composition,
    software: SoftwareIdentity,
    services: Sequence[Service[Any]],
    host: str,
    port: int,
    settings: Settings,
) -> None:
    """The first admin key (on a first start), printed once every service can authenticate it."""
    first_key = await first_admin_key(composition, software)
    if first_key is not None:
        console.print(
            "[bold yellow]First start: an admin API key was created. It is shown this once and stored "
            f"only as a hash:[/bold yellow]\n  ADMIN_KEY={first_key}\n"
            "Send it as 'Authorization: Bearer <key>'; create scoped keys with POST /v1/api-keys or "
            "'serialtrail keys create'."
        )
    console.print(
        f"[bold green]Serialtrail[/bold green] ({', '.join(s.name for s in services)}) on http://{host}:{port}  "
        f"API docs: http://{host}:{port}/docs  OpenAPI: http://{host}:{port}/openapi.json  " + _where(settings)
    )


@app.command()
def version() -> None:
    """The exact build: version, source commit (with `.dirty` for local changes) and a digest
    of the installed code. Every event records it as its software_version."""
    typer.echo(build())


@app.command("verify-log")
def verify_log_command(
    service: Annotated[
        list[str] | None, typer.Option(help="service whose log to verify (default: every log in the database)")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="PEM public key of the checkpoints (default: <checkpoint key>.pub)")
    ] = None,
) -> None:
    """Walk each service's hash chain and check it against every signed checkpoint of its head;
    exit 1 naming the first broken position and each checkpoint the log fails."""
    settings = _settings()
    key_file = public_key or Path(f"{settings.checkpoint_key_at}.pub")
    keys = [load_public_key(key_file)] if key_file.exists() else []
    if not keys:
        typer.echo(f"warning: no public key at {key_file}: no checkpoint can be trusted", err=True)
    with embedded.database(settings) as dsn:
        broken = asyncio.run(_verify(dsn, service, settings, keys))
    raise typer.Exit(1 if broken else 0)


async def _logs_present(pool: Pool) -> list[str]:
    """Every log in the database, the declared services' first: a log no running service
    declares (one installed for a service still to come) can still feed a read model."""
    rows = await pool.fetch(
        "SELECT l.table_schema FROM information_schema.tables l JOIN information_schema.tables e "
        "ON e.table_schema = l.table_schema AND e.table_name = 'events' WHERE l.table_name = 'append_lock'"
    )
    others = sorted({r["table_schema"] for r in rows} - set(BY_NAME))
    return [*BY_NAME, *others]


async def _verify(dsn: str, service: list[str] | None, settings: Settings, keys: list[Ed25519PublicKey]) -> bool:
    pool = await create_pool(dsn, max_size=2)
    broken = False
    try:
        for name in service or await _logs_present(pool):
            found = await found_checkpoints(settings, name)
            with _progress() as progress:
                task = progress.add_task(f"verifying {name}", total=None)

                def show(done: int, total: int, task: TaskID = task) -> None:
                    progress.update(task, completed=done, total=total)

                report = await verify_log(pool, name, checkpoints=found.checkpoints, keys=keys, progress=show)
            broken = broken or not report.ok or report.unanchored
            _print_report(report, found.where)
    finally:
        await pool.close()
    return broken


def _print_report(report: VerifyReport, found_in: str) -> None:
    name = report.schema
    anchored = f"; {report.checkpoints} checkpoints ({found_in}), anchored up to position {report.anchored}"
    if report.first_break is not None:
        where = report.first_break
        typer.echo(f"{name}: BROKEN at global_position {where.global_position}: {where.reason}")
    for finding in report.findings:
        typer.echo(f"{name}: TAMPERED: {finding}")
    if report.unanchored:
        typer.echo(
            f"{name}: UNANCHORED: {report.head} events and no checkpoint ({found_in}); a running service writes "
            "one at least every CHECKPOINT_EVERY_SECONDS and at shutdown: they were removed, or kept elsewhere "
            "(point CHECKPOINT_DIR or --public-key at them)"
        )
    elif report.ok:
        typer.echo(f"{name}: OK, {report.checked} events, chain intact{anchored}")


@app.command()
def replay(
    projection: Annotated[str, typer.Argument(help=f"one of: {', '.join(PROJECTIONS)}")],
    keep_previous: Annotated[bool, typer.Option(help="keep the previous generation's tables")] = False,
) -> None:
    """Rebuild a read model from the log under a new name, then switch readers to it. In
    distributed mode a read model fed from another service's topic is switched to a new, empty
    generation instead, which the running service refills from the start of that topic."""
    if projection not in PROJECTIONS:
        console.print(f"[red]unknown projection {projection!r}[/red]; known: {', '.join(PROJECTIONS)}")
        raise typer.Exit(2)
    settings = _settings()
    with embedded.database(settings) as dsn:
        asyncio.run(_replay(dsn, projection, keep_previous, over_kafka=bool(settings.kafka_bootstrap_servers)))


async def _replay(dsn: str, name: str, keep_previous: bool, *, over_kafka: bool) -> None:
    owner, projection = PROJECTIONS[name]
    pool = await create_pool(dsn, max_size=2)
    try:
        if over_kafka and projection.source != owner:
            renewed = await ProjectionAdmin(pool, owner).renew(projection)
            typer.echo(
                f"{name}: readers switched from {renewed.previous_schema} to the new, empty {renewed.active_schema}; "
                f"the running {owner} service refills it from the start of {projection.source}'s topic "
                "(its lag shows in /health/ready)"
            )
            return
        with _progress() as progress:
            task = progress.add_task(f"replaying {name}", total=None)
            result = await ProjectionAdmin(pool, owner).replay(
                projection,
                keep_previous=keep_previous,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        typer.echo(
            f"{name}: rebuilt from {result.events} events into {result.active_schema}; readers switched "
            f"from {result.previous_schema}{' (kept)' if keep_previous else ' (dropped)'}"
        )
    finally:
        await pool.close()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
