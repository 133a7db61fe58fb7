"""DDL of a service's event log: the append-only events table, its immutability
trigger and the tracking table every reader of the service keeps its position in."""

from __future__ import annotations

import logging

import asyncpg

from serialtrail_kit.db import APP_ROLE, Connection, ensure_role, ident

log = logging.getLogger(__name__)


def log_ddl(schema: str, app_role: str = APP_ROLE) -> str:
    s, role = ident(schema), ident(app_role)
    return f"""
    CREATE SCHEMA IF NOT EXISTS {s};

    CREATE TABLE IF NOT EXISTS {s}.events (
        stream_id       text        NOT NULL,
        stream_version  integer     NOT NULL CHECK (stream_version > 0),
        global_position bigint      NOT NULL UNIQUE CHECK (global_position > 0),
        event_id        uuid        NOT NULL UNIQUE,
        event_type      text        NOT NULL,
        event_version   integer     NOT NULL,
        payload         jsonb       NOT NULL,
        metadata        jsonb       NOT NULL,
        recorded_at     timestamptz NOT NULL,
        prev_hash       bytea       NOT NULL,
        hash            bytea       NOT NULL,
        PRIMARY KEY (stream_id, stream_version)
    );

    -- One row whose lock serialises appenders. LOCK TABLE … EXCLUSIVE would need UPDATE or
    -- DELETE rights on the log, which the application role must not have.
    CREATE TABLE IF NOT EXISTS {s}.append_lock (id boolean PRIMARY KEY DEFAULT true CHECK (id));
    INSERT INTO {s}.append_lock VALUES (true) ON CONFLICT DO NOTHING;

    CREATE TABLE IF NOT EXISTS {s}.tracking (
        reader     text   NOT NULL,
        source     text   NOT NULL,
        position   bigint NOT NULL,
        PRIMARY KEY (reader, source)
    );

    CREATE TABLE IF NOT EXISTS {s}.processed_messages (
        reader   text NOT NULL,
        event_id uuid NOT NULL,
        PRIMARY KEY (reader, event_id)
    );

    -- When each API key was last used against this service (bookkeeping, not a record).
    CREATE TABLE IF NOT EXISTS {s}.api_key_usage (key_id text PRIMARY KEY, last_used_at timestamptz NOT NULL);

    -- Events a reader gave up on and set aside (a dead-letter topic), until redriven.
    CREATE TABLE IF NOT EXISTS {s}.set_aside (
        reader   text NOT NULL,
        event_id uuid NOT NULL,
        PRIMARY KEY (reader, event_id)
    );

    -- Events of other services this service has reacted to (reactors), once each.
    CREATE TABLE IF NOT EXISTS {s}.reactions (
        reactor  text NOT NULL,
        cause_id uuid NOT NULL,
        PRIMARY KEY (reactor, cause_id)
    );

    -- Parts of a whole a reactor decides on at once (a document's events, delivered in several
    -- messages), kept until the whole is complete: a buffer, never a record.
    CREATE TABLE IF NOT EXISTS {s}.reaction_parts (
        reactor text   NOT NULL,
        whole   text   NOT NULL,
        part    bigint NOT NULL,
        payload jsonb  NOT NULL,
        PRIMARY KEY (reactor, whole, part)
    );

    -- Answers to requests made with an Idempotency-Key, kept at least a day (stored with the
    -- request's events, in the same transaction).
    CREATE TABLE IF NOT EXISTS {s}.idempotency (
        principal_id text        NOT NULL,
        key          text        NOT NULL,
        fingerprint  bytea       NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        status       integer,
        headers      jsonb,
        body         bytea,
        PRIMARY KEY (principal_id, key)
    );
    CREATE OR REPLACE FUNCTION {s}.refuse_log_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the event log is append-only: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END $$;

    CREATE OR REPLACE TRIGGER events_refuse_update_delete
        BEFORE UPDATE OR DELETE ON {s}.events
        FOR EACH ROW EXECUTE FUNCTION {s}.refuse_log_change();
    CREATE OR REPLACE TRIGGER events_refuse_truncate
        BEFORE TRUNCATE ON {s}.events
        FOR EACH STATEMENT EXECUTE FUNCTION {s}.refuse_log_change();

    GRANT USAGE ON SCHEMA {s} TO {role};
    GRANT SELECT, INSERT ON {s}.events TO {role};
    REVOKE UPDATE, DELETE, TRUNCATE ON {s}.events FROM {role};
    GRANT SELECT, UPDATE ON {s}.append_lock TO {role};
    GRANT SELECT, INSERT, UPDATE, DELETE ON {s}.tracking, {s}.processed_messages TO {role};
    GRANT SELECT, INSERT ON {s}.reactions TO {role};
    GRANT SELECT, INSERT, DELETE ON {s}.reaction_parts TO {role};
    GRANT SELECT, INSERT, UPDATE ON {s}.api_key_usage TO {role};
    GRANT SELECT, INSERT, DELETE ON {s}.set_aside TO {role};
    GRANT SELECT, INSERT, UPDATE, DELETE ON {s}.idempotency TO {role};
    """


async def install_log(
    conn: Connection, schema: str, app_role: str = APP_ROLE, *, uncompressed_payloads: bool = False
) -> None:
    """The log of `schema`, made or brought up to date. `uncompressed_payloads` (a service's
    declaration says so) stores its payloads as they are from then on; without it, the storage
    is left as it was: a log installed by a reader of it (empty) keeps what its owner chose."""
    await ensure_role(conn, app_role)
    # Serialise concurrent installers (several test workers or services starting at once).
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('serialtrail.install'))")
        await conn.execute(log_ddl(schema, app_role))
    if uncompressed_payloads:
        await _payloads_uncompressed(conn, schema)


async def _payloads_uncompressed(conn: Connection, schema: str) -> None:
    """Payloads stored as they are (STORAGE EXTERNAL): random identifiers, which this
    PostgreSQL's only compressor (pglz) tries on every append, under the append lock, fails to
    shrink and throws away (2.5 ms per 10,000 of them). Set once per log, a change of its
    metadata only; a log busy elsewhere is left for a later start."""
    events = f"{ident(schema)}.events"
    storage = await conn.fetchval(
        "SELECT attstorage::text FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'payload'", events
    )
    if storage == "e":
        return
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '500ms'")  # a queued ALTER stalls the log's readers
            await conn.execute(f"ALTER TABLE {events} ALTER COLUMN payload SET STORAGE EXTERNAL")
    except asyncpg.LockNotAvailableError:
        log.warning("%s: payload storage left as it is (the log is busy); tried again at the next start", events)
