"""The tables of a service's outbound jobs, in the service's own schema beside its log: a job
is inserted in the transaction that records its cause, so the two commit (or not) together.

- `outbound_jobs`: one row per job, with its state, attempts and history (why it was retried,
  what the remote answered). A job is due when `due_at` has passed and it is `pending`, or
  `sending` with its lease (`due_at` while sending) over: the sender stopped without an outcome.
- `outbound_names`: the outbounds the service declares; a job for any other is refused at once
  (a foreign key), rather than waiting for a dispatcher that does not exist.
- `outbound_buckets`: each destination's token bucket, shared by every dispatcher of the
  outbound (several replicas hold one rate limit between them)."""

from __future__ import annotations

from collections.abc import Iterable

from serialtrail_kit.db import APP_ROLE, Connection, ident

STATES = "('pending', 'sending', 'delivered', 'dead')"
OPEN = "('pending', 'sending')"  # states a dispatcher may still claim


def notify_channel(schema: str) -> str:
    """Where enqueues and operator retries wake the service's dispatchers (payload: the outbound)."""
    return f"serialtrail_outbound_{ident(schema)}"


def jobs_ddl(schema: str, app_role: str = APP_ROLE) -> str:
    s, role = ident(schema), ident(app_role)
    return f"""
    CREATE TABLE IF NOT EXISTS {s}.outbound_names (name text PRIMARY KEY);

    CREATE TABLE IF NOT EXISTS {s}.outbound_jobs (
        job_id         uuid        PRIMARY KEY,
        outbound       text        NOT NULL REFERENCES {s}.outbound_names (name),
        destination    text        NOT NULL,
        job_key        text        NOT NULL,
        cause_id       uuid,
        correlation_id text        NOT NULL,
        traceparent    text,
        payload        jsonb       NOT NULL,
        state          text        NOT NULL DEFAULT 'pending' CHECK (state IN {STATES}),
        attempts       integer     NOT NULL DEFAULT 0,
        due_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
        claim_id       uuid,
        created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
        last_reason    text,
        history        jsonb       NOT NULL DEFAULT '[]'
    );
    CREATE INDEX IF NOT EXISTS outbound_jobs_due
        ON {s}.outbound_jobs (outbound, destination, due_at) WHERE state IN {OPEN};
    CREATE INDEX IF NOT EXISTS outbound_jobs_by_state ON {s}.outbound_jobs (state, outbound, destination);

    CREATE TABLE IF NOT EXISTS {s}.outbound_buckets (
        outbound    text             NOT NULL,
        destination text             NOT NULL,
        tokens      double precision NOT NULL,
        refilled_at timestamptz      NOT NULL,
        PRIMARY KEY (outbound, destination)
    );

    GRANT USAGE ON SCHEMA {s} TO {role};
    GRANT SELECT ON {s}.outbound_names TO {role};
    GRANT SELECT, INSERT, UPDATE ON {s}.outbound_jobs, {s}.outbound_buckets TO {role};
    """


async def install_jobs(conn: Connection, schema: str, outbounds: Iterable[str], app_role: str = APP_ROLE) -> None:
    """Create the tables (unless they exist) and note the outbounds the service declares."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('serialtrail.install'))")
        await conn.execute(jobs_ddl(schema, app_role))
        await conn.executemany(
            f"INSERT INTO {ident(schema)}.outbound_names (name) VALUES ($1) ON CONFLICT DO NOTHING",
            [(name,) for name in outbounds],
        )
