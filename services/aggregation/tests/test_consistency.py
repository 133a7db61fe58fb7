"""Concurrency, CMO scope, and rebuilding the read models."""

from __future__ import annotations

import asyncio

from aggregation.application import write_side
from aggregation.application.write_side import Holdings
from aggregation_helpers import GTIN, commissioned, line, master_data, pack, pack_body, publish, sscc_uri, unit
from serialtrail_contracts.identity import Role, Scope
from serialtrail_gs1.identity import CANONICAL_RESOLVER
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.readers.projection import ProjectionAdmin, table_digest
from serialtrail_kit.testing.harness import Harness
from serialtrail_kit.writes.install import install_write_sides


async def test_concurrent_packs_of_one_child_into_two_parents_let_exactly_one_win(aggregation: Harness) -> None:
    await publish(aggregation, *master_data(), commissioned([f"C{i:011d}" for i in range(20)]))
    contested = [unit(f"C{i:011d}") for i in range(20)]
    responses = await asyncio.gather(
        *(aggregation.client.post("/v1/pack", json=pack_body(sscc_uri(100 + n), contested)) for n in range(6))
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5
    ancestors = [(await aggregation.client.get(f"/v1/ancestors/{child}")).json()["ancestors"] for child in contested]
    assert len({a[0]["id"] for a in ancestors}) == 1


async def test_concurrent_opposite_packs_cannot_make_a_cycle(aggregation: Harness) -> None:
    await publish(aggregation, *master_data())
    a, b = sscc_uri(201), sscc_uri(202)
    first, second = await asyncio.gather(
        aggregation.client.post("/v1/pack", json=pack_body(a, [b])),
        aggregation.client.post("/v1/pack", json=pack_body(b, [a])),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409]


async def test_a_cmo_packs_only_units_of_its_own_batches(aggregation: Harness) -> None:
    cmo_line = line("CMO-A-1", cmo_id="CMO-A", site_gln="4000001000005")
    await publish(aggregation, *master_data(cmo_id="CMO-B"), cmo_line, commissioned(["D00000000001"]))
    token = await aggregation.token(Role.cmo, Scope(cmos=frozenset({"CMO-A"})))
    async with aggregation.client_with(token) as cmo_a:
        body = pack_body(sscc_uri(300), [unit("D00000000001")], line_id="CMO-A-1")
        refused = await cmo_a.post("/v1/pack", json=body)
        assert refused.status_code == 409, refused.text
        assert refused.json()["errors"][0]["rule"] == "in-scope"
        # The company's own line is not the CMO's to record on, whatever it packs.
        theirs = await cmo_a.post("/v1/pack", json=pack_body(sscc_uri(302), [unit("D00000000001")]))
        assert theirs.status_code == 403
        assert "lacks scope cmo (" in theirs.json()["detail"]
        hidden = await cmo_a.get(f"/v1/batches/{GTIN}/L2026A/aggregation-report")
        assert hidden.status_code == 404
    await pack(aggregation.client, sscc_uri(301), [unit("D00000000001")])
    async with aggregation.client_with(token) as cmo_a:
        assert (await cmo_a.get(f"/v1/hierarchy/{sscc_uri(301)}")).status_code == 404


async def test_replaying_the_read_models_gives_identical_tables(aggregation: Harness) -> None:
    await publish(aggregation, *master_data(), commissioned([f"R{i:011d}" for i in range(30)]))
    for n in range(3):
        await pack(aggregation.client, sscc_uri(400 + n), [unit(f"R{i:011d}") for i in range(n * 10, n * 10 + 10)])
    await aggregation.client.post(
        "/v1/unpack",
        json={"parent": sscc_uri(400), "reason": "rework", "line_id": "LINE-1", "event_time": "2026-11-22T09:00:00Z"},
    )
    await aggregation.client.post(f"/v1/close/{sscc_uri(401)}", json={"event_time": "2026-11-22T09:30:00Z"})
    (module,) = aggregation.composition.modules
    admin = ProjectionAdmin(aggregation.composition.admin_pool, module.name)
    for projection in module.projections:
        await module.runners[projection.name].caught_up()
        async with aggregation.composition.admin_pool.acquire() as conn:
            before = {t: await table_digest(conn, f"{module.name}_rm", t) for t in projection.tables}
        result = await admin.replay(projection, keep_previous=True)
        async with aggregation.composition.admin_pool.acquire() as conn:
            after = {t: await table_digest(conn, result.active_schema, t) for t in projection.tables}
        assert after == before, projection.name


async def test_the_write_side_rebuilt_from_the_log_gives_identical_tables(aggregation: Harness) -> None:
    """As on an upgrade whose write side stores its keys otherwise: a stored digest that differs
    from the code's rebuilds the tables from the log, and they come out as the live ones."""
    await publish(aggregation, *master_data(), commissioned([f"W{i:011d}" for i in range(20)]))
    await pack(aggregation.client, sscc_uri(500), [unit(f"W{i:011d}") for i in range(10)])
    await pack(aggregation.client, sscc_uri(501), [unit(f"W{i:011d}") for i in range(10, 20)])
    await pack(aggregation.client, sscc_uri(502), [sscc_uri(500), sscc_uri(501)])
    await aggregation.client.post(
        "/v1/unpack",
        json={
            "parent": sscc_uri(501),
            "children": [unit("W00000000019")],
            "reason": "rework",
            "line_id": "LINE-1",
            "event_time": "2026-11-22T09:00:00Z",
        },
    )
    pool = aggregation.composition.admin_pool
    (module,) = aggregation.composition.modules
    async with pool.acquire() as conn:
        before = {t: await table_digest(conn, "aggregation", t) for t in Holdings.tables}
        keys = {r["child"] for r in await conn.fetch("SELECT child FROM aggregation.contents")}
        await conn.execute("UPDATE aggregation.write_sides SET ddl_digest = 'sha256:older' WHERE name = 'holdings'")
        store = PostgresEventStore(pool, module.name, module.upcasters)
        assert await install_write_sides(conn, store, module.write_sides) == ["holdings"]
        after = {t: await table_digest(conn, "aggregation", t) for t in Holdings.tables}
        loaded = await write_side.load(conn, [unit("W00000000000"), sscc_uri(500)])
    assert after == before
    assert unit("W00000000000").removeprefix(CANONICAL_RESOLVER) in keys  # stored without the resolver
    assert unit("W00000000019").removeprefix(CANONICAL_RESOLVER) not in keys  # unpacked
    assert loaded.parent_of == {unit("W00000000000"): sscc_uri(500), sscc_uri(500): sscc_uri(502)}
    assert set(loaded.parents) == {sscc_uri(500)}  # the states of the parents among those asked for
