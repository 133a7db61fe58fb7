"""No record changes unseen (issue 10, item 3): each tampering the attacker review performed
as database superuser passes the hash chain alone, and is found and located by `verify-log`
against the signed checkpoints kept outside the database."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from aggregation_helpers import until_known
from issuance_helpers import GTIN, LOT, batch, commission, product, serials, site
from serialtrail.checkpoints import checkpoints_app, found_checkpoints
from serialtrail.services import SERVICES
from serialtrail_contracts import topics
from serialtrail_contracts.identity import AccessRefused
from serialtrail_kit.db import Connection
from serialtrail_kit.eventstore.checkpoints import CheckpointDirectory, LogRewritten, load_public_key
from serialtrail_kit.eventstore.hashchain import GENESIS_HASH, chain_hash
from serialtrail_kit.eventstore.postgres import COLUMNS, content_of
from serialtrail_kit.eventstore.verify import VerifyReport, verify_log
from serialtrail_kit.testing.harness import Harness, serve
from serialtrail_kit.testing.kafka import fresh_topics, kafka_settings
from serialtrail_kit.transport.dead_letters import read_dead_letters
from serialtrail_kit.transport.topics import dead_letter_topic
from typer.testing import CliRunner

LOG = "serial_issuance"


@pytest.fixture
async def harness(database_dsn: str) -> AsyncIterator[Harness]:
    async with serve(database_dsn, SERVICES) as served:
        await product(served.client)
        for lot in ("L1", "L2", "L3", "L4"):
            await batch(served.client, GTIN, lot)
        async with served.client_with("st_nope_nope") as stranger:  # a refusal, recorded in this log
            assert (await stranger.get(f"/v1/products/{GTIN}")).status_code == 401
        checkpointer = served.composition.runtime.checkpointer
        assert checkpointer is not None
        assert await checkpointer.checkpoint(LOG, force=True) is not None
        yield served


async def _verify(harness: Harness) -> VerifyReport:
    keys = [load_public_key(Path(f"{harness.settings.checkpoint_key_at}.pub"))]
    checkpoints = CheckpointDirectory(harness.settings.checkpoints_at).read(LOG)
    return await verify_log(harness.composition.admin_pool, LOG, checkpoints=checkpoints, keys=keys)


async def _as_superuser(harness: Harness, tamper: Callable[[Connection], Awaitable[None]]) -> None:
    async with harness.composition.admin_pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")  # the log's triggers, off
        await tamper(conn)


async def _rechain(conn: Connection) -> None:
    """Recompute every hash, as someone covering their tracks would."""
    previous = GENESIS_HASH
    for row in await conn.fetch(f"SELECT {COLUMNS} FROM {LOG}.events ORDER BY global_position"):
        current = chain_hash(previous, content_of(row))
        await conn.execute(
            f"UPDATE {LOG}.events SET prev_hash = $1, hash = $2 WHERE global_position = $3",
            previous,
            current,
            row["global_position"],
        )
        previous = current


async def test_an_untouched_log_verifies_against_its_checkpoints(harness: Harness) -> None:
    report = await _verify(harness)
    assert report.ok, report
    assert report.checkpoints >= 1
    assert report.anchored == report.head > 0


async def test_deleting_the_newest_rows_is_found(harness: Harness) -> None:
    # The newest rows a checkpoint vouches for (on a loaded machine a later row may not be anchored yet).
    head = (await _verify(harness)).anchored

    async def delete_newest(conn: Connection) -> None:
        await conn.execute(f"DELETE FROM {LOG}.events WHERE global_position > $1", head - 2)

    await _as_superuser(harness, delete_newest)
    report = await _verify(harness)
    assert report.first_break is None  # the chain alone sees nothing
    assert report.findings
    assert f"events {head - 1}..{head} were removed (truncated)" in report.findings[0]


async def test_the_running_checkpointer_never_signs_over_a_rewritten_log(harness: Harness) -> None:
    """The review cut the newest event while the server ran: it signed a checkpoint going back
    from position 4 to 3 without a word. It refuses now, naming the position, and its failure
    shows in readiness."""
    checkpointer = harness.composition.runtime.checkpointer
    assert checkpointer is not None
    head = (await _verify(harness)).head
    directory = CheckpointDirectory(harness.settings.checkpoints_at)
    before = directory.read(LOG)

    async def delete_newest(conn: Connection) -> None:
        await conn.execute(f"DELETE FROM {LOG}.events WHERE global_position = $1", head)

    await _as_superuser(harness, delete_newest)
    await batch(harness.client, GTIN, "L9")  # appended where the removed event was
    with pytest.raises(
        LogRewritten, match=f"position {head}, vouched for by the last checkpoint, has another chain hash"
    ):
        await checkpointer.checkpoint(LOG, force=True)
    assert directory.read(LOG) == before


async def test_truncating_the_whole_log_is_found(harness: Harness) -> None:
    head = (await _verify(harness)).head

    async def truncate(conn: Connection) -> None:
        await conn.execute(f"TRUNCATE {LOG}.events")

    await _as_superuser(harness, truncate)
    report = await _verify(harness)
    assert (report.checked, report.first_break) == (0, None)
    # Each checkpoint vouches for its own head (a periodic one may have been taken before the last).
    assert any(f"events 1..{head} were removed" in finding for finding in report.findings), report.findings


async def test_an_edit_with_the_chain_recomputed_is_found(harness: Harness) -> None:
    async def edit(conn: Connection) -> None:
        await conn.execute(
            f"UPDATE {LOG}.events SET payload = jsonb_set(payload, '{{expiry}}', '\"2099-12-31\"') "
            "WHERE event_type = 'serials.BatchRegistered' AND payload->>'lot' = 'L2'"
        )
        await _rechain(conn)

    await _as_superuser(harness, edit)
    report = await _verify(harness)
    assert report.first_break is None
    assert "the log was rewritten at or before position" in report.findings[0]


async def test_removing_every_refusal_and_rechaining_is_found(harness: Harness) -> None:
    async def remove_refusals(conn: Connection) -> None:
        await conn.execute(f"DELETE FROM {LOG}.events WHERE event_type = $1", AccessRefused.EVENT_TYPE)
        await conn.execute(f"UPDATE {LOG}.events SET global_position = global_position + 1000000")
        await conn.execute(
            f"UPDATE {LOG}.events e SET global_position = n.position FROM ("
            f"SELECT global_position AS old, row_number() OVER (ORDER BY global_position) AS position "
            f"FROM {LOG}.events) n WHERE e.global_position = n.old"
        )
        await _rechain(conn)

    await _as_superuser(harness, remove_refusals)
    report = await _verify(harness)
    assert report.first_break is None
    assert "were removed (truncated)" in report.findings[0]


async def test_a_checkpoint_is_checked_offline_and_a_forged_one_is_refused(harness: Harness, tmp_path: Path) -> None:
    directory = CheckpointDirectory(harness.settings.checkpoints_at)
    public = f"{harness.settings.checkpoint_key_at}.pub"
    runner = CliRunner()
    good = runner.invoke(checkpoints_app, ["verify", str(directory.path(LOG)), "--public-key", public])
    assert good.exit_code == 0, good.output
    assert ": ok" in good.output
    line = json.loads(directory.path(LOG).read_text().splitlines()[-1])
    forged = tmp_path / "forged.jsonl"
    forged.write_text(json.dumps({**line, "position": line["position"] + 100}) + "\n")
    refused = runner.invoke(checkpoints_app, ["verify", str(forged), "--public-key", public])
    assert refused.exit_code == 1
    assert "signature INVALID" in refused.output


async def test_the_application_connects_as_a_role_that_cannot_rewrite_the_log(harness: Harness) -> None:
    async with harness.composition.app_pool.acquire() as conn:
        await conn.execute("RESET ROLE")  # no superuser session underneath to fall back to
        assert await conn.fetchval("SELECT current_user") == "serialtrail_app"
        assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False
        for sql in (
            f"ALTER TABLE {LOG}.events DISABLE TRIGGER ALL",
            "SET session_replication_role = replica",
            f"UPDATE {LOG}.events SET payload = '{{}}'",
            f"DELETE FROM {LOG}.events",
            f"TRUNCATE {LOG}.events",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)


async def test_over_kafka_checkpoints_on_the_topic_anchor_the_log_without_the_directory(
    database_dsn: str, kafka_bootstrap: str
) -> None:
    """Distributed mode: each checkpoint is also published on the log's own topic. Readers of
    that topic pass over it (no dead letter, later events still applied), and with the
    checkpoint directory deleted the topic's copy still finds a truncation."""
    prefix = await fresh_topics(kafka_bootstrap)
    async with serve(database_dsn, SERVICES, kafka_settings(kafka_bootstrap, prefix)) as served:
        await product(served.client)
        await batch(served.client)
        await site(served.client)
        checkpointer = served.composition.runtime.checkpointer
        assert checkpointer is not None
        taken = await checkpointer.checkpoint(LOG, force=True)
        assert taken is not None
        issued = await serials(served.client, 2)
        assert (await commission(served.client, issued)).status_code == 201
        await until_known(served.client, f"/v1/batches/{GTIN}/{LOT}/aggregation-report", 2)
        assert await read_dead_letters(kafka_bootstrap, dead_letter_topic(prefix + topics.SERIALS)) == []

        shutil.rmtree(served.settings.checkpoints_at)
        found = await found_checkpoints(served.settings, LOG)
        assert taken in found.checkpoints  # with those the running checkpointer took on its own
        assert found.where == f"0 in the directory, {found.count} in the topic {prefix}{topics.SERIALS}"

        async def cut_after_checkpoint(conn: Connection) -> None:
            await conn.execute(f"DELETE FROM {LOG}.events WHERE global_position >= $1", taken.position)

        await _as_superuser(served, cut_after_checkpoint)
        keys = [load_public_key(Path(f"{served.settings.checkpoint_key_at}.pub"))]
        report = await verify_log(served.composition.admin_pool, LOG, checkpoints=found.checkpoints, keys=keys)
        assert report.first_break is None
        assert f"events {taken.position}..{taken.position} were removed (truncated)" in report.findings[0]
