"""`serialtrail keys …`: API keys from the command line, and the first admin key of an
embedded installation (created once, printed once, never a default password)."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, TypeVar

import typer
from identity import bootstrap as identity_service
from identity.application.handlers import IdentityHandlers
from identity.application.listing import keys_in_log
from identity.domain.keys import scope_for
from serialtrail_contracts import identity
from serialtrail_contracts.identity import Role
from serialtrail_kit.access.authenticate import KeyUsage
from serialtrail_kit.canonical import format_timestamp
from serialtrail_kit.composition import Composition
from serialtrail_kit.db import APP_ROLE, Pool, create_pool
from serialtrail_kit.errors import InvalidInput, NotFound
from serialtrail_kit.eventstore.metadata import RecordMetadata, local_metadata
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.eventstore.schema import install_log
from serialtrail_kit.http.context import SoftwareIdentity
from serialtrail_kit.settings import Settings
from serialtrail_kit.writes.model import WriteModel

from serialtrail import embedded
from serialtrail.services import SERVICES, software_identity

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
T = TypeVar("T")


def cli_metadata(software: SoftwareIdentity, reason: str | None = None) -> RecordMetadata:
    """Who records from the command line: the operating system's user, as an operator."""
    return local_metadata(
        principal_id=f"os-user:{getpass.getuser()}",
        role="operator",
        auth_method="local-cli",
        reason=reason,
        software_version=software.version,
        config_digest=software.config_digest,
    )


def _handlers(pool: Pool) -> IdentityHandlers:
    return IdentityHandlers(WriteModel(PostgresEventStore(pool, identity_service.NAME), identity.EVENTS))


async def first_admin_key(composition: Composition, software: SoftwareIdentity) -> str | None:
    """Where the identity service runs: create an admin key if none is active yet, and return
    its token once every composed service can authenticate it; else None."""
    if identity_service.NAME not in {m.name for m in composition.modules}:
        return None
    log = PostgresEventStore(composition.app_pool, identity_service.NAME)
    if any(k.role is Role.admin and k.revoked_at is None for k in await keys_in_log(log)):
        return None
    meta = local_metadata(
        principal_id="system:first-start",
        role="system",
        auth_method="local",
        reason="first admin key of a new installation",
        software_version=software.version,
        config_digest=software.config_digest,
    )
    _, token = await _handlers(composition.app_pool).issue_key(
        name="first admin", role=Role.admin, scope=None, expires_at=None, meta=meta
    )
    for module in composition.modules:
        await module.runners["principals"].caught_up(timeout=60)
    return token


def _with_identity(work: Callable[[Pool, SoftwareIdentity], Awaitable[T]]) -> T:
    settings = Settings()
    software = software_identity(settings, embedded.own_settings(settings, SERVICES))

    async def run(dsn: str) -> T:
        await embedded.ensure_database(dsn)
        admin = await create_pool(dsn, max_size=2)
        try:
            async with admin.acquire() as conn:
                await install_log(conn, identity_service.NAME, APP_ROLE)
            return await work(admin, software)
        finally:
            await admin.close()

    with embedded.database(settings) as dsn:
        return asyncio.run(run(dsn))


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="what the key is for")],
    role: Annotated[Role, typer.Option(help="admin, qa, cmo, line, partner or auditor")],
    gtin: Annotated[list[str] | None, typer.Option(help="GTIN in scope (repeatable)")] = None,
    company_prefix: Annotated[list[str] | None, typer.Option(help="company prefix in scope (repeatable)")] = None,
    site: Annotated[list[str] | None, typer.Option(help="site GLN in scope (repeatable)")] = None,
    line: Annotated[list[str] | None, typer.Option(help="line id in scope (repeatable)")] = None,
    cmo: Annotated[list[str] | None, typer.Option(help="CMO whose batches are in scope (repeatable)")] = None,
    expires: Annotated[datetime | None, typer.Option(help="expiry (ISO 8601)")] = None,
) -> None:
    """Create a key and print its token once."""
    stated: dict[str, list[str] | None] = {
        "company_prefixes": company_prefix,
        "gtins": gtin,
        "sites": site,
        "lines": line,
        "cmos": cmo,
    }
    scope: dict[str, list[str] | None] | None = {k: v for k, v in stated.items() if v} or None
    try:
        scope_for(role, scope)  # the API's strict check, before the database is opened
    except InvalidInput as problem:
        typer.echo(f"error: {problem.detail}", err=True)
        raise typer.Exit(2) from problem

    async def work(pool: Pool, software: SoftwareIdentity) -> tuple[str, str]:
        created, token = await _handlers(pool).issue_key(
            name=name, role=role, scope=scope, expires_at=expires, meta=cli_metadata(software)
        )
        return created.key_id, token

    key_id, token = _with_identity(work)
    typer.echo(f"key id: {key_id}\ntoken (shown once): {token}")


@keys_app.command("list")
def list_keys() -> None:
    """List keys (never their secrets) as JSON lines."""

    async def work(pool: Pool, _software: SoftwareIdentity) -> list[str]:
        used = await KeyUsage(pool, identity_service.NAME).last_used()
        keys = await keys_in_log(PostgresEventStore(pool, identity_service.NAME))
        return [json.dumps(k.public(used.get(k.key_id)), default=_as_the_api_writes) for k in keys]

    for line in _with_identity(work):
        typer.echo(line)


def _as_the_api_writes(value: object) -> str:
    """Times as the API answers them (ISO 8601, UTC, Z), not Python's str()."""
    return format_timestamp(value) if isinstance(value, datetime) else str(value)


@keys_app.command("revoke")
def revoke(key_id: str, reason: Annotated[str, typer.Option(help="why (recorded)")]) -> None:
    """Revoke a key at once."""

    async def work(pool: Pool, software: SoftwareIdentity) -> bool:
        try:
            await _handlers(pool).revoke_key(key_id, reason, cli_metadata(software, reason))
        except NotFound:
            return False
        return True

    if not _with_identity(work):
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")
