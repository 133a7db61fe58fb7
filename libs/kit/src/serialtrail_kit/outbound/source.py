"""A declared outbound source seen by the read-model runner: a fold over the service's own log
with no tables of its own, whose effect is the jobs it inserts. The runner tracks its position
in the transaction that inserts them, so a restart resumes where the last committed jobs end;
a job's id comes from its causing event and key, so a replay (a new generation reading the log
from the start) finds every job already there and enqueues nothing twice."""

from __future__ import annotations

from collections.abc import Sequence

from serialtrail_kit.db import Connection, ident
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.outbound.declared import OutboundSource
from serialtrail_kit.outbound.enqueue import Cause, insert_jobs


def source_name(outbound: str) -> str:
    return f"outbound_{outbound}"


class OutboundSourceFold:
    tables: tuple[str, ...] = ()

    def __init__(self, owner: str, outbound: str, source: OutboundSource) -> None:
        self.owner = ident(owner)
        self.outbound = outbound
        self.jobs_of = source.jobs
        self.name = source_name(outbound)
        self.source = owner  # the service's own log
        self.event_types: tuple[str, ...] = tuple(source.event_types)

    def ddl(self, schema: str) -> str:
        return f"COMMENT ON SCHEMA {schema} IS 'outbound source {self.outbound}: no tables'"

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        # The jobs go to the service's own schema, not the generation's (`schema`): one job table.
        for event in events:
            jobs = await self.jobs_of(event, conn, self.owner)
            await insert_jobs(conn, self.owner, self.outbound, jobs, Cause.of_event(event))
