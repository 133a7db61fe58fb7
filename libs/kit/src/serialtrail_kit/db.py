"""Connection pools and identifier safety for PostgreSQL."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg
import orjson

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

APP_ROLE = "serialtrail_app"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

if TYPE_CHECKING:
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    # A pooled connection is a proxy; both behave the same for our purposes.
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection


def ident(name: str) -> str:
    """Schema and table names are interpolated into SQL, so only plain lower-case names pass."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def ddl_digest(ddl: str, tables: Sequence[str]) -> str:
    """The digest of a DDL (as written for a placeholder schema) and of the tables it promises:
    stored beside the tables, so code whose tables differ is noticed at start."""
    text = ddl.strip() + "\n" + ",".join(tables)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


PLACEHOLDER_SCHEMA = "__schema__"


async def _init_connection(conn: Connection, role: str | None) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )
    if role is not None:
        # Embedded mode connects as the superuser; the service code still runs with the
        # application role so the database refuses it UPDATE/DELETE on the log.
        await conn.execute(f"SET ROLE {ident(role)}")


async def create_pool(dsn: str, *, role: str | None = None, min_size: int = 1, max_size: int = 10) -> Pool:
    async def init(conn: Connection) -> None:
        await _init_connection(conn, role)

    pool: Pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=init)
    return pool


async def connect(dsn: str, *, role: str | None = None) -> Connection:
    conn: Connection = await asyncpg.connect(dsn)
    await _init_connection(conn, role)
    return conn


async def ensure_role(conn: Connection, role: str = APP_ROLE) -> None:
    """Create the role unless it exists: a role made by `serialtrail db setup` is used by a login
    that may not create roles (PostgreSQL checks that right before it looks for the role)."""
    if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        return
    await conn.execute(
        f"""
        DO $$ BEGIN
            CREATE ROLE {ident(role)} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$;
        """
    )


async def provision_login(conn: Connection, admin_dsn: str, password: str, role: str = APP_ROLE) -> str:
    """Let `role` log in with `password` and return its DSN: the application then holds no
    admin credentials, only the role's rights."""
    await with_password(conn, "ALTER ROLE %I WITH LOGIN PASSWORD %L", role, password)
    parts = urlsplit(admin_dsn)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def with_password(conn: Connection, template: str, role: str, password: str) -> None:
    """Run a role statement (`template`: `%I` the role, `%L` the password) quoted by the server
    itself, whatever `standard_conforming_strings` says: a password quoted by hand could end the
    literal and go on as SQL."""
    await conn.execute(await conn.fetchval("SELECT format($1, $2::text, $3::text)", template, role, password))


def database_of(dsn: str) -> str:
    """The database a DSN names (its path), whatever query parameters follow (`?sslmode=…`)."""
    return unquote(urlsplit(dsn).path.lstrip("/"))


def with_database(dsn: str, database: str) -> str:
    """The same DSN naming another database; credentials and query parameters kept."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


def where_of(dsn: str) -> str:
    """Host, port and database of a DSN, for messages: never its credentials."""
    try:
        parts = urlsplit(dsn)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.hostname or 'localhost'}{port}/{database_of(dsn)}"
    except ValueError:  # never quote the URL: what failed to parse may be its password
        return "(a URL that cannot be read)"


def json_list(values: Sequence[Any]) -> str:
    """A list to pass as one `json` parameter and expand with `json_elements`. For thousands
    of values this is several times cheaper than asyncpg encoding a `text[]` element by element."""
    return orjson.dumps(values).decode()


def json_elements(parameter: str, sql_type: str = "text") -> str:
    """SQL for the array a `json_list` parameter holds, e.g. json_elements("$1", "bigint")."""
    return f"ARRAY(SELECT value::{sql_type} FROM json_array_elements_text({parameter}::json))"
