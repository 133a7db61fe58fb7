"""The EPCIS event repository: every captured event as it was received, with the fields the standard
queries select on, and whose it is. A fold of this service's own log.

Objects are kept in one canonical form (a GS1 Digital Link for SGTINs and SSCCs, as
`serialtrail_gs1` names them), so a query by EPC URN finds an event captured with Digital Links and
the other way round. Whose an event is, is its capture job's (`domain.capture.job_owner`): the
keys its events name, and its capturer's party.

A capture's events are served once it is settled: when it finished, and every service its
events were routed to has decided. An event an owner refused is not served (under rollback, no
event of that capture is); the log keeps them all."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from serialtrail_contracts.epcis import (
    CaptureFinished,
    CaptureReceived,
    EventsCaptured,
    OwnerDecided,
    PartnerGranted,
    PartnerGrantRevoked,
    identity,
)
from serialtrail_contracts.identity import Principal
from serialtrail_gs1.epcis_checks import batch_link, canonical_batch, canonical_epc, cbv_word, ilmd_lot, moment
from serialtrail_gs1.event_hash import digital_link
from serialtrail_kit.db import Connection, Pool
from serialtrail_kit.eventstore.model import RecordedEvent

from epcis_reporting.domain.query_params import Filters
from epcis_reporting.projections import party

SOURCE = "epcis_reporting"
RM = "epcis_reporting_rm"
_EPC_LISTS = ("epcList", "childEPCs")
_OTHER_EPC_LISTS = ("inputEPCList", "outputEPCList")  # with _EPC_LISTS and the parent: anyEPC's
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
UNKNOWN_BATCH = "(unknown)"  # never granted
_PREFIX_IN_URN = re.compile(r"urn:epc:(?:id|idpat|class):[a-z]+:([0-9]{6,12})\.")
_SGTIN_LINK = re.compile(r"https://id\.gs1\.org/01/([0-9]{14})/21/")


class RepositoryProjection:
    name = "repository"
    source = SOURCE
    tables: tuple[str, ...] = ("captures", "captured_events", "object_batches", "partner_grants", "company_prefixes")
    event_types = (
        CaptureReceived.EVENT_TYPE,
        EventsCaptured.EVENT_TYPE,
        CaptureFinished.EVENT_TYPE,
        OwnerDecided.EVENT_TYPE,
        PartnerGranted.EVENT_TYPE,
        PartnerGrantRevoked.EVENT_TYPE,
    )

    def ddl(self, schema: str) -> str:
        return f"""
        CREATE TABLE {schema}.captures (
            capture_id uuid PRIMARY KEY, settled boolean NOT NULL DEFAULT false,
            own_prefixes text[],  -- the capturer's scope's company prefixes (null: unrestricted)
            settled_at bigint,  -- the log position that settled it: the order subscriptions are told in
            awaiting text[] NOT NULL DEFAULT '{{}}', {party.DDL}
        );
        CREATE TABLE {schema}.captured_events (
            identity text PRIMARY KEY,  -- contracts.epcis.identity: an error declaration's differs from its event's
            event_id text NOT NULL, sent_id text, capture_id uuid NOT NULL, seq bigint NOT NULL UNIQUE,
            event_type text NOT NULL, event_time timestamptz NOT NULL, record_time timestamptz NOT NULL,
            biz_step text, disposition text, read_point text, biz_location text,
            epcs text[] NOT NULL, any_epcs text[] NOT NULL, parent_id text, event jsonb NOT NULL,
            classes text[] NOT NULL,  -- of its quantity lists, canonical (a batch: its LGTIN Digital Link)
            lot text,  -- its ILMD's cbvmda:lotNumber
            context jsonb,
            declared boolean NOT NULL,  -- this row declares its event in error (the event with errorDeclaration)
            superseded boolean NOT NULL DEFAULT false,  -- an error is declared for this row's event
            declaration_time timestamptz, error_reason text, corrective_ids text[]
        );
        CREATE INDEX ON {schema}.captured_events (event_id);
        CREATE INDEX ON {schema}.captured_events (sent_id);
        CREATE INDEX ON {schema}.captured_events (event_id) WHERE declared;
        CREATE INDEX ON {schema}.captured_events USING gin (epcs);
        CREATE INDEX ON {schema}.captured_events USING gin (any_epcs);
        CREATE INDEX ON {schema}.captured_events (event_time, seq);
        CREATE INDEX ON {schema}.captured_events (parent_id);
        CREATE INDEX ON {schema}.captured_events (lot) WHERE lot IS NOT NULL;
        CREATE TABLE {schema}.object_batches (  -- which batch an object is of, as a captured event says
            epc text NOT NULL, batch text NOT NULL, event_id text NOT NULL, capture_id uuid NOT NULL,
            PRIMARY KEY (epc, batch, event_id)
        );
        CREATE INDEX ON {schema}.object_batches (capture_id);
        CREATE TABLE {schema}.company_prefixes (  -- GS1 Company Prefixes EPC URNs stated in what was captured
            prefix text PRIMARY KEY
        );
        CREATE TABLE {schema}.partner_grants (
            partner_gln text NOT NULL, batch text NOT NULL, gtin text NOT NULL, lot text NOT NULL,
            granted_at timestamptz NOT NULL, reason text NOT NULL, PRIMARY KEY (partner_gln, batch)
        );
        """

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            if recorded.event_type == CaptureReceived.EVENT_TYPE:
                await _capture(conn, schema, recorded.payload)
            elif recorded.event_type == EventsCaptured.EVENT_TYPE:
                await _events(conn, schema, recorded)
            elif recorded.event_type == CaptureFinished.EVENT_TYPE:
                owners = recorded.payload.get("owners") or []
                await conn.execute(
                    f"UPDATE {schema}.captures SET awaiting = $2, settled = cardinality($2::text[]) = 0, "
                    "settled_at = CASE WHEN cardinality($2::text[]) = 0 THEN $3::bigint END "
                    "WHERE capture_id = $1::uuid",
                    recorded.payload["capture_id"],
                    owners,
                    recorded.global_position,
                )
            elif recorded.event_type == OwnerDecided.EVENT_TYPE:
                await _decided(conn, schema, recorded.payload, recorded.global_position)
            elif recorded.event_type in (PartnerGranted.EVENT_TYPE, PartnerGrantRevoked.EVENT_TYPE):
                await _grant(conn, schema, recorded)


async def _grant(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    grant = recorded.payload
    batch = batch_link(grant["gtin"], grant["lot"])
    if recorded.event_type == PartnerGranted.EVENT_TYPE:
        await conn.execute(
            f"INSERT INTO {schema}.partner_grants VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            grant["partner_gln"],
            batch,
            grant["gtin"],
            grant["lot"],
            recorded.recorded_at,
            grant["reason"],
        )
    else:
        await conn.execute(
            f"DELETE FROM {schema}.partner_grants WHERE partner_gln = $1 AND batch = $2", grant["partner_gln"], batch
        )


async def _decided(conn: Connection, schema: str, decided: dict[str, Any], position: int) -> None:
    """An owner's refusals withdraw the events refused (under rollback, all of the capture's)."""
    if decided.get("prepared"):
        return  # a check of the share: the decision comes when the capture is committed
    if decided.get("last", True):
        await conn.execute(
            f"UPDATE {schema}.captures SET awaiting = array_remove(awaiting, $2), "
            "settled = cardinality(array_remove(awaiting, $2)) = 0, "
            "settled_at = CASE WHEN cardinality(array_remove(awaiting, $2)) = 0 THEN $3::bigint END "
            "WHERE capture_id = $1::uuid",
            decided["capture_id"],
            decided["owner"],
            position,
        )
    if decided["rolled_back"]:
        withdrawn = await conn.fetch(
            f"DELETE FROM {schema}.captured_events WHERE capture_id = $1::uuid RETURNING event_id",
            decided["capture_id"],
        )
        await conn.execute(f"DELETE FROM {schema}.object_batches WHERE capture_id = $1::uuid", decided["capture_id"])
        await _supersede(conn, schema, [row["event_id"] for row in withdrawn])
    elif decided["refused"]:
        refused = sorted({error["event_id"] for error in decided["refused"] if error["event_id"]})
        for table, which in (("captured_events", "AND NOT declared "), ("object_batches", "")):
            await conn.execute(
                f"DELETE FROM {schema}.{table} WHERE capture_id = $1::uuid {which}AND event_id = ANY($2::text[])",
                decided["capture_id"],
                refused,
            )


async def _supersede(conn: Connection, schema: str, event_ids: Sequence[str]) -> None:
    """An event is superseded while a declaration of its error is kept (either may come first)."""
    await conn.execute(
        f"UPDATE {schema}.captured_events o SET superseded = EXISTS (SELECT FROM {schema}.captured_events d "
        "WHERE d.declared AND d.event_id = o.event_id) WHERE NOT o.declared AND o.event_id = ANY($1::text[])",
        sorted(set(event_ids)),
    )


async def _capture(conn: Connection, schema: str, payload: dict[str, Any]) -> None:
    await conn.execute(
        f"INSERT INTO {schema}.captures (capture_id, {', '.join(party.COLUMNS)}) "
        "VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        payload["capture_id"],
        *party.values(payload),
    )
    own = payload["scope"].get("company_prefixes")
    await conn.execute(
        f"UPDATE {schema}.captures SET own_prefixes = $2 WHERE capture_id = $1::uuid", payload["capture_id"], own
    )
    await _learn_prefixes(conn, schema, own, payload.get("master_data_json") or "")


async def _learn_prefixes(conn: Connection, schema: str, own: list[str] | None, *texts: str) -> None:
    """The company prefixes EPC URNs state (`urn:epc:idpat:sgtin:4012345.011111.*` in an EPCClass of
    the master data, `urn:epc:id:sgln:9506000.00000.0` as a read point): what lets a Digital Link
    be answered as an EPC URN in EPCIS 1.2, for every capture's events. Only from a capturer that may
    speak for the company (its scope names the prefix, or it is unrestricted): another company's
    key cannot state a wrong length for someone else's keys."""
    found = sorted({prefix for text in texts for prefix in _PREFIX_IN_URN.findall(text)})
    if own is not None:
        found = [prefix for prefix in found if prefix in own]
    if found:
        await conn.execute(
            f"INSERT INTO {schema}.company_prefixes SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", found
        )


async def known_prefixes(pool: Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [row["prefix"] for row in await conn.fetch(f"SELECT prefix FROM {RM}.company_prefixes")]


async def _events(conn: Connection, schema: str, recorded: RecordedEvent) -> None:
    payload = recorded.payload
    rows = [_row(recorded, captured) for captured in payload["events"]]
    await conn.executemany(
        f"INSERT INTO {schema}.captured_events (identity, event_id, capture_id, seq, event_type, event_time, "
        "record_time, biz_step, disposition, read_point, biz_location, epcs, any_epcs, parent_id, event, "
        "sent_id, declared, declaration_time, error_reason, corrective_ids, classes, lot, context) "
        "VALUES ($1, $2, $3::uuid, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, "
        "$16, $17, $18, $19, $20, $21, $22, $23::jsonb) ON CONFLICT DO NOTHING",
        [(*row, orjson.loads(payload["context_json"])) for row in rows],
    )
    await _batches_of_objects(conn, schema, payload["capture_id"], rows)
    own = await conn.fetchval(
        f"SELECT own_prefixes FROM {schema}.captures WHERE capture_id = $1::uuid", payload["capture_id"]
    )
    await _learn_prefixes(conn, schema, own, *(captured["event_json"] for captured in payload["events"]))
    declared = [captured["event_id"] for captured in payload["events"] if captured.get("declares_error")]
    if declared:
        await _supersede(conn, schema, declared)
    elif await conn.fetchval(f"SELECT EXISTS (SELECT FROM {schema}.captured_events WHERE declared)"):
        await _supersede(conn, schema, [captured["event_id"] for captured in payload["events"]])


def _row(recorded: RecordedEvent, captured: dict[str, Any]) -> tuple[Any, ...]:
    event = orjson.loads(captured["event_json"])
    parent = canonical_epc(event["parentID"]) if event.get("parentID") else None
    declaration = event.get("errorDeclaration") if captured.get("declares_error") else None
    return (
        identity(captured["event_id"], bool(declaration)),
        captured["event_id"],
        recorded.payload["capture_id"],
        recorded.global_position * 1_000_000 + captured["index"],  # document order within a log record
        event.get("type"),
        moment(event["eventTime"]),  # checked at capture
        recorded.recorded_at,
        cbv_word(event.get("bizStep"), "BizStep"),
        cbv_word(event.get("disposition"), "Disp"),
        (event.get("readPoint") or {}).get("id"),
        (event.get("bizLocation") or {}).get("id"),
        epcs := _canonical(event, _EPC_LISTS),
        epcs + _canonical(event, _OTHER_EPC_LISTS) + ([parent] if parent else []),
        parent,
        event,
        event.get("eventID") if isinstance(event.get("eventID"), str) else None,
        declaration is not None,
        *_declared(declaration),
        [canonical_batch(c) or digital_link(c) for c in _classes(event)],
        ilmd_lot(event),
    )


def _classes(event: dict[str, Any]) -> list[str]:
    return [
        q["epcClass"]
        for name in _QUANTITY_LISTS
        for q in event.get(name) or ()
        if isinstance(q, dict) and isinstance(q.get("epcClass"), str)
    ]


# An aggregation that added children to its parent (any business step).
_ADDED_TO_PARENT = "e.event_type = 'AggregationEvent' AND e.parent_id IS NOT NULL AND e.event->>'action' = 'ADD'"


async def _batches_of_objects(conn: Connection, schema: str, capture_id: str, rows: list[tuple[Any, ...]]) -> None:
    """Which batch each object is of, in document order: a commissioning names its serials' lot
    (only a commissioning: its owner decides it); an aggregation (packing, loading …) makes its
    parent of the batches of what it adds (known by then, or named by class): more batches only
    ever hide a parent from more partners."""
    commissioned: list[tuple[str, str, str, str]] = []
    for row in rows:
        event_id, event, epcs, parent, classes, step = row[1], row[14], row[11], row[13], row[20], row[7]
        if event.get("action") != "ADD":
            continue
        lot = row[21] if event.get("type") == "ObjectEvent" and step == "commissioning" else None
        if lot is not None:
            for epc in epcs:
                if found := _SGTIN_LINK.match(epc):
                    commissioned.append((epc, batch_link(found[1], lot), event_id, capture_id))
        elif event.get("type") == "AggregationEvent" and parent is not None:
            await _store(conn, schema, commissioned)
            commissioned = []
            await conn.execute(
                # The parent's batches, and what holds it (packed earlier: a case that grows on its
                # pallet) holds the batches new to it too.
                f"WITH RECURSIVE added AS (INSERT INTO {schema}.object_batches (epc, batch, event_id, capture_id) "
                f"SELECT $1, batch, $2, $3::uuid FROM (SELECT batch FROM {schema}.object_batches "
                "WHERE epc = ANY($4::text[]) UNION SELECT unnest($5::text[]) "
                # A child whose batch no capture said (commissioned through the API, or later): the
                # parent holds something of a batch not known here, and is no partner's to read.
                f"UNION SELECT '{UNKNOWN_BATCH}' WHERE EXISTS (SELECT FROM unnest($4::text[]) AS c(epc) "
                f"WHERE NOT EXISTS (SELECT FROM {schema}.object_batches k WHERE k.epc = c.epc))) AS b(batch) "
                "ON CONFLICT DO NOTHING RETURNING batch), "
                f"holders(epc) AS (SELECT e.parent_id FROM {schema}.captured_events e "
                f"WHERE e.epcs @> ARRAY[$1::text] AND {_ADDED_TO_PARENT} AND EXISTS (SELECT FROM added) "
                f"UNION SELECT e.parent_id FROM {schema}.captured_events e JOIN holders h ON e.epcs @> ARRAY[h.epc] "
                f"WHERE {_ADDED_TO_PARENT}) "
                f"INSERT INTO {schema}.object_batches (epc, batch, event_id, capture_id) "
                "SELECT h.epc, a.batch, $2, $3::uuid FROM holders h CROSS JOIN added a "
                "WHERE h.epc <> $1 ON CONFLICT DO NOTHING",
                parent,
                event_id,
                capture_id,
                epcs,
                [c for c in classes if canonical_batch(c)],
            )
    await _store(conn, schema, commissioned)


async def _store(conn: Connection, schema: str, rows: list[tuple[str, str, str, str]]) -> None:
    if rows:
        await conn.execute(
            f"INSERT INTO {schema}.object_batches (epc, batch, event_id, capture_id) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[]) ON CONFLICT DO NOTHING",
            *(list(column) for column in zip(*rows, strict=True)),
        )


def _moment_or_none(text: Any) -> datetime | None:
    try:
        return moment(text) if isinstance(text, str) else None
    except (ValueError, OverflowError):
        return None


def _declared(declaration: dict[str, Any] | None) -> tuple[datetime | None, str | None, list[str] | None]:
    """(declarationTime, reason as its CBV word, correctiveEventIDs) of an error declaration."""
    if declaration is None:
        return None, None, None
    when = declaration.get("declarationTime")
    corrective = [i for i in declaration.get("correctiveEventIDs") or () if isinstance(i, str)]
    return (
        _moment_or_none(when),
        cbv_word(declaration.get("reason"), "ER"),
        corrective,
    )


def _canonical(event: dict[str, Any], lists: Iterable[str]) -> list[str]:
    return [canonical_epc(epc) for name in lists for epc in event.get(name) or () if isinstance(epc, str)]


def _where(filters: Filters, args: list[Any]) -> list[str]:
    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    found = []
    for values, column in (
        (filters.event_types, "e.event_type"),
        (filters.biz_steps, "e.biz_step"),
        (filters.dispositions, "e.disposition"),
        (filters.read_points, "e.read_point"),
        (filters.biz_locations, "e.biz_location"),
        (filters.parent_ids, "e.parent_id"),
        (filters.error_reasons, "e.error_reason"),
        (filters.lots, "e.lot"),
    ):
        if values:
            found.append(f"{column} = ANY({arg(list(values))}::text[])")
    for values, column in (
        (filters.epcs, "e.epcs"),
        (filters.any_epcs, "e.any_epcs"),
        (filters.corrective_ids, "e.corrective_ids"),
    ):
        if values:
            found.append(f"{column} && {arg(list(values))}::text[]")
    if filters.event_ids:
        ids = arg(list(filters.event_ids))
        found.append(f"(e.event_id = ANY({ids}::text[]) OR e.sent_id = ANY({ids}::text[]))")
    for when, condition in (
        (filters.ge_event_time, "e.event_time >= {}"),
        (filters.lt_event_time, "e.event_time < {}"),
        (filters.ge_record_time, "e.record_time >= {}"),
        (filters.lt_record_time, "e.record_time < {}"),
        (filters.ge_declaration_time, "e.declaration_time >= {}"),
        (filters.lt_declaration_time, "e.declaration_time < {}"),
    ):
        if when is not None:
            found.append(condition.format(arg(when)))
    return found


def _declarations(filters: Filters) -> list[str]:
    asks_for_them = filters.error_reasons or filters.corrective_ids or filters.ge_declaration_time
    if filters.declared or asks_for_them or filters.lt_declaration_time:
        return ["e.declared"]
    if filters.declared is False:
        return ["NOT e.superseded"]
    return ["NOT e.superseded", "NOT e.declared"]


def _ordered(filters: Filters, select: str, order: str) -> str:
    """`select` in `order`. Asked for EPCs, the events naming them are found first and then
    ordered: otherwise the planner walks every event in sequence order to the few that name them
    (seconds on a million events; the index on the EPC lists finds them in milliseconds)."""
    if filters.epcs or filters.any_epcs:
        return f"WITH found AS MATERIALIZED ({select}) SELECT * FROM found {order}"
    return f"SELECT * FROM ({select}) AS found {order}"


async def settled_after(
    conn: Connection, principal: Principal, filters: Filters, after: tuple[int, int], since: datetime, most: int
) -> list[dict[str, Any]]:
    """Up to `most` events `principal` may read that `filters` select, recorded at `since` or
    later, in the order their captures settled (then capture order), after the cursor `after`
    ((settled_at, seq) of the last one told): what a subscription is told next."""
    args: list[Any] = [after[0], after[1], since]
    conditions = [
        "c.settled_at IS NOT NULL",
        "(c.settled_at, e.seq) > ($1::bigint, $2::bigint)",
        "e.record_time >= $3",
        *_declarations(filters),
        *_where(filters, args),
        *party.events_visible(principal, args, "c", "e", RM),
    ]
    args.append(most)
    sql = _ordered(
        filters,
        f"SELECT c.settled_at, e.seq, e.event, e.context, e.record_time FROM {RM}.captured_events e "
        f"JOIN {RM}.captures c USING (capture_id) WHERE {' AND '.join(conditions)}",
        f"ORDER BY settled_at, seq LIMIT ${len(args)}",
    )
    return [dict(row) for row in await conn.fetch(sql, *args)]


async def key_withdrawn(conn: Connection, principal_id: str) -> bool:
    """Whether `principal_id` is an API key's that was revoked or has expired (this service's own
    copy of the keys); a principal of an identity provider's tokens has no key here."""
    found = await conn.fetchval(
        f"SELECT EXISTS (SELECT FROM {RM}.api_keys k LEFT JOIN {RM}.api_key_revocations r USING (key_id) "
        "WHERE k.principal_id = $1 AND (r.revoked_at IS NOT NULL OR k.expires_at <= now()))",
        principal_id,
    )
    return bool(found)


async def query(
    pool: Pool, principal: Principal, filters: Filters, per_page: int, after: int | None
) -> list[dict[str, Any]]:
    """Up to `per_page` events in capture order, after the sequence number `after` (a page token)."""
    args: list[Any] = []
    conditions = [
        "c.settled",
        *_declarations(filters),
        *_where(filters, args),
        *party.events_visible(principal, args, "c", "e", RM),
    ]
    if after is not None:
        args.append(after)
        conditions.append(f"e.seq > ${len(args)}")
    args.append(per_page)
    sql = _ordered(
        filters,
        f"SELECT e.seq, e.event, e.context, e.record_time FROM {RM}.captured_events e "
        f"JOIN {RM}.captures c USING (capture_id) WHERE {' AND '.join(conditions) or 'true'}",
        f"ORDER BY seq LIMIT ${len(args)}",
    )
    async with pool.acquire() as conn:
        rows = await conn.fetch(sql, *args)
    return [dict(row) for row in rows]
