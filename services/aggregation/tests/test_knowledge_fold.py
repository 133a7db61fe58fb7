"""Aggregation's knowledge of commissioning: copied in when nothing is there yet, inserted with ON
CONFLICT DO NOTHING otherwise; the same rows either way, live and replayed."""

from __future__ import annotations

from datetime import datetime

from aggregation.projections.knowledge.read_model import _Commissioning, _lines
from aggregation_helpers import GTIN, LOT, commissioned, master_data, publish, unit
from serialtrail_kit.readers.copying import text
from serialtrail_kit.readers.projection import ProjectionAdmin, table_digest
from serialtrail_kit.testing.harness import Harness


async def _rows(harness: Harness, schema: str = "aggregation_rm") -> list[tuple[object, ...]]:
    async with harness.composition.admin_pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT object_id, gtin, lot, cmo_id, global_position, commissioned_at FROM {schema}.commissioned "
            "ORDER BY object_id"
        )
    return [tuple(row) for row in rows]


async def test_a_serial_commissioned_again_keeps_its_first_commissioning(aggregation: Harness) -> None:
    await publish(aggregation, *master_data(cmo_id="CMO-A"), commissioned(["K00000000001", "K00000000002"]))
    first = await _rows(aggregation)
    again = commissioned(["K00000000002", "K00000000003"])  # one of them already there: the copy gives way
    await publish(aggregation, again, commissioned(["K00000000004", "K00000000004"]))  # twice in one event
    rows = await _rows(aggregation)
    assert [r[0] for r in rows] == [unit(f"K0000000000{n}") for n in (1, 2, 3, 4)]
    assert rows[:2] == first  # the first commissioning's position and time stay
    assert {(r[1], r[2], r[3]) for r in rows} == {(GTIN, LOT, "CMO-A")}
    async with aggregation.composition.admin_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM aggregation_rm.commissionings") == 3  # one per event


async def test_an_event_time_without_offset_is_read_as_before(aggregation: Harness) -> None:
    naive = commissioned(["N00000000001"]).model_copy(update={"event_time": datetime(2026, 11, 22, 8, 0)})
    await publish(aggregation, *master_data(), naive, commissioned(["N00000000002"]))
    async with aggregation.composition.admin_pool.acquire() as conn:
        expected = await conn.fetchval("SELECT '2026-11-22T08:00:00'::timestamptz")
    rows = await _rows(aggregation)
    assert rows[0][0] == unit("N00000000001")
    assert rows[0][5] == expected


async def test_replay_of_copied_and_inserted_commissionings_gives_identical_tables(aggregation: Harness) -> None:
    await publish(aggregation, *master_data(), commissioned([f"P{i:011d}" for i in range(50)]))
    await publish(aggregation, commissioned(["P00000000003", "P99999999999"]))
    (module,) = aggregation.composition.modules
    projection = next(p for p in module.projections if p.name == "knowledge")
    async with aggregation.composition.admin_pool.acquire() as conn:
        before = {t: await table_digest(conn, "aggregation_rm", t) for t in projection.tables}
    result = await ProjectionAdmin(aggregation.composition.admin_pool, module.name).replay(
        projection, keep_previous=True
    )
    async with aggregation.composition.admin_pool.acquire() as conn:
        after = {t: await table_digest(conn, result.active_schema, t) for t in projection.tables}
    assert after == before
    assert len(await _rows(aggregation, result.active_schema)) == 51


def test_copied_lines_are_each_value_as_text_whether_or_not_one_needs_escaping() -> None:
    """A batch is put together as it is where no value needs escaping, value by value otherwise:
    the lines are each value in COPY's text form either way."""
    at = "2026-11-22T07:00:00+00:00"
    plain = [
        _Commissioning(GTIN, LOT, 7, "L1", at, [unit("A1"), unit("A2")]),
        _Commissioning(GTIN, "L2", 8, "L1", at, []),
        _Commissioning(GTIN, "L3", 9, "L2", at, [unit("A3")]),
    ]
    odd = [*plain, _Commissioning(GTIN, "tab\tback\\slash", 10, "line\nbreak", at, ["cr\rx"])]
    cmo = {(GTIN, LOT): "CMO\tA", (GTIN, "L3"): None}
    for batch in (plain, odd):
        expected = "".join(
            f"{text(o)}\t{text(c.gtin)}\t{text(c.lot)}\t{text(cmo.get((c.gtin, c.lot)))}\t{c.position}\t{text(c.at)}\n"
            for c in batch
            for o in c.objects
        )
        assert _lines(batch, cmo) == (expected, "".join(f"{c.position}\t{text(c.line_id)}\n" for c in batch))
    assert "tab\\tback\\\\slash" in _lines(odd, cmo)[0]
