"""The embedded PostgreSQL trusts no connection (issue 10): without the generated password no
local OS user connects as its superuser, over TCP or its socket; a data directory made when
connections were trusted is brought under passwords at its next start. Its superuser, acting
as PostgreSQL's OS user, cannot touch the application's files (checkpoints, keys), and a
terminal's Ctrl-C does not stop it before the application is done."""

from __future__ import annotations

import asyncio
import os
import pwd
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from serialtrail_kit.pgserver import PASSWORD_FILE, POSTGRES_BIN_PATH, SOCKET_DIR, EmbeddedPostgres, _run_as


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: its parents are private to root, and PostgreSQL runs as another user.
    with tempfile.TemporaryDirectory(prefix="serialtrail-pg-auth-") as made:
        os.chmod(made, 0o755)
        yield Path(made)


async def _refused(dsn: str) -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(dsn)


async def test_no_connection_without_the_password(data_dir: Path) -> None:
    with EmbeddedPostgres(data_dir, durable=False) as server:
        assert (data_dir / PASSWORD_FILE).stat().st_mode & 0o777 == 0o600
        conn = await asyncpg.connect(server.dsn)
        assert await conn.fetchval("SELECT current_user") == "postgres"
        await conn.close()
        await _refused(f"postgresql://postgres@127.0.0.1:{server.port}/postgres")
        await _refused(f"postgresql://postgres@/postgres?host={data_dir / SOCKET_DIR}&port={server.port}")
        await _refused(f"postgresql://postgres:guess@127.0.0.1:{server.port}/postgres")


async def test_a_data_directory_made_with_trust_is_brought_under_passwords(data_dir: Path) -> None:
    pgdata = data_dir / "pgdata"
    initdb = [str(POSTGRES_BIN_PATH / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust", "--no-sync"]
    user = _run_as()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(data_dir, entry.pw_uid, entry.pw_gid)
    await asyncio.to_thread(subprocess.run, initdb, user=user, check=True, capture_output=True)
    with EmbeddedPostgres(data_dir, durable=False) as server:
        await _refused(f"postgresql://postgres@127.0.0.1:{server.port}/postgres")
        conn = await asyncpg.connect(server.dsn)
        await conn.close()
    assert "trust" not in (pgdata / "pg_hba.conf").read_text().split("# TYPE")[-1]


async def test_the_database_superuser_cannot_touch_the_applications_files(data_dir: Path) -> None:
    """COPY … TO PROGRAM runs a shell as PostgreSQL's OS user: it may not remove or plant
    anything beside the database (the review moved the checkpoint directory away this way)."""
    user = _run_as()
    if user is not None:  # as an earlier version left it: the data directory the server's
        entry = pwd.getpwnam(user)
        os.chown(data_dir, entry.pw_uid, entry.pw_gid)
    checkpoints = data_dir / "checkpoints"
    checkpoints.mkdir()
    with EmbeddedPostgres(data_dir, durable=False) as server:
        assert os.stat(data_dir).st_uid == os.geteuid()
        conn = await asyncpg.connect(server.dsn)
        try:
            for command in (f"mv {checkpoints} {data_dir}/moved", f"touch {data_dir}/planted"):
                with pytest.raises(asyncpg.PostgresError, match="program"):
                    await conn.execute(f"COPY (SELECT 1) TO PROGRAM '{command}'")
        finally:
            await conn.close()
    assert "checkpoints" in os.listdir(data_dir)
    assert {"moved", "planted"}.isdisjoint(os.listdir(data_dir))


def test_the_server_has_its_own_session_so_ctrl_c_reaches_the_application_first(data_dir: Path) -> None:
    with EmbeddedPostgres(data_dir, durable=False) as server:
        assert server.pid is not None
        assert os.getsid(server.pid) != os.getsid(0)


@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as another OS user only when started as root")
def test_the_server_holds_its_own_user_and_group_only(data_dir: Path) -> None:
    """Not root's group: `user=` alone would keep gid 0 (and root-group folders' group bits)."""
    entry = pwd.getpwnam(_run_as() or "")
    with EmbeddedPostgres(data_dir, durable=False) as server:
        status = Path(f"/proc/{server.pid}/status").read_text().splitlines()
    ids = {line.split(":")[0]: line.split()[1:] for line in status if line.startswith(("Uid:", "Gid:", "Groups:"))}
    assert set(ids["Uid"]) == {str(entry.pw_uid)}
    assert set(ids["Gid"]) == {str(entry.pw_gid)}
    assert ids["Groups"] in ([], [str(entry.pw_gid)])
