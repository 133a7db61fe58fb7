"""Failing the way a remote system does: restarts and crashes that keep what was acknowledged,
scripted 5xx, 429 and late answers (processed or not), and concurrent senders."""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from eu_hub_helpers import chunk, get_batch, key, new_batch, new_product, serials, upload
from eu_hub_simulator.testing import RunningSimulator


async def test_a_restart_keeps_packs_and_answers(client: httpx.AsyncClient, hub: RunningSimulator) -> None:
    code = await new_product(client)
    idem, body = key(), orjson.dumps(chunk(serials(10)))
    first = await upload(client, code, "L1", body, idem)
    assert first.status_code == 200
    url = hub.url
    await hub.restart()
    assert hub.url == url  # the same port: a sender's configuration outlives the restart
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers) as fresh:
        assert (await get_batch(fresh, code, "L1")).json()["packs"] == 10
        replay = await upload(fresh, code, "L1", body, idem)
        assert (replay.status_code, replay.content) == (200, first.content)
        assert replay.headers["idempotent-replay"] == "true"
        assert idem not in (await hub.stats())["processed_keys"]  # answered from the record, not processed
        assert (await get_batch(fresh, code, "L1")).json()["packs"] == 10


async def test_a_kill_keeps_every_committed_chunk(client: httpx.AsyncClient, hub: RunningSimulator) -> None:
    code, upload_id = await new_product(client), key()
    keys = [key() for _ in range(3)]
    bodies = [orjson.dumps(chunk(serials(100), upload_id=upload_id, index=i, count=3)) for i in range(3)]
    for idem, body in zip(keys[:2], bodies[:2], strict=True):
        assert (await upload(client, code, "L1", body, idem)).status_code == 200
    pid = hub.pid
    hub.kill()
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    await hub.start()
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers) as fresh:
        assert (await get_batch(fresh, code, "L1")).json()["uploads"] == {upload_id: {"chunks": [0, 1], "packs": 200}}
        # The sender does not know whether its last chunks arrived: it sends them again, with their keys.
        for idem, body in zip(keys, bodies, strict=True):
            assert (await upload(fresh, code, "L1", body, idem)).status_code == 200
        assert (await get_batch(fresh, code, "L1")).json()["packs"] == 300


async def test_a_kill_during_a_chunk_leaves_all_of_it_or_nothing(
    client: httpx.AsyncClient, hub: RunningSimulator
) -> None:
    code, idem = await new_product(client), key()
    body = orjson.dumps(chunk(serials(100_000)))

    async def send() -> None:
        async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers) as sender:
            await upload(sender, code, "L1", body, idem)

    sending = asyncio.create_task(send())
    await asyncio.sleep(0.15)  # the chunk is on its way or being written (on a loaded machine, maybe done)
    hub.kill()
    with contextlib.suppress(httpx.TransportError):  # cut off, or answered just before the kill
        await sending
    await hub.start()
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers) as fresh:
        batch = await get_batch(fresh, code, "L1")
        assert batch.status_code == 404 or batch.json()["packs"] == 100_000
        # The sender, not knowing, sends it again with its key: processed now, or answered as stored.
        assert (await upload(fresh, code, "L1", body, idem)).json()["accepted"] == 100_000
        assert (await get_batch(fresh, code, "L1")).json()["packs"] == 100_000


async def test_a_5xx_that_was_not_processed_is_processed_on_the_retry(
    client: httpx.AsyncClient, faults: RunningSimulator
) -> None:
    code = await new_product(client)
    idem, body = key(), orjson.dumps(chunk(serials(3)))
    await faults.faults({"status": 503, "retry_after": "2"}, path="/packs$")
    lost = await upload(client, code, "L1", body, idem)
    assert (lost.status_code, lost.headers["retry-after"]) == (503, "2")
    assert lost.json()["code"] == "NMVS_SIM_FAULT"
    assert (await get_batch(client, code, "L1")).status_code == 404
    assert idem not in (await faults.stats())["processed_keys"]
    retry = await upload(client, code, "L1", body, idem)
    assert retry.status_code == 200
    assert "idempotent-replay" not in retry.headers  # the 503 was not stored: this is the first processing
    assert (await faults.stats())["processed_keys"][idem] == 1


async def test_a_5xx_after_processing_is_recognised_by_its_key(
    client: httpx.AsyncClient, faults: RunningSimulator
) -> None:
    code = await new_product(client)
    idem, body = key(), orjson.dumps(chunk(serials(3)))
    await faults.faults({"status": 500, "process": True})
    assert (await upload(client, code, "L1", body, idem)).status_code == 500
    retry = await upload(client, code, "L1", body, idem)
    assert retry.status_code == 200
    assert retry.headers["idempotent-replay"] == "true"
    assert retry.json()["batch_packs"] == 3
    assert (await faults.stats())["processed_keys"][idem] == 1
    assert (await get_batch(client, code, "L1")).json()["packs"] == 3


async def test_an_answer_later_than_the_senders_timeout(client: httpx.AsyncClient, faults: RunningSimulator) -> None:
    code = await new_product(client)
    idem, body = key(), orjson.dumps(chunk(serials(3)))
    await faults.faults({"status": 200, "delay": 1.0})  # processed (status < 300), answered late
    async with httpx.AsyncClient(base_url=faults.url, headers=faults.headers, timeout=0.2) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await upload(impatient, code, "L1", body, idem)
    retry = await upload(client, code, "L1", body, idem)
    assert (retry.status_code, retry.headers["idempotent-replay"]) == (200, "true")
    assert (await faults.stats())["processed_keys"][idem] == 1


async def test_a_late_answer_arrives_in_the_end(client: httpx.AsyncClient, faults: RunningSimulator) -> None:
    await faults.faults({"delay": 0.3}, path="^/v1/alerts$")
    started = asyncio.get_running_loop().time()
    assert (await client.get("/v1/alerts")).status_code == 200
    assert asyncio.get_running_loop().time() - started >= 0.3


async def test_429_carries_retry_after_and_processes_nothing(
    client: httpx.AsyncClient, faults: RunningSimulator
) -> None:
    code, batch, _ = await new_batch(client)
    await faults.faults({"status": 429, "retry_after": "1"}, {"status": 503}, path="/packs$")
    extra = chunk(serials(2))
    throttled = await upload(client, code, batch, extra)
    assert (throttled.status_code, throttled.headers["retry-after"]) == (429, "1")
    unavailable = await upload(client, code, batch, extra)
    assert unavailable.status_code == 503
    assert "retry-after" not in unavailable.headers
    assert (await get_batch(client, code, batch)).json()["packs"] == 5  # a GET matches no script: not delayed
    assert (await upload(client, code, batch, extra)).status_code == 200  # the script is used up


async def test_faults_apply_only_to_the_paths_they_name(client: httpx.AsyncClient, faults: RunningSimulator) -> None:
    assert await faults.faults({"status": 502}, path="/state$") == 1
    code, batch, _ = await new_batch(client)  # a product and a chunk: not scripted
    assert (await get_batch(client, code, batch)).status_code == 200
    bad_regex = await client.post("/_sim/faults", json={"answers": [{"status": 500}], "path": "(["})
    assert bad_regex.status_code == 422


async def test_concurrent_requests_are_counted_and_one_key_is_processed_once(
    client: httpx.AsyncClient, faults: RunningSimulator
) -> None:
    code = await new_product(client)
    await faults.faults(*[{"delay": 0.3}] * 6, path="^/v1/alerts$")
    await asyncio.gather(*(client.get("/v1/alerts") for _ in range(6)))
    stats = await faults.stats()
    assert stats["max_in_flight"] >= 6
    idem, body = key(), orjson.dumps(chunk(serials(50)))
    answers = await asyncio.gather(*(upload(client, code, "L1", body, idem) for _ in range(4)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replay") == "true" for a in answers) == 3
    stats = await faults.stats()
    assert stats["processed_keys"][idem] == 1
    assert stats["requests"]["/v1/alerts"] >= 6
    assert stats["requests"]["/v1/batches/{product_code}/{batch_id}/packs"] >= 4


async def test_the_clock_offset_and_faults_do_not_outlive_a_restart(
    client: httpx.AsyncClient, hub: RunningSimulator
) -> None:
    await hub.faults({"status": 503}, path="^/v1/alerts$")
    await hub.clock(30 * 24 * 3600)
    await hub.restart()
    async with httpx.AsyncClient(base_url=hub.url, headers=hub.headers) as fresh:
        assert (await fresh.get("/v1/alerts")).status_code == 200
        now = (await fresh.post("/_sim/clock", json={"offset_seconds": 0})).json()["now"]
    shown = datetime.fromisoformat(now.replace("Z", "+00:00"))
    assert abs((shown - datetime.now(UTC)).total_seconds()) < 60  # not 30 days ahead: the offset is gone
