"""The `serialtrail` command against a real database: verify-log finds tampering by a
superuser, replay rebuilds the serial-status read model identically."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import httpx
import pytest
from issuance_helpers import batch, commission, product, serials, site
from serial_issuance.projections.serial_status.read_model import SerialStatusProjection
from serialtrail.embedded import ensure_database
from serialtrail.services import SERVICES
from serialtrail_kit.db import APP_ROLE, create_pool, database_of, with_database
from serialtrail_kit.eventstore.model import NewEvent, StreamAppend
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.pgserver import EmbeddedPostgresError, free_port, require_reachable
from serialtrail_kit.readers.projection import table_digest
from serialtrail_kit.testing.harness import SYSTEM, make_settings, serve
from serialtrail_kit.testing.waiting import until


def cli(database_dsn: str, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_dsn, **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "serialtrail", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def populate(database_dsn: str, data_dir: Path | None = None) -> None:
    settings = make_settings(data_dir=data_dir) if data_dir else None
    async with serve(database_dsn, SERVICES, settings) as service:
        await product(service.client)
        await batch(service.client)
        await site(service.client)
        issued = await serials(service.client, 3_000)
        for start in range(0, 3_000, 1_000):
            assert (await commission(service.client, issued[start : start + 700])).status_code == 201
        for module in service.composition.modules:  # let the live read model catch up before stopping
            for runner in module.runners.values():
                await runner.caught_up()


async def test_verify_log_passes_then_names_the_edited_position(database_dsn: str, tmp_path: Path) -> None:
    await populate(database_dsn, tmp_path)
    ok = await asyncio.to_thread(cli, database_dsn, "verify-log", SERIALTRAIL_DATA_DIR=str(tmp_path))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "serial_issuance: OK" in ok.stdout
    assert "anchored up to position" in ok.stdout  # the checkpoints written on the way out
    conn = await asyncpg.connect(database_dsn)
    try:
        await conn.execute("ALTER TABLE serial_issuance.events DISABLE TRIGGER USER")
        await conn.execute(
            "UPDATE serial_issuance.events SET metadata = jsonb_set(metadata, '{principal_id}', '\"mallory\"') "
            "WHERE global_position = 4"
        )
    finally:
        await conn.close()
    broken = await asyncio.to_thread(cli, database_dsn, "verify-log", SERIALTRAIL_DATA_DIR=str(tmp_path))
    assert broken.returncode == 1
    assert "BROKEN at global_position 4" in broken.stdout


async def test_verify_log_fails_a_log_whose_checkpoints_are_gone_or_spoiled(database_dsn: str, tmp_path: Path) -> None:
    """The review removed the checkpoint directory (as the database's OS user could, then):
    verify-log said OK with a warning and exit 0; a line of garbage in a checkpoint file made it
    crash before the other logs were checked."""
    await populate(database_dsn, tmp_path)
    checkpoints = tmp_path / "checkpoints"
    with (checkpoints / "identity.checkpoints.jsonl").open("a") as spoiled:
        spoiled.write("not json\n")
    (checkpoints / "serial_issuance.checkpoints.jsonl").unlink()
    result = await asyncio.to_thread(cli, database_dsn, "verify-log", SERIALTRAIL_DATA_DIR=str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "serial_issuance: UNANCHORED: " in result.stdout
    assert "identity: TAMPERED: checkpoint of unreadable line " in result.stdout
    assert "aggregation: " in result.stdout  # every log still checked


async def test_replay_gives_identical_tables(database_dsn: str) -> None:
    await populate(database_dsn)
    result = await asyncio.to_thread(cli, database_dsn, "replay", "serial_issuance.serial_status", "--keep-previous")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "serial_issuance_serial_status_g1" in result.stdout
    conn = await asyncpg.connect(database_dsn)
    try:
        for table in SerialStatusProjection.tables:
            old = await table_digest(conn, "serial_issuance_serial_status_g1", table)
            new = await table_digest(conn, "serial_issuance_serial_status_g2", table)
            assert old == new, table
        assert await conn.fetchval("SELECT sum(quantity) FROM serial_issuance_rm.commissionings") == 2_100
        active = await conn.fetchval(
            "SELECT active_schema FROM serial_issuance.projections WHERE name = 'serial_status'"
        )
        assert active == "serial_issuance_serial_status_g2"
    finally:
        await conn.close()


async def test_replay_of_a_topic_fed_read_model_in_distributed_mode_renews_it(database_dsn: str) -> None:
    """With a database per service, another service's log is not here to fold: the read model
    switches to a new, empty generation that the running service refills from the topic."""
    await populate(database_dsn)
    # Replay itself never talks to Kafka: the setting only says the mode.
    kafka = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}
    result = await asyncio.to_thread(cli, database_dsn, "replay", "aggregation.knowledge", **kafka)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "new, empty aggregation_knowledge_g2" in result.stdout
    conn = await asyncpg.connect(database_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM aggregation_rm.commissioned") == 0
        assert await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = 'aggregation_knowledge_g1'") == 0
    finally:
        await conn.close()


async def test_run_prints_a_first_admin_key_that_works_at_once() -> None:
    """`serialtrail run` on a new data directory: the admin key it prints is accepted by the very
    next request (it is printed once the services' copies of the keys hold it)."""
    with tempfile.TemporaryDirectory(prefix="serialtrail-run-") as folder:
        os.chmod(folder, 0o755)  # the unprivileged PostgreSQL user must reach its data directory
        await _first_start(Path(folder))


async def _first_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    log = tmp_path / "run.log"
    env = {**os.environ, "SERIALTRAIL_DATA_DIR": str(data)}
    env.pop("DATABASE_URL", None)
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: ASYNC220 - starting a process is instant
            [sys.executable, "-m", "serialtrail", "run", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    try:
        await until(lambda: "ADMIN_KEY=" in log.read_text() or process.poll() is not None, timeout=120)
        assert process.poll() is None, log.read_text()
        key = log.read_text().split("ADMIN_KEY=", 1)[1].split()[0]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            keys = await client.get("/v1/api-keys", headers={"Authorization": f"Bearer {key}"})
            assert keys.status_code == 200, keys.text
            assert [k["name"] for k in keys.json()] == ["first admin"]
            # The exact build: what `serialtrail version` prints, what /health/live shows, what events record.
            build = (await client.get("/health/live")).json()["build"]
            trail = await client.get("/v1/audit-trail/identity", headers={"Authorization": f"Bearer {key}"})
        version = await asyncio.to_thread(cli, "", "version")
        assert build == version.stdout.strip(), version.stderr
        assert re.fullmatch(r"\d+\.\d+\.\d+\+(g[0-9a-f]{8}(\.dirty)?\.)?c[0-9a-f]{12}", build), build
        assert {e["record"]["software_version"] for e in trail.json()["events"]} == {build}
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole foreground group
        process.wait(60)
    # Ctrl-C ends it as Ctrl-C ends a program (uvicorn re-raises SIGINT after a clean shutdown),
    # quietly: PostgreSQL, in a session of its own, is stopped after the application.
    assert process.returncode in (0, 130), log.read_text()[-2000:]
    assert "Application shutdown complete" in log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
    assert "Error" not in log.read_text(), log.read_text()[-3000:]


def test_a_busy_port_is_said_before_anything_is_created(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {**os.environ, "SERIALTRAIL_DATA_DIR": str(data)}
        env.pop("DATABASE_URL", None)
        result = subprocess.run(
            [sys.executable, "-m", "serialtrail", "run", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    said = " ".join(result.stderr.split())
    assert f"cannot listen on 127.0.0.1:{port}: is in use" in said, said
    assert "SERIALTRAIL_HTTP_PORT" in said
    assert "Traceback" not in result.stderr
    assert not data.exists()  # no database, no admin key, no secrets


@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as another OS user only when started as root")
def test_a_folder_postgresql_cannot_enter_is_named_with_the_fix_before_anything_is_created() -> None:
    with tempfile.TemporaryDirectory(prefix="serialtrail-0700-") as folder:  # mode 0700, as root's home
        data = Path(folder) / "data"
        env = {**os.environ, "SERIALTRAIL_DATA_DIR": str(data)}
        env.pop("DATABASE_URL", None)
        result = subprocess.run(
            [sys.executable, "-m", "serialtrail", "run", "--port", str(free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode != 0
        said = " ".join(result.stderr.split())
        assert f"cannot enter {folder} (mode 0700)" in said, said
        assert f"setfacl -m u:serialtrail-pg:x {folder}" in said
        assert "Traceback" not in result.stderr
        assert not data.exists()
        os.chmod(folder, 0o701)  # the fix it names (others may traverse, not list) is enough
        assert pgserver_reaches(data)


def pgserver_reaches(data: Path) -> bool:
    try:
        require_reachable(data)
    except EmbeddedPostgresError:
        return False
    return True


async def test_a_database_url_with_query_parameters_names_its_database(database_dsn: str) -> None:
    name = f"q_{os.getpid()}_{free_port()}"
    dsn = with_database(database_dsn, name) + "?sslmode=disable&application_name=serialtrail"
    assert database_of(dsn) == name
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT current_database()") == name
    finally:
        await conn.close()
        admin = await asyncpg.connect(database_dsn)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_keys_list_writes_times_as_the_api_does(database_dsn: str, tmp_path: Path) -> None:
    made = await asyncio.to_thread(
        cli, database_dsn, "keys", "create", "--name", "t", "--role", "auditor", SERIALTRAIL_DATA_DIR=str(tmp_path)
    )
    assert made.returncode == 0, made.stdout + made.stderr
    listed = await asyncio.to_thread(cli, database_dsn, "keys", "list", SERIALTRAIL_DATA_DIR=str(tmp_path))
    assert listed.returncode == 0, listed.stdout + listed.stderr
    created = [json.loads(line)["created_at"] for line in listed.stdout.splitlines()]
    assert created
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", moment) for moment in created), created


async def test_verify_log_walks_a_log_no_running_service_declares(database_dsn: str, tmp_path: Path) -> None:
    """The session-22 review: the line_exceptions log exists (aggregation reads decommissions
    from it) but verify-log walked only the declared services' logs, so rows written there
    went unseen. Events with no checkpoint of their own are reported, and an edit is located."""
    await populate(database_dsn, tmp_path)
    pool = await create_pool(database_dsn, role=APP_ROLE, max_size=2)
    try:
        event = NewEvent(event_type="Anything.Happened", event_version=1, payload={"n": 1})
        await PostgresEventStore(pool, "line_exceptions").append(
            [StreamAppend(stream_id="x-1", expected_version=0, events=(event,))], SYSTEM
        )
    finally:
        await pool.close()
    unanchored = await asyncio.to_thread(cli, database_dsn, "verify-log", SERIALTRAIL_DATA_DIR=str(tmp_path))
    conn = await asyncpg.connect(database_dsn)
    try:
        await conn.execute("ALTER TABLE line_exceptions.events DISABLE TRIGGER USER")
        await conn.execute("UPDATE line_exceptions.events SET payload = '{\"n\": 2}' WHERE global_position = 1")
    finally:
        await conn.close()
    edited = await asyncio.to_thread(cli, database_dsn, "verify-log", SERIALTRAIL_DATA_DIR=str(tmp_path))
    assert unanchored.returncode == 1, unanchored.stdout + unanchored.stderr
    assert "line_exceptions: UNANCHORED: " in unanchored.stdout
    assert "serial_issuance: OK" in unanchored.stdout
    assert "line_exceptions: BROKEN at global_position 1" in edited.stdout
