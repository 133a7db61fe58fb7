"""Events of the EPCIS reporting service, published on `serialtrail.reporting.v1`.

A capture job is a stream of its own (`capture-<id>`): the document received, the events it
captured (in batches: a document may hold 100,000), and how the job ended. Each captured event
is kept as the EPCIS 2.0 JSON-LD it arrived as (an XML document's events converted), with its
CBV 2.0 Event Hash ID: the identity by which a second capture of it is a duplicate."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from serialtrail_contracts.base import Contract, EventContract, event_types


class ErrorBehaviour(StrEnum):
    """`GS1-Capture-Error-Behaviour`: with `rollback` nothing of a document with an error is
    captured; with `proceed` every event without one is."""

    rollback = "rollback"
    proceed = "proceed"


class DocumentFormat(StrEnum):
    jsonld_2_0 = "jsonld-2.0"
    xml_2_0 = "xml-2.0"
    xml_1_2 = "xml-1.2"


class Scope(Contract):
    """The capturing key's scope when it captured (every dimension None: unrestricted)."""

    company_prefixes: tuple[str, ...] | None = None
    gtins: tuple[str, ...] | None = None
    sites: tuple[str, ...] | None = None
    lines: tuple[str, ...] | None = None
    cmos: tuple[str, ...] | None = None


class Named(Contract):
    """The GS1 keys a document's events name: whose the document is, beside its sender's."""

    gtins: tuple[str, ...] = ()
    ssccs: tuple[str, ...] = ()
    company_prefixes: tuple[str, ...] = ()


class CaptureReceived(EventContract):
    EVENT_TYPE: ClassVar[str] = "epcis.CaptureReceived"
    EVENT_VERSION: ClassVar[int] = 1

    capture_id: UUID
    principal_id: str  # who captured: the job is theirs to read
    behaviour: ErrorBehaviour
    document_format: DocumentFormat
    size_bytes: int
    sha256: str  # of the bytes received, as received
    events: int  # how many events the document held
    scope: Scope
    names: Named
    # The document header's master data (EPCIS 2.0 JSON-LD vocabularyList: EPCClass, Location …),
    # kept as sent (JSON text: see CapturedEvent): what names its products and places when rendered.
    master_data_json: str = "[]"


class CapturedEvent(Contract):
    """An event as captured. Its JSON-LD is kept as JSON text: a sender's decimals (a quantity of
    1.5 KGM, a sensor reading) are kept as sent, where the log's canonical form allows no floats."""

    index: int  # its position in the document
    event_id: str  # its CBV 2.0 Event Hash ID (ni:///sha-256;…?ver=CBV2.0)
    event_json: str  # EPCIS 2.0 JSON-LD; `eventID` as sent, or the hash id when none was
    # The service that records what it means (serial_issuance: a commissioning); None: only kept
    # here, for queries.
    owner: str | None = None
    # An error declaration (the event again, with `errorDeclaration`): the event of the same
    # `event_id` (its hash leaves the declaration out) is declared in error, and the events it
    # names as corrective stand for it. Captured once, like any event.
    declares_error: bool = False


def identity(event_id: str, declares_error: bool) -> str:
    """What makes a captured event a duplicate: its hash id, and for an error declaration the
    declaration's (an event and the declaration of its error share a hash id)."""
    return f"{event_id}#declared" if declares_error else event_id


def identity_of(event: CapturedEvent) -> str:
    return identity(event.event_id, event.declares_error)


class EventsCaptured(EventContract):
    """A batch of a document's events, captured. `context` is the document's `@context`: what
    the events' prefixed names mean."""

    EVENT_TYPE: ClassVar[str] = "epcis.EventsCaptured"
    EVENT_VERSION: ClassVar[int] = 1

    capture_id: UUID
    context_json: str  # JSON text, as the events' (a JSON-LD context may hold "@version": 1.1)
    events: tuple[CapturedEvent, ...] = Field(min_length=1)


class EventError(Contract):
    """Why one event (or, with `index` None, the document) was not captured."""

    index: int | None
    event_id: str | None = None
    field: str
    rule: str
    message: str
    status: int  # the HTTP status it would have alone: 400 invalid, 403 not the sender's, 409 a duplicate


class CaptureFinished(EventContract):
    """How the job ended: `captured` events are in the repository; `errors` name those that are
    not (under rollback, with any error, none is)."""

    EVENT_TYPE: ClassVar[str] = "epcis.CaptureFinished"
    EVENT_VERSION: ClassVar[int] = 1

    capture_id: UUID
    captured: int
    errors: tuple[EventError, ...] = ()
    behaviour: ErrorBehaviour = ErrorBehaviour.rollback
    # The services some of its events were routed to: the job runs until each has decided.
    owners: tuple[str, ...] = ()
    # Under rollback with several owners, each first checks its share without recording anything
    # (a decision `prepared`); `CaptureCommitted` then says whether every owner records its share
    # (none refused anything) or none does: one owner's refusal leaves every other's share unrecorded.
    prepare: bool = False


LISTED = 1_000  # errors one decision record lists at most
PER_EVENT = 100  # errors listed for one event at most (then one more saying how many were not)


class CaptureDecision(EventContract):
    """What a service did with the events of capture `capture_id` routed to it: applied
    `applied` of them and refused `refused_count`, each with its errors as capture reports them
    (at most `PER_EVENT` + 1 per event). Under rollback a refusal applies none (`rolled_back`).
    Many refusals take several records, the last one `last` (a record stays well within a topic
    message however many events a document holds). Each owner records its decision on its own
    log (its event type in its own namespace)."""

    capture_id: UUID
    owner: str
    applied: int
    refused_count: int = 0
    refused: tuple[EventError, ...] = Field(default=(), max_length=LISTED)
    rolled_back: bool = False
    last: bool = True
    prepared: bool = False  # a check of the share, nothing recorded (see CaptureFinished.prepare)


def refusal_records(refusals: list[list[EventError]]) -> list[tuple[EventError, ...]]:
    """The refused events' errors in groups of at most `LISTED`, an event's errors never split."""
    groups: list[list[EventError]] = [[]]
    for errors in refusals:
        if len(groups[-1]) + len(errors) > LISTED:
            groups.append([])
        groups[-1] += errors
    return [tuple(group) for group in groups]


class OwnerDecided(CaptureDecision):
    """An owner's decision, as the capture job keeps it (a copy of the owner's own record)."""

    EVENT_TYPE: ClassVar[str] = "epcis.OwnerDecided"
    EVENT_VERSION: ClassVar[int] = 1


class CaptureCommitted(EventContract):
    """Every owner of a capture's events has checked its share (`CaptureFinished.prepare`): with
    `apply`, none refused anything and each now records its share; without, none does."""

    EVENT_TYPE: ClassVar[str] = "epcis.CaptureCommitted"
    EVENT_VERSION: ClassVar[int] = 1

    capture_id: UUID
    apply: bool


class PartnerGranted(EventContract):
    """A trading partner (the party `partner_gln` names) may read the captured events about the
    objects of one batch: the explicit grant that stands in for shipments until they exist."""

    EVENT_TYPE: ClassVar[str] = "epcis.PartnerGranted"
    EVENT_VERSION: ClassVar[int] = 1

    partner_gln: str
    gtin: str
    lot: str
    reason: str


class PartnerGrantRevoked(EventContract):
    EVENT_TYPE: ClassVar[str] = "epcis.PartnerGrantRevoked"
    EVENT_VERSION: ClassVar[int] = 1

    partner_gln: str
    gtin: str
    lot: str
    reason: str


class QueryDefined(EventContract):
    """A named query (EPCIS 2.0 REST binding `/queries`): its creator's, by name; its definition
    as sent, in the query parameters the repository answers."""

    EVENT_TYPE: ClassVar[str] = "epcis.QueryDefined"
    EVENT_VERSION: ClassVar[int] = 1

    name: str
    principal_id: str
    query: dict[str, list[str] | str | bool]


class QueryDeleted(EventContract):
    """A named query removed, and with it every subscription to it."""

    EVENT_TYPE: ClassVar[str] = "epcis.QueryDeleted"
    EVENT_VERSION: ClassVar[int] = 1

    name: str
    principal_id: str


class Schedule(Contract):
    """When a scheduled subscription runs (EPCIS 1.2 §8.2.5.3, the 2.0 binding's `schedule`): each
    field a comma-separated list of numbers and [a-b] ranges; `second` unset is 0, any other any."""

    second: str | None = None
    minute: str | None = None
    hour: str | None = None
    day_of_month: str | None = None
    month: str | None = None
    day_of_week: str | None = None  # 1 Monday … 7 Sunday


class SubscriptionCreated(EventContract):
    """A query subscription (EPCIS 2.0 REST binding): the named query's new results delivered to
    `dest` by webhook, as they settle (`stream`) or on a `schedule`, read with the subscriber's
    scope as it stood when it subscribed."""

    EVENT_TYPE: ClassVar[str] = "epcis.SubscriptionCreated"
    EVENT_VERSION: ClassVar[int] = 1

    subscription_id: UUID
    query_name: str
    query: dict[str, list[str] | str | bool]  # the named query's parameters (a query is never changed)
    principal_id: str
    principal_name: str
    principal_role: str
    principal_scope: Scope
    dest: str
    # The subscriber's signatureToken, sealed with the service's key: deliveries are signed with
    # it (GS1-Signature), and it is never on the log (or its topic) in clear.
    sealed_token: str | None = None
    stream: bool
    schedule: Schedule | None = None
    report_if_empty: bool = False
    initial_record_time: datetime


class SubscriptionCancelled(EventContract):
    """Unsubscribed; or its subscriber's key revoked or expired (told nothing more). A deleted
    query cancels every subscription to it by `QueryDeleted` itself."""

    EVENT_TYPE: ClassVar[str] = "epcis.SubscriptionCancelled"
    EVENT_VERSION: ClassVar[int] = 1

    subscription_id: UUID
    query_name: str
    principal_id: str
    reason: str = "unsubscribed"


class SubscriptionNotified(EventContract):
    """Results decided for delivery, in the same transaction as the delivery job: the events
    settled up to `through` (the repository's settlement order), `events` of them matching."""

    EVENT_TYPE: ClassVar[str] = "epcis.SubscriptionNotified"
    EVENT_VERSION: ClassVar[int] = 1

    subscription_id: UUID
    delivery_id: UUID
    through_settled: int
    through_seq: int
    events: int
    run_at: datetime  # the scheduled time it ran for; a stream's: when it found them


class SubscriptionDelivered(EventContract):
    """A delivery accepted by the subscriber's endpoint (its answer's status), after `attempts`."""

    EVENT_TYPE: ClassVar[str] = "epcis.SubscriptionDelivered"
    EVENT_VERSION: ClassVar[int] = 1

    subscription_id: UUID
    delivery_id: UUID
    job_id: UUID
    status: int
    attempts: int


class SubscriptionDeliveryFailed(EventContract):
    """A delivery given up on after `attempts` (or refused for good by the endpoint): an operator
    may retry it (`serialtrail jobs retry`)."""

    EVENT_TYPE: ClassVar[str] = "epcis.SubscriptionDeliveryFailed"
    EVENT_VERSION: ClassVar[int] = 1

    subscription_id: UUID
    delivery_id: UUID
    job_id: UUID
    reason: str
    attempts: int


EVENTS = event_types(
    CaptureReceived,
    EventsCaptured,
    CaptureFinished,
    OwnerDecided,
    CaptureCommitted,
    PartnerGranted,
    PartnerGrantRevoked,
    QueryDefined,
    QueryDeleted,
    SubscriptionCreated,
    SubscriptionCancelled,
    SubscriptionNotified,
    SubscriptionDelivered,
    SubscriptionDeliveryFailed,
)
