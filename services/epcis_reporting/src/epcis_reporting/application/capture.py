"""Capture: read a document as it arrives, check each event as it completes, then record the job
in one unit of work (under rollback, all of its events or none).

Checking and hashing are CPU work (a 100,000-event document is seconds of it): each batch runs in
a worker thread, so the server goes on answering other requests meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import queue
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson
from serialtrail_contracts.epcis import (
    CaptureFinished,
    CaptureReceived,
    DocumentFormat,
    ErrorBehaviour,
    EventsCaptured,
    Scope,
)
from serialtrail_contracts.identity import Principal
from serialtrail_gs1.epcis_checks import EPCIS_DOCUMENT, check_event, envelope_violations, moment
from serialtrail_gs1.epcis_context import undeclared_prefixes
from serialtrail_gs1.epcis_json import JsonDocumentReader, MalformedDocument, RefusedJson
from serialtrail_gs1.epcis_xml import EpcisXmlError, EpcisXmlReader, XmlEvent
from serialtrail_gs1.epcis_xml import errors as xml_errors
from serialtrail_gs1.event_hash import event_hash_id
from serialtrail_kit.declaration import NOT_IN_FUTURE
from serialtrail_kit.errors import DomainError, InvalidInput, MalformedJson, Rule, Violation
from serialtrail_kit.eventstore.metadata import RecordMetadata
from serialtrail_kit.writes.model import WriteModel

from epcis_reporting.application.write_side import captured_before
from epcis_reporting.domain import rules
from epcis_reporting.domain.capture import (
    INVALID,
    MAX_EVENT_BYTES,
    NOT_YOURS,
    Candidate,
    Outcome,
    batches,
    decide,
    identities,
    named,
    owners,
    scope_violations,
)


class TooManyEvents(InvalidInput):
    kind, status, title = "too-large", 413, "Document too large"
    example = "the document holds more than 200000 events, the most one capture takes"


class MalformedXml(DomainError):
    kind, status, title = "malformed-xml", 400, "Malformed XML"
    example = "line 12: Opening and ending tag mismatch: epcList line 9 and ObjectEvent [xml-malformed]"


class _Pipe:
    """The body as the request delivers it, read by the XML reader in a worker thread. Bounded,
    so a document is never buffered whole: the request waits while the reader is behind."""

    def __init__(self) -> None:
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._buffer = b""
        self._ended = False
        self._abandoned = False

    def abandon(self) -> None:
        """Wake the reader to stop: whatever it waits on, the next thing it takes says so."""
        self._abandoned = True
        while True:
            try:
                self.chunks.put_nowait(None)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.chunks.get_nowait()

    def read(self, size: int = 1 << 16, /) -> bytes:
        while len(self._buffer) < size and not self._ended:
            chunk = self.chunks.get()
            if self._abandoned:
                raise EOFError("the request's body ended before the document did")
            if chunk is None:
                self._ended = True
            else:
                self._buffer += chunk
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    async def put(self, chunk: bytes | None, reader: asyncio.Future[Any]) -> None:
        """Hand a chunk on, unless the reader stopped (a document refused early reads no further)."""
        while not reader.done():
            try:
                self.chunks.put_nowait(chunk)
                return
            except queue.Full:
                await asyncio.sleep(0.001)


@dataclass
class Document:
    """A document as read: its bytes' digest, its envelope and its events, checked and hashed."""

    document_format: DocumentFormat
    size_bytes: int = 0
    sha256: str = ""
    envelope: dict[str, Any] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)
    master_data: list[Any] = field(default_factory=list)  # the header's vocabularies (EPCClass, Location …)


def stream_id(capture_id: UUID) -> str:
    return f"capture-{capture_id}"


class CaptureHandlers:
    def __init__(
        self, writes: WriteModel, max_events: int, route_to: Sequence[str] = (), skew: timedelta = timedelta(minutes=5)
    ) -> None:
        self.writes = writes
        self.max_events = max_events
        self.route_to = tuple(route_to)
        self.skew = skew  # how far ahead of the server's clock a line's may be

    async def read_json(self, chunks: AsyncIterator[bytes], principal: Principal) -> Document:
        reader, digest = JsonDocumentReader(), hashlib.sha256()
        document = Document(DocumentFormat.jsonld_2_0)
        try:
            async for chunk in chunks:
                digest.update(chunk)
                await self._check(document, reader.feed(chunk), principal)
                self._within_limit(reader.events_read)
            await self._check(document, reader.close(), principal)
            document.envelope = reader.envelope
        except MalformedDocument as error:
            raise MalformedJson(str(error), [rules.WELL_FORMED.at("document", str(error))]) from error
        except RefusedJson as error:
            raise InvalidInput(str(error), [error.rule.at(error.field, error.message)]) from error
        document.size_bytes, document.sha256 = reader.received, digest.hexdigest()
        problems = envelope_violations(document.envelope)
        if problems:
            raise InvalidInput("the document is not an EPCIS 2.0 document", problems)
        context = document.envelope.get("@context")
        document.candidates = await asyncio.to_thread(_hashed, document.candidates, context)
        header = document.envelope.get("epcisHeader") or {}
        document.master_data = (header.get("epcisMasterData") or {}).get("vocabularyList") or []
        return document

    async def read_xml(self, chunks: AsyncIterator[bytes], principal: Principal) -> Document:
        """An EPCIS 1.2 or 2.0 XML document, read as it arrives (in a worker thread: parsing and
        checking are CPU work), each event converted to EPCIS 2.0 JSON-LD and checked as JSON is."""
        pipe, digest, size = _Pipe(), hashlib.sha256(), 0
        reading = asyncio.ensure_future(asyncio.to_thread(self._read_xml, pipe, principal))
        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                await pipe.put(chunk, reading)
        except BaseException:
            pipe.abandon()  # the body ended early (a client gone, a refusal): the reader must not wait on
            reading.add_done_callback(lambda done: done.cancelled() or done.exception())
            raise
        await pipe.put(None, reading)
        document = await reading
        document.size_bytes, document.sha256 = size, digest.hexdigest()
        return document

    def _read_xml(self, pipe: _Pipe, principal: Principal) -> Document:
        reader = EpcisXmlReader(pipe)
        candidates: list[Candidate] = []
        try:
            for item in reader:
                self._within_limit(len(candidates) + 1)
                candidates.append(_xml_candidate(item, principal, datetime.now(UTC) + self.skew))
        except EpcisXmlError as error:
            raise _document_problem(error) from error
        header = reader.header
        assert header is not None  # read before any event, or the document was refused
        version = DocumentFormat.xml_1_2 if header.version == "1.2" else DocumentFormat.xml_2_0
        envelope = {"@context": reader.context}
        return Document(version, envelope=envelope, candidates=candidates, master_data=header.master_data_json_ld())

    def _within_limit(self, events: int) -> None:
        if events > self.max_events:
            message = f"the document holds more than {self.max_events} events, the most one capture takes"
            raise TooManyEvents(message, [rules.EVENT_LIMIT.at("epcisBody.eventList", message)])

    async def _check(self, document: Document, events: list[Any], principal: Principal) -> None:
        if events:
            first = len(document.candidates)
            latest = datetime.now(UTC) + self.skew
            document.candidates.extend(await asyncio.to_thread(_checked, first, events, principal, latest))

    async def record(
        self, document: Document, behaviour: ErrorBehaviour, principal: Principal, meta: RecordMetadata
    ) -> tuple[UUID, Outcome]:
        capture_id = uuid4()
        ids = identities(document.candidates)
        async with self.writes.unit(meta) as work:
            earlier = await captured_before(work.conn, work.schema, ids)
            outcome = decide(behaviour, document.candidates, earlier, self.route_to)
            received = CaptureReceived(
                capture_id=capture_id,
                principal_id=principal.id,
                behaviour=behaviour,
                document_format=document.document_format,
                size_bytes=document.size_bytes,
                sha256=document.sha256,
                events=len(document.candidates),
                scope=Scope.model_validate(principal.scope.as_json()),
                names=named(document.candidates),
                master_data_json=orjson.dumps(document.master_data).decode(),
            )
            context = orjson.dumps(document.envelope.get("@context")).decode()
            captured = [
                EventsCaptured(capture_id=capture_id, context_json=context, events=batch)
                for batch in batches(outcome.captured)
            ]
            finished = CaptureFinished(
                capture_id=capture_id,
                captured=len(outcome.captured),
                errors=outcome.errors,
                behaviour=behaviour,
                owners=(routed := owners(outcome.captured)),
                # Several owners under rollback: each checks its share before any records it.
                prepare=behaviour is ErrorBehaviour.rollback and len(routed) > 1,
            )
            work.record(stream_id(capture_id), 0, [received, *captured, finished])
        return capture_id, outcome


def _checked(first: int, events: Sequence[Any], principal: Principal, latest: datetime) -> list[Candidate]:
    found = []
    for index, event in enumerate(events, start=first):
        checked = check_event(index, event)
        violations = (
            checked.violations
            or _too_large(event, f"eventList[{index}]")
            or _ahead(event, f"eventList[{index}].eventTime", latest)
        )
        if violations:
            found.append(Candidate(index, event, None, tuple(violations), keys=checked.keys))
            continue
        out_of_scope = scope_violations(principal, checked.keys, f"eventList[{index}]")
        status = NOT_YOURS if out_of_scope else INVALID
        found.append(Candidate(index, event, None, tuple(out_of_scope), status, checked.keys))
    return found


def _too_large(event: dict[str, Any], at: str) -> tuple[Violation, ...]:
    """One event beyond what a message between the services carries (its EPCs split over several
    events are welcome): refused, where it would stall every capture behind it."""
    size = len(orjson.dumps(event))
    if size <= MAX_EVENT_BYTES:
        return ()
    message = (
        f"the event is {size:,} bytes of JSON, more than the {MAX_EVENT_BYTES:,} one event may be: "
        "split its EPCs over several events"
    )
    return (rules.EVENT_SIZE.at(at, message),)


def _ahead(event: dict[str, Any], at: str, latest: datetime) -> tuple[Violation, ...]:
    """An event time ahead of the server's clock by more than lines' clocks may be: a clock set
    wrong, not an event (its owner would refuse it too). One UTC cannot hold is no time at all."""
    try:
        when = moment(event["eventTime"])
    except (ValueError, OverflowError):
        message = f"{event['eventTime']!r} is not a time UTC can hold (years 1 to 9999)"
        return (rules.EVENT_TIME.at(at, message),)
    if when <= latest:
        return ()
    message = f"{event['eventTime']} is in the future (the server's clock allows up to {latest.isoformat()})"
    return (NOT_IN_FUTURE.at(at, message),)


def _xml_candidate(item: XmlEvent | EpcisXmlError, principal: Principal, latest: datetime) -> Candidate:
    if isinstance(item, EpcisXmlError):
        if item.event_index is None or item.rule == xml_errors.MALFORMED:
            raise item  # the document's, not one event's
        at = f"eventList[{item.event_index}]"
        return Candidate(item.event_index, {}, None, (_xml_rule(item).at(at, item.describe()),))
    candidate = _checked(item.index, [item.event], principal, latest)[0]
    if candidate.violations:
        return candidate
    event_id = event_hash_id(item.event, item.context)
    return Candidate(item.index, item.event, event_id, (), candidate.status, candidate.keys)


def _document_problem(error: EpcisXmlError) -> DomainError:
    where = "document" if error.line is None else f"document (line {error.line})"
    if error.rule == xml_errors.ROOT:
        return InvalidInput(error.describe(), [EPCIS_DOCUMENT.at(where, error.describe())])
    return MalformedXml(error.describe(), [_xml_rule(error).at(where, error.describe())])


def _xml_rule(error: EpcisXmlError) -> Rule:
    return rules.XML_RULES.get(error.rule, rules.WELL_FORMED_XML)


def _hashed(candidates: Sequence[Candidate], context: Any) -> list[Candidate]:
    """Every valid event's Event Hash ID (an invalid one has no reliable identity), once its keys'
    prefixes are known to be declared (the document's @context may come after its events)."""
    found = []
    for c in candidates:
        undeclared = [] if c.violations else undeclared_prefixes(c.event, context, f"eventList[{c.index}]")
        if c.violations:
            found.append(c)
        elif undeclared:
            found.append(Candidate(c.index, c.event, None, tuple(undeclared), keys=c.keys))
        else:
            found.append(Candidate(c.index, c.event, event_hash_id(c.event, context), c.violations, c.status, c.keys))
    return found
