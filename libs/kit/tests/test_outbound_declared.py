"""An outbound declared on a service (`Service(outbound=[OutboundOf(...)])`), composed and run by
the runtime as every service is: its jobs table installed with the service's tables, its
source and dispatcher started with the app and stopped with it, its settings the service's own,
its backlog in the readiness answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest
from fastapi import APIRouter
from pydantic_settings import SettingsConfigDict
from serialtrail_contracts.base import EventContract, event_types
from serialtrail_kit.db import Connection
from serialtrail_kit.declaration import OutboundOf, Service, ServiceContext
from serialtrail_kit.eventstore.model import RecordedEvent
from serialtrail_kit.outbound import HttpRequest, Job, OutboundSettings, OutboundSource, Outcomes, Remote, http_remote
from serialtrail_kit.outbound.jobs import Attempt
from serialtrail_kit.service_settings import ServiceSettings
from serialtrail_kit.testing.harness import SYSTEM, serve
from serialtrail_kit.testing.outbound import fast_settings
from serialtrail_kit.testing.remote import Answer, RemoteEndpoint, remote_endpoint
from serialtrail_kit.testing.waiting import until

NAME = "notifier_svc"


class Noted(EventContract):
    EVENT_TYPE: ClassVar[str] = "notifier.Noted"
    EVENT_VERSION: ClassVar[int] = 1
    to: str


class Notified(EventContract):
    EVENT_TYPE: ClassVar[str] = "notifier.Notified"
    EVENT_VERSION: ClassVar[int] = 1
    to: str
    status: int | None


class NotNotified(EventContract):
    EVENT_TYPE: ClassVar[str] = "notifier.NotNotified"
    EVENT_VERSION: ClassVar[int] = 1
    reason: str


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SERIALTRAIL_NOTIFIER_SVC_", frozen=True)
    notifications: OutboundSettings = OutboundSettings()

    @classmethod
    def for_tests(cls) -> NotifierSettings:
        return cls(notifications=fast_settings())


async def notifications_for(event: RecordedEvent, conn: Connection, schema: str) -> Sequence[Job]:
    return [Job(event.payload["to"], "notification", {"to": event.payload["to"]})]


def declared(endpoint: RemoteEndpoint) -> Service[NotifierSettings]:
    def remote(context: ServiceContext[NotifierSettings]) -> Remote:
        def request(attempt: Attempt) -> HttpRequest:
            return HttpRequest("POST", f"{endpoint.url}/notify", json=dict(attempt.job.payload))

        return http_remote(request, context.settings.notifications)

    outcomes = Outcomes(
        delivered=lambda job, delivered: Notified(to=job.destination, status=delivered.status),
        dead=lambda job, failure: NotNotified(reason=failure.reason),
    )
    return Service(
        name=NAME,
        events=event_types(Noted, Notified, NotNotified),
        settings=NotifierSettings,
        routes=lambda context: APIRouter(),
        outbound=[
            OutboundOf("notifications", remote, outcomes, OutboundSource(("notifier.Noted",), notifications_for))
        ],
    )


async def test_a_declared_outbound_runs_with_its_service(database_dsn: str) -> None:
    refused = Answer(400, body=b"no such partner")
    async with remote_endpoint([refused]) as endpoint, serve(database_dsn, [declared(endpoint)]) as harness:
        (module,) = [m for m in harness.composition.modules if m.name == NAME]
        assert [d.name for d in module.dispatchers] == ["notifications"]
        writes = module.dispatchers[0].recorder.writes

        async def recorded(kind: type[EventContract]) -> list[RecordedEvent]:
            return [e for e in await writes.store.read_all(0, 100) if e.event_type == kind.EVENT_TYPE]

        cases: list[tuple[str, type[EventContract]]] = [("partner-a", NotNotified), ("partner-b", Notified)]
        for n, (to, outcome) in enumerate(cases, start=1):
            async with writes.unit(SYSTEM) as work:
                work.record(f"note-{n}", 0, [Noted(to=to)])

            async def ended(outcome: type[EventContract] = outcome) -> bool:
                return bool(await recorded(outcome))

            await until(ended, timeout=30, interval=0.05)
        ready = (await harness.client.get("/health/ready")).json()
        (notified,) = await recorded(Notified)
    assert ready["outbound"] == {f"{NAME}.notifications": {"pending": 0, "sending": 0, "dead": 1}}
    assert f"{NAME}.outbound_notifications" in ready["projections"]
    assert [r.body for r in endpoint.received] == [{"to": "partner-a"}, {"to": "partner-b"}]
    assert notified.payload == {"to": "partner-b", "status": 200}


def test_outbound_names_are_unique_and_plain() -> None:
    outcomes = Outcomes(delivered=lambda j, d: Noted(to=""), dead=lambda j, f: Noted(to=""))

    def never(context: ServiceContext[NotifierSettings]) -> Remote:
        raise AssertionError("not built")

    def service(*names: str) -> Service[NotifierSettings]:
        source = OutboundSource(("x",), notifications_for)
        return Service(
            name=NAME,
            events={},
            settings=NotifierSettings,
            routes=lambda context: APIRouter(),
            outbound=[OutboundOf(name, never, outcomes, source) for name in names],
        )

    service("one", "two")
    with pytest.raises(ValueError, match="unique"):
        service("one", "one")
    with pytest.raises(ValueError, match="safe SQL identifier"):
        service("Not-Plain")
