"""Distributed mode's database, set up once by `serialtrail db setup` with an administrator's
DSN: the services then run with no administrator right, and a service started without that
setup (or with a wrong setting) says in one line which setting to fix."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import asyncpg
import pytest
from issuance_helpers import product
from serialtrail.services import SERVICES
from serialtrail_kit.db import APP_ROLE, with_database
from serialtrail_kit.pgserver import free_port
from serialtrail_kit.testing.harness import make_settings, serve


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SERIALTRAIL_APP_DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "serialtrail", *args],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def login_dsn(admin_dsn: str, role: str, password: str, database: str) -> str:
    parts = urlsplit(with_database(admin_dsn, database))
    return parts._replace(netloc=f"{role}:{password}@{parts.hostname}:{parts.port}").geturl()


@dataclass
class Target:
    database: str
    owner: str
    service: str
    database_url: str
    app_database_url: str


@pytest.fixture
async def target(database_dsn: str) -> AsyncIterator[Target]:
    tag = uuid.uuid4().hex[:10]
    database, owner, service = f"setup_{tag}", f"owner_{tag}", f"service_{tag}"
    yield Target(
        database,
        owner,
        service,
        login_dsn(database_dsn, owner, "owner-pw", database),
        login_dsn(database_dsn, service, "service-pw", database),
    )
    admin = await asyncpg.connect(database_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        for role in (owner, service):
            if await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await admin.execute(f'DROP OWNED BY "{role}"; DROP ROLE "{role}"')
    finally:
        await admin.close()


async def test_setup_gives_services_what_they_need_and_nothing_more(database_dsn: str, target: Target) -> None:
    env = {"DATABASE_URL": target.database_url, "SERIALTRAIL_APP_DATABASE_URL": target.app_database_url}
    first = await asyncio.to_thread(cli, "db", "setup", "--admin-url", database_dsn, **env)
    assert first.returncode == 0, first.stderr
    assert f"/{target.database}: created" in first.stdout
    again = await asyncio.to_thread(cli, "db", "setup", "--admin-url", database_dsn, **env)
    assert again.returncode == 0, again.stderr
    assert f"/{target.database}: exists" in again.stdout

    admin = await asyncpg.connect(database_dsn)
    try:
        rights = await admin.fetch(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = ANY($1::text[])",
            [target.owner, target.service],
        )
        assert {(r["rolname"], r["rolsuper"], r["rolcreaterole"], r["rolcreatedb"]) for r in rights} == {
            (target.owner, False, False, False),
            (target.service, False, False, False),
        }
        member = "SELECT pg_has_role($1, $2, 'MEMBER')"
        assert await admin.fetchval(member, target.service, APP_ROLE)
    finally:
        await admin.close()

    # The services install and run as these logins: the owner installs, the service role serves.
    settings = make_settings(database_url=target.database_url, app_database_url=target.app_database_url)
    async with serve(target.database_url, SERVICES, settings) as harness:
        assert (await product(harness.client))["gtin"] == "09506000134352"
        async with harness.composition.app_pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_user") == target.service


def serve_identity(database_url: str, kafka: str = "127.0.0.1:1", **env: str) -> subprocess.CompletedProcess[str]:
    return cli(
        "serve",
        "identity",
        "--port",
        str(free_port()),
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS=kafka,
        SERIALTRAIL_DATA_DIR=f"/tmp/serialtrail-unused-{uuid.uuid4().hex}",
        **env,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return " ".join(result.stderr.split())


async def test_a_wrong_password_names_the_setting(database_dsn: str, target: Target) -> None:
    env = {"DATABASE_URL": target.database_url, "SERIALTRAIL_APP_DATABASE_URL": target.app_database_url}
    assert (await asyncio.to_thread(cli, "db", "setup", "--admin-url", database_dsn, **env)).returncode == 0
    wrong = target.database_url.replace("owner-pw", "not-the-password")
    said = one_line(await asyncio.to_thread(serve_identity, wrong))
    assert said.startswith("identity cannot start: DATABASE_URL:"), said
    assert f"refused role '{target.owner}'" in said


async def test_a_database_that_was_never_set_up_is_named_with_the_command(database_dsn: str, target: Target) -> None:
    admin = await asyncpg.connect(database_dsn)
    try:  # a login of its own, without the setup: no database, no right to create one
        await admin.execute(f"CREATE ROLE \"{target.owner}\" LOGIN PASSWORD 'owner-pw'")
    finally:
        await admin.close()
    said = one_line(await asyncio.to_thread(serve_identity, target.database_url))
    assert "DATABASE_URL:" in said, said
    assert "serialtrail db setup" in said


async def test_an_unreachable_database_names_the_setting() -> None:
    said = one_line(await asyncio.to_thread(serve_identity, f"postgresql://a:b@127.0.0.1:{free_port()}/x"))
    assert "DATABASE_URL: cannot reach the database server at 127.0.0.1:" in said, said


async def test_unreachable_brokers_name_the_setting(database_dsn: str, target: Target) -> None:
    env = {"DATABASE_URL": target.database_url, "SERIALTRAIL_APP_DATABASE_URL": target.app_database_url}
    assert (await asyncio.to_thread(cli, "db", "setup", "--admin-url", database_dsn, **env)).returncode == 0
    kafka = f"127.0.0.1:{free_port()}"
    said = one_line(
        await asyncio.to_thread(
            serve_identity, target.database_url, kafka, SERIALTRAIL_APP_DATABASE_URL=target.app_database_url
        )
    )
    assert f"KAFKA_BOOTSTRAP_SERVERS: cannot reach the brokers at {kafka}" in said, said


async def test_a_password_is_quoted_by_the_server_whatever_the_session_says(database_dsn: str, target: Target) -> None:
    hostile = "\\';ALTER ROLE " + target.service + " SUPERUSER;--"
    app_url = login_dsn(database_dsn, target.service, quote(hostile, safe=""), target.database)
    admin = f"{database_dsn}?options=-c%20standard_conforming_strings%3Doff"
    env = {"DATABASE_URL": target.database_url, "SERIALTRAIL_APP_DATABASE_URL": app_url}
    done = await asyncio.to_thread(cli, "db", "setup", "--admin-url", admin, **env)
    assert done.returncode == 0, done.stderr
    conn = await asyncpg.connect(app_url)  # the password is the whole hostile text
    try:
        assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False
    finally:
        await conn.close()


async def test_an_unreadable_url_names_the_setting_and_never_quotes_the_password() -> None:
    said = one_line(await asyncio.to_thread(serve_identity, "postgresql://owner:S3cretPart/two@127.0.0.1:5432/x"))
    assert said.startswith("identity cannot start: DATABASE_URL is not a valid postgresql:// URL"), said
    assert "S3cret" not in said
