"""Lookups in the knowledge read model (what serial issuance has published so far)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from serialtrail_gs1.epcis_checks import place_of
from serialtrail_gs1.identity import SGTIN, SSCC, ObjectId
from serialtrail_gs1.locations import canonical_sgln
from serialtrail_kit.db import Connection, json_elements, json_list

from aggregation.domain.objects import Knowledge, Label, Line

RM = "aggregation_rm"


def held_above(objects: str) -> str:
    """`held_above (object_id, hold_id)`: those of the JSON list `objects` held themselves or by a
    parent they are on, at any depth (walked only while something is held at all)."""
    return f"""WITH RECURSIVE up(object_id, above) AS (
        SELECT value, value FROM json_array_elements_text({objects}::json)
        WHERE EXISTS (SELECT FROM {RM}.held_objects)
        UNION ALL
        SELECT up.object_id, l.parent FROM up JOIN {RM}.links l ON l.child = up.above
    ), held_above AS (
        SELECT up.object_id, h.hold_id::text AS hold_id FROM up JOIN {RM}.held_objects h ON h.object_id = up.above
    )"""


# Units commissioned on a line while its output is held (`held_windows`): (object_id, hold_id, true).
_IN_HELD_WINDOW = f"""SELECT c.object_id, w.hold_id::text, true FROM {RM}.commissioned c
    JOIN {RM}.commissionings k ON k.global_position = c.global_position
    JOIN {RM}.held_windows w ON w.gtin = c.gtin AND w.lot = c.lot AND w.line_id = k.line_id
        AND c.commissioned_at >= w.window_start AND c.commissioned_at < w.window_end"""


async def snapshot(conn: Connection, objects: Iterable[ObjectId], packed_at: datetime | None = None) -> Knowledge:
    """What is known of `objects`; with `packed_at`, the commissioning time of those commissioned
    after it (only those: a pallet's 5,000 times are not worth decoding to find none)."""
    objects = list(objects)
    sgtins = [o.uri for o in objects if o.kind is SGTIN]
    # As a few arrays, not a row per unit: a pallet's 5,000 rows were 5,000 objects for the
    # collector to track (and walk while the request lasts), an array of text none.
    found = await conn.fetchrow(
        "SELECT array_agg(object_id) AS ids, array_agg(cmo_id) AS cmos, "
        "array_agg(object_id) FILTER (WHERE commissioned_at > $2) AS late, "
        "array_agg(commissioned_at) FILTER (WHERE commissioned_at > $2) AS late_at "
        f"FROM {RM}.commissioned WHERE object_id = ANY({json_elements('$1')})",
        json_list(sgtins),
        packed_at,
    )
    assert found is not None  # an aggregate query always returns its row
    owner = dict(zip(found["ids"] or (), found["cmos"] or (), strict=True))
    ssccs = await allocated_ssccs(conn, [o for o in objects if o.kind is SSCC])
    # Out of the supply chain, or held (itself, by its batch, or by a parent it is on): one round trip.
    standing = await conn.fetch(
        f"{held_above('$2')} SELECT object_id, reason, false AS held FROM {RM}.decommissioned "
        f"WHERE object_id = ANY({json_elements('$1')}) "
        f"UNION ALL SELECT object_id, hold_id, true FROM held_above "
        f"UNION ALL SELECT c.object_id, h.hold_id::text, true FROM {RM}.commissioned c "
        f"JOIN {RM}.held_batches h USING (gtin, lot) WHERE c.object_id = ANY({json_elements('$1')}) "
        f"AND EXISTS (SELECT FROM {RM}.held_batches) "  # nothing to look up while no batch is held
        f"UNION ALL {_IN_HELD_WINDOW} WHERE c.object_id = ANY({json_elements('$1')}) "
        f"AND EXISTS (SELECT FROM {RM}.held_windows)",
        json_list(sgtins),
        json_list([o.uri for o in objects]),
    )
    decommissioned = {r["object_id"]: r["reason"] for r in standing if not r["held"]}
    held = {r["object_id"]: r["reason"] for r in standing if r["held"]}
    return Knowledge(
        known=frozenset(owner) | frozenset(ssccs),
        owner=owner,
        decommissioned=decommissioned,
        held=held,
        ssccs=frozenset(o.uri for o in objects if o.kind is SSCC),
        commissioned_at=dict(zip(found["late"] or (), found["late_at"] or (), strict=True)),
    )


async def held(conn: Connection, uris: list[str]) -> dict[str, str]:
    """The holds holding these objects, themselves or through a parent they are on: object → hold."""
    rows = await conn.fetch(f"{held_above('$1')} SELECT object_id, hold_id FROM held_above", json_list(uris))
    return {r["object_id"]: r["hold_id"] for r in rows}


async def batch_labels(conn: Connection, uris: list[str]) -> dict[str, Label]:
    """The lot and expiry of the batch each commissioned SGTIN among `uris` belongs to."""
    if not uris:
        return {}
    rows = await conn.fetch(
        f"SELECT c.object_id, c.lot, b.expiry FROM {RM}.commissioned c "
        f"LEFT JOIN {RM}.known_batches b USING (gtin, lot) WHERE c.object_id = ANY($1::text[])",
        uris,
    )
    return {r["object_id"]: Label(r["lot"], r["expiry"]) for r in rows}


async def batch_cmos(conn: Connection, batches: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
    """The CMO of each known batch among (GTIN, lot) pairs (None: the company's own)."""
    wanted = sorted(set(batches))
    if not wanted:
        return {}
    rows = await conn.fetch(
        f"SELECT b.gtin, b.lot, b.cmo_id FROM {RM}.known_batches b "
        "JOIN unnest($1::text[], $2::text[]) AS u(g, l) ON b.gtin = u.g AND b.lot = u.l",
        [g for g, _ in wanted],
        [lot for _, lot in wanted],
    )
    return {(r["gtin"], r["lot"]): r["cmo_id"] for r in rows}


async def allocated_ssccs(conn: Connection, objects: Iterable[ObjectId]) -> set[str]:
    """The URIs of those SSCCs that fall inside a range serial issuance allocated."""
    digits = {str(o.sscc): o.uri for o in objects if o.sscc is not None}
    if not digits:
        return set()
    rows = await conn.fetch(
        f"""
        SELECT s FROM unnest($1::text[]) AS s WHERE EXISTS (
            SELECT FROM {RM}.sscc_ranges r
            WHERE r.extension_digit = substr(s, 1, 1)::int
              AND substr(s, 2, length(r.company_prefix)) = r.company_prefix
              AND substr(s, 2 + length(r.company_prefix), 16 - length(r.company_prefix))::bigint
                  BETWEEN r.first_reference AND r.first_reference + r.quantity - 1)
        """,
        list(digits),
    )
    return {digits[r["s"]] for r in rows}


async def unregistered_gtins(conn: Connection, gtins: Iterable[str]) -> set[str]:
    wanted = set(gtins)
    if not wanted:
        return set()
    rows = await conn.fetch(f"SELECT gtin FROM {RM}.known_products WHERE gtin = ANY($1::text[])", list(wanted))
    return wanted - {r["gtin"] for r in rows}


async def line(conn: Connection, named: str) -> Line | None:
    """A registered line, named by its id or by its read point's SGLN URI."""
    sgln = canonical_sgln(named)
    column, value = ("read_point", sgln[0]) if sgln is not None else ("line_id", named)
    row = await conn.fetchrow(
        f"SELECT line_id, read_point, biz_location, site_gln, cmo_id FROM {RM}.known_lines WHERE {column} = $1",
        value,
    )
    return None if row is None else Line(*row)


async def line_at_place(conn: Connection, gln: str, extension: str) -> Line | None:
    """The registered line whose read point is the SGLN of `gln` and `extension`, as an EPCIS
    read point names it (an SGLN URI or a GS1 Digital Link): found among its site's lines (a
    line's read point is its site's GLN with an extension of its own), read the same way."""
    rows = await conn.fetch(
        f"SELECT line_id, read_point, biz_location, site_gln, cmo_id FROM {RM}.known_lines WHERE site_gln = $1", gln
    )
    return next((Line(*row) for row in rows if place_of(row["read_point"]) == (gln, extension)), None)
