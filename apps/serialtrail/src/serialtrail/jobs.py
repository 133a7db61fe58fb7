"""`serialtrail jobs …`: the outbound jobs of every service (calls to systems outside our
control): what is pending, sending, delivered or dead and why, one job's every attempt, and
sending dead jobs back to be tried again once their cause is fixed.

A retry keeps the job's idempotency key, so a remote that had in fact accepted it recognises
the repeat: a retried job is delivered once. Who retried it and why is recorded in the job's
history, and as an event on the service's log where its outbound declares one."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from serialtrail_kit.composition import write_model_of
from serialtrail_kit.db import Pool, create_pool
from serialtrail_kit.declaration import Service
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.outbound.declared import Outcomes
from serialtrail_kit.outbound.jobs import JobRecord, JobState
from serialtrail_kit.outbound.operations import NotRetryable, find_job, list_jobs, retry_dead, schemas_with_jobs
from serialtrail_kit.settings import Settings
from serialtrail_kit.writes.model import WriteModel

from serialtrail import embedded
from serialtrail.keys import cli_metadata
from serialtrail.services import BY_NAME, SERVICES, software_identity

jobs_app = typer.Typer(
    help="Outbound jobs: list, show and retry calls to systems outside our control.", no_args_is_help=True
)
console = Console(soft_wrap=False)
T = TypeVar("T")
ServiceOption = Annotated[str | None, typer.Option(help="the service whose jobs (default: every service's)")]


class Refused(Exception):
    """Said to the operator as it is, exit status 1."""


def _with_database(work: Callable[[Pool], Awaitable[T]]) -> T:
    settings = Settings()

    async def run(dsn: str) -> T:
        pool = await create_pool(dsn, max_size=2)
        try:
            return await work(pool)
        finally:
            await pool.close()

    with embedded.database(settings) as dsn:
        try:
            return asyncio.run(run(dsn))
        except (Refused, LookupError) as refused:
            typer.echo(f"error: {refused}", err=True)
            raise typer.Exit(1) from refused


async def _schemas(pool: Pool, service: str | None) -> list[str]:
    present = await schemas_with_jobs(pool)
    if service is None:
        return present
    if service not in present:
        raise Refused(f"{service} keeps no outbound jobs here (those that do: {', '.join(present) or 'none'})")
    return [service]


@jobs_app.command("list")
def list_command(
    service: ServiceOption = None,
    state: Annotated[list[JobState] | None, typer.Option(help="only jobs in this state (repeatable)")] = None,
    destination: Annotated[str | None, typer.Option(help="only jobs to this destination")] = None,
    outbound: Annotated[str | None, typer.Option(help="only jobs of this outbound")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many per service")] = 50,
) -> None:
    """The most recently changed jobs first: state, attempts, when due, and the last reason."""

    async def work(pool: Pool) -> list[tuple[str, JobRecord]]:
        found = []
        for schema in await _schemas(pool, service):
            jobs = await list_jobs(
                pool, schema, states=state or (), destination=destination, outbound=outbound, limit=limit
            )
            found += [(schema, job) for job in jobs]
        return found

    found = _with_database(work)
    table = Table("service", "job", "outbound", "destination", "state", "attempts", "due", "last reason")
    table.columns[1].no_wrap = True
    for schema, job in found:
        due = job.due_at.isoformat(timespec="seconds") if job.state in (JobState.pending, JobState.sending) else "-"
        row = (schema, str(job.job_id), job.outbound, job.destination, job.state.value, str(job.attempts), due)
        table.add_row(*_plain(*row, job.last_reason or ""))
    console.print(table)
    console.print(f"{len(found)} job(s)")


@jobs_app.command("show")
def show(
    job_id: Annotated[uuid.UUID, typer.Argument(help="the job's id, as `jobs list` prints it")],
    service: ServiceOption = None,
) -> None:
    """One job in full: what it sends, its idempotency key, and every attempt (time, outcome, status, reason)."""

    async def work(pool: Pool) -> tuple[str, JobRecord]:
        return await _find(pool, job_id, service)

    schema, job = _with_database(work)
    for line in (
        f"job {job.job_id} of {schema}.{job.outbound} to {job.destination} (key {job.key!r})",
        f"state: {job.state.value}  attempts: {job.attempts}  due: {job.due_at.isoformat()}",
        f"idempotency key: {job.idempotency_key}  cause: {job.cause_id or '-'}  correlation: {job.correlation_id}",
        f"created: {job.created_at.isoformat()}  changed: {job.updated_at.isoformat()}",
        f"payload: {json.dumps(job.payload, sort_keys=True)}",
    ):
        console.print(line, markup=False, highlight=False)
    console.print(_history(job.history))


def _plain(*values: str) -> list[Text]:
    """Cells shown as they are: what a remote answered may hold brackets rich would read as markup."""
    return [Text(value) for value in values]


def _history(history: Sequence[Mapping[str, Any]]) -> Table:
    table = Table("at", "attempt", "outcome", "status", "reason / by", title="history")
    for entry in history:
        said = entry.get("reason") or ""
        if entry.get("by"):
            said = f"by {entry['by']}" + (f": {said}" if said else "")
        if entry.get("ignored"):
            said = f"(ignored: {entry['ignored']}) {said}"
        outcome = str(entry["outcome"])
        table.add_row(
            *_plain(
                str(entry.get("at", "")), str(entry.get("attempt", "")), outcome, str(entry.get("status") or ""), said
            )
        )
    return table


@jobs_app.command("retry")
def retry(
    job_ids: Annotated[list[uuid.UUID], typer.Argument(help="the dead jobs' ids")],
    reason: Annotated[str, typer.Option(help="why (recorded): what was fixed")],
    service: ServiceOption = None,
) -> None:
    """Send dead jobs back to be tried again now, their attempts counted afresh; who and why are recorded."""
    settings = Settings()
    meta = cli_metadata(software_identity(settings, embedded.own_settings(settings, SERVICES)), reason)

    async def work(pool: Pool) -> list[str]:
        return await retry_jobs(pool, job_ids, meta, service, BY_NAME)

    problems = _with_database(work)
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    raise typer.Exit(1 if problems else 0)


async def retry_jobs(
    pool: Pool,
    job_ids: Sequence[uuid.UUID],
    meta: RecordMetadata,
    service: str | None,
    declared: Mapping[str, Service[Any]],
) -> list[str]:
    """Each job retried in its own transaction; returns what could not be (and why)."""
    problems = []
    for job_id in job_ids:
        try:
            schema, job = await _find(pool, job_id, service)
            writes, outcomes = _recording(pool, schema, job.outbound, declared)
            retried = await retry_dead(writes, job_id, meta, outcomes)
        except (NotRetryable, Refused) as refused:
            problems.append(str(refused))
            continue
        typer.echo(f"{schema} {job_id}: {retried.state.value} (due now; the same idempotency key)")
    return problems


def _recording(
    pool: Pool, schema: str, outbound: str, declared: Mapping[str, Service[Any]]
) -> tuple[WriteModel, Outcomes | None]:
    """How the retry is recorded: through the service's write model, with the event its outbound
    declares for a retry (if any); for a service not declared here, in the job's history only."""
    service = declared.get(schema)
    if service is None:
        return WriteModel(PostgresEventStore(pool, schema), {}), None
    outcomes = next((o.outcomes for o in service.outbound if o.name == outbound), None)
    return write_model_of(service, pool), outcomes


async def _find(pool: Pool, job_id: uuid.UUID, service: str | None) -> tuple[str, JobRecord]:
    for schema in await _schemas(pool, service):
        job = await find_job(pool, schema, job_id)
        if job is not None:
            return schema, job
    raise Refused(f"no job {job_id}" + (f" in {service}" if service else ""))
