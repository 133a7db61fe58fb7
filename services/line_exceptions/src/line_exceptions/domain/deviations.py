"""A deviation's life, decided without I/O: what it groups (records and holds of its batch), its
root cause, its CAPA actions, and a closure that needs the root cause and a QA signature."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from uuid import UUID

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.deviations import (
    AnalysisMethod,
    CapaCompleted,
    CapaKind,
    CapaPlanned,
    DeviationClosed,
    DeviationLinked,
    DeviationOpened,
    RootCauseCategory,
    RootCauseRecorded,
)
from serialtrail_kit.access.resources import EXISTS
from serialtrail_kit.errors import Conflict, InvalidInput, NotFound, Violation

from line_exceptions.domain import rules
from line_exceptions.domain.records import Batch


def stream_id(deviation_id: UUID) -> str:
    return f"deviation-{deviation_id}"


@dataclass(frozen=True)
class Deviation:
    deviation_id: UUID
    lot: str
    exception_ids: frozenset[UUID]
    hold_ids: frozenset[UUID]
    capas_done: Mapping[UUID, bool] = field(default_factory=dict)  # CAPA → completed
    root_cause: bool = False
    closed: bool = False
    version: int = 0


def fold(events: Sequence[EventContract]) -> Deviation | None:
    found: Deviation | None = None
    for event in events:
        if isinstance(event, DeviationOpened):
            found = Deviation(event.deviation_id, event.lot, frozenset(event.exception_ids), frozenset(event.hold_ids))
        elif found is None:
            continue
        elif isinstance(event, DeviationLinked):
            found = replace(
                found,
                exception_ids=found.exception_ids | set(event.exception_ids),
                hold_ids=found.hold_ids | set(event.hold_ids),
            )
        elif isinstance(event, RootCauseRecorded):
            found = replace(found, root_cause=True)
        elif isinstance(event, CapaPlanned):
            found = replace(found, capas_done={**found.capas_done, event.capa_id: False})
        elif isinstance(event, CapaCompleted):
            found = replace(found, capas_done={**found.capas_done, event.capa_id: True})
        elif isinstance(event, DeviationClosed):
            found = replace(found, closed=True)
    return None if found is None else replace(found, version=len(events))


@dataclass(frozen=True)
class Links:
    """What is to be grouped, and the lot each one named belongs to (those the caller may see)."""

    exception_ids: tuple[UUID, ...] = ()
    hold_ids: tuple[UUID, ...] = ()
    lot_of_exception: Mapping[UUID, str] = field(default_factory=dict)
    lot_of_hold: Mapping[UUID, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenDeviation:
    deviation_id: UUID
    batch: Batch
    title: str
    description: str
    links: Links
    qms_reference: str | None


def open_deviation(command: OpenDeviation) -> DeviationOpened:
    _refuse_links(command.links, command.batch.lot, frozenset(), frozenset())
    return DeviationOpened(
        deviation_id=command.deviation_id,
        gtin=command.batch.gtin,
        lot=command.batch.lot,
        cmo_id=command.batch.cmo_id,
        title=command.title,
        description=command.description,
        exception_ids=command.links.exception_ids,
        hold_ids=command.links.hold_ids,
        qms_reference=command.qms_reference,
    )


def link(deviation: Deviation, links: Links) -> DeviationLinked:
    _refuse_closed(deviation)
    if not (links.exception_ids or links.hold_ids):
        message = "name exception records or holds to group under the deviation"
        raise InvalidInput(message, [rules.LINKS_SOMETHING.at("exception_ids", message)])
    _refuse_links(links, deviation.lot, deviation.exception_ids, deviation.hold_ids)
    return DeviationLinked(
        deviation_id=deviation.deviation_id, exception_ids=links.exception_ids, hold_ids=links.hold_ids
    )


def _refuse_links(links: Links, lot: str, linked_records: frozenset[UUID], linked_holds: frozenset[UUID]) -> None:
    """Records and holds of the deviation's batch only, each once. One the caller may not see
    answers as an unknown one."""
    found: list[Violation] = []
    for where, ids, lot_of, linked, what in (
        ("exception_ids", links.exception_ids, links.lot_of_exception, linked_records, "exception record"),
        ("hold_ids", links.hold_ids, links.lot_of_hold, linked_holds, "hold"),
    ):
        again = set(rules.repeats(ids))
        for index, named in enumerate(ids):
            if lot_of.get(named) != lot:
                message = f"{what} {named} is not known as one of batch {lot}"
                found.append(rules.LINKED_OF_BATCH.at(f"{where}[{index}]", message))
            elif named in linked or index in again:
                found.append(rules.LINKED_ONCE.at(f"{where}[{index}]", f"{what} {named} is grouped here already"))
    if found:
        raise InvalidInput(rules.summary(found), found)


def record_root_cause(
    deviation: Deviation, category: RootCauseCategory, method: AnalysisMethod, findings: str
) -> RootCauseRecorded:
    _refuse_closed(deviation)
    return RootCauseRecorded(deviation_id=deviation.deviation_id, category=category, method=method, findings=findings)


@dataclass(frozen=True)
class PlanCapa:
    capa_id: UUID
    kind: CapaKind
    action: str
    owner: str
    due_date: date
    effectiveness_check: str


def plan_capa(deviation: Deviation, command: PlanCapa) -> CapaPlanned:
    _refuse_closed(deviation)
    return CapaPlanned(
        deviation_id=deviation.deviation_id,
        capa_id=command.capa_id,
        kind=command.kind,
        action=command.action,
        owner=command.owner,
        due_date=command.due_date,
        effectiveness_check=command.effectiveness_check,
    )


def complete_capa(deviation: Deviation, capa_id: UUID, effective: bool, evidence: str) -> CapaCompleted:
    """A CAPA is completed once, also after its deviation was closed: an effectiveness check
    often comes weeks later, and the batch's summary counts the CAPA open until then."""
    if capa_id not in deviation.capas_done:
        raise NotFound("no CAPA", [EXISTS.at("capa_id", "unknown CAPA of this deviation")])
    if deviation.capas_done[capa_id]:
        message = "this CAPA was completed already; plan a new one if it was not effective"
        raise Conflict(message, [rules.CAPA_OPEN.at("capa_id", message)])
    return CapaCompleted(deviation_id=deviation.deviation_id, capa_id=capa_id, effective=effective, evidence=evidence)


def close(deviation: Deviation, reason: str, *, signed: bool) -> DeviationClosed:
    _refuse_closed(deviation)
    if not deviation.root_cause:
        message = "record the root cause before closing the deviation"
        raise Conflict(message, [rules.ROOT_CAUSE_FIRST.at("root_cause", message)])
    if not signed:
        message = "closing a deviation needs a QA signature"
        raise InvalidInput(message, [rules.SIGNED_BY_QA.at("signature", message)])
    return DeviationClosed(deviation_id=deviation.deviation_id, reason=reason)


def _refuse_closed(deviation: Deviation) -> None:
    if deviation.closed:
        message = "the deviation is closed; it changes no more"
        raise Conflict(message, [rules.DEVIATION_OPEN.at("state", message)])
