"""Database setup for distributed mode, done once with an administrator's DSN (`serialtrail db
setup`), so that the services themselves need no administrator rights:

- the database that DATABASE_URL names, created if missing;
- DATABASE_URL's role: a login that owns what the services install (schemas, logs, read models)
  and may create schemas in that database, nothing more (no superuser, no CREATEROLE);
- `serialtrail_app`, the role the application acts as (no UPDATE or DELETE on any log), and
  SERIALTRAIL_APP_DATABASE_URL's role: a login that is a member of it and nothing else.

Each step is idempotent: a role that exists gets the password its DSN gives."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg

from serialtrail_kit.db import (
    APP_ROLE,
    Connection,
    database_of,
    ensure_role,
    ident,
    where_of,
    with_database,
    with_password,
)
from serialtrail_kit.startup import CannotStart, naming_database

OWNER_ROLE = "serialtrail_owner"
SERVICE_ROLE = "serialtrail_service"


@dataclass(frozen=True)
class Login:
    role: str
    password: str


@dataclass(frozen=True)
class SetupResult:
    database_url: str
    app_database_url: str
    created_database: bool
    generated: bool  # passwords were generated here: the DSNs must be given to the services


def login_of(dsn: str, setting: str) -> Login:
    parts = urlsplit(dsn)
    if not parts.username or parts.password is None:
        raise ValueError(f"{setting} must name a role and its password (postgresql://role:password@host/db)")
    return Login(unquote(parts.username), unquote(parts.password))


def generated_dsns(admin_dsn: str, database: str = "serialtrail") -> tuple[str, str]:
    """DSNs for the owner and the service logins on the administrator's server, with new passwords."""
    parts = urlsplit(with_database(admin_dsn, database))
    host = parts.hostname or "localhost"
    at = f"{host}:{parts.port}" if parts.port else host

    def dsn(role: str) -> str:
        netloc = f"{role}:{quote(secrets.token_urlsafe(24), safe='')}@{at}"
        return urlunsplit(parts._replace(netloc=netloc))

    return dsn(OWNER_ROLE), dsn(SERVICE_ROLE)


async def setup_database(admin_dsn: str, database_url: str | None, app_database_url: str | None) -> SetupResult:
    generated = database_url is None or app_database_url is None
    if database_url is None or app_database_url is None:
        given = database_url or app_database_url
        made_owner, made_service = generated_dsns(admin_dsn, database_of(given) if given else "serialtrail")
        database_url, app_database_url = database_url or made_owner, app_database_url or made_service
    owner, service = login_of(database_url, "DATABASE_URL"), login_of(app_database_url, "SERIALTRAIL_APP_DATABASE_URL")
    if owner.role == service.role:
        raise ValueError("DATABASE_URL and SERIALTRAIL_APP_DATABASE_URL must name two roles: the owner and the service")
    database = database_of(database_url)
    if database_of(app_database_url) != database:
        raise ValueError("DATABASE_URL and SERIALTRAIL_APP_DATABASE_URL must name the same database")
    with naming_database("SERIALTRAIL_DB_ADMIN_URL", admin_dsn):
        server = await asyncpg.connect(admin_dsn)
    try:
        created = not await server.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if created:
            await server.execute(f"CREATE DATABASE {ident(database)}")
        await _login(server, owner)
        await _login(server, service)
        await ensure_role(server, APP_ROLE)
        await server.execute(f"GRANT {ident(APP_ROLE)} TO {ident(owner.role)}")
        await server.execute(f"GRANT {ident(APP_ROLE)} TO {ident(service.role)}")
        await server.execute(f"GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {ident(database)} TO {ident(owner.role)}")
        await server.execute(f"GRANT CONNECT ON DATABASE {ident(database)} TO {ident(service.role)}")
    except asyncpg.InsufficientPrivilegeError as error:
        raise CannotStart(f"SERIALTRAIL_DB_ADMIN_URL: its role may not do this: {error}") from error
    finally:
        await server.close()
    return SetupResult(database_url, app_database_url, created, generated)


async def _login(conn: Connection, login: Login) -> None:
    """A login role with no rights of its own beyond logging in; its password as the DSN gives it."""
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", login.role)
    template = (
        "ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L"
        if exists
        else "CREATE ROLE %I LOGIN PASSWORD %L"
    )
    await with_password(conn, template, login.role, login.password)


def describe(result: SetupResult) -> list[str]:
    database = where_of(result.database_url)
    lines = [f"database {database}: {'created' if result.created_database else 'exists'}; roles and grants in place"]
    if result.generated:
        lines += [
            "Give the services these (shown once; the passwords are not stored anywhere else):",
            f"  DATABASE_URL={result.database_url}",
            f"  SERIALTRAIL_APP_DATABASE_URL={result.app_database_url}",
        ]
    else:
        lines.append("The services use DATABASE_URL (the owner) and SERIALTRAIL_APP_DATABASE_URL as given.")
    return lines
