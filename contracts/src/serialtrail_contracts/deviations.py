"""Deviations, published with the line exceptions service's events on `serialtrail.exceptions.v1`.

A deviation is the investigation QA opens over what went wrong: it groups exception records
and holds of one batch, records the root cause (by category and the method that found it) and
the CAPA actions taken, may refer to the record in an external QMS, and is closed with a QA
e-signature. It is the link from a serial to its deviation and CAPA, not a full QMS. Each
deviation is a stream of its own (`deviation-<id>`). Quality records, not EPCIS events."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from serialtrail_contracts.base import EventContract


class RootCauseCategory(StrEnum):
    """The six Ms of an Ishikawa (fishbone) analysis."""

    materials = "materials"
    method = "method"
    machine = "machine"
    man = "man"  # people
    measurement = "measurement"
    environment = "environment"  # "Mother Nature"


class AnalysisMethod(StrEnum):
    five_why = "5-why"
    fishbone = "fishbone"
    fault_tree = "fault-tree"


class CapaKind(StrEnum):
    correction = "correction"  # puts the nonconformity itself right
    corrective = "corrective"  # removes its cause, so it does not recur
    preventive = "preventive"  # removes the cause of a potential one elsewhere


class DeviationOpened(EventContract):
    EVENT_TYPE: ClassVar[str] = "exceptions.DeviationOpened"
    EVENT_VERSION: ClassVar[int] = 1

    deviation_id: UUID
    gtin: str
    lot: str
    cmo_id: str | None = None
    title: str
    description: str
    exception_ids: tuple[UUID, ...] = ()
    hold_ids: tuple[UUID, ...] = ()
    qms_reference: str | None = None  # the record in the company's QMS, when there is one


class DeviationLinked(EventContract):
    """More exception records or holds grouped under the deviation."""

    EVENT_TYPE: ClassVar[str] = "exceptions.DeviationLinked"
    EVENT_VERSION: ClassVar[int] = 1

    deviation_id: UUID
    exception_ids: tuple[UUID, ...] = ()
    hold_ids: tuple[UUID, ...] = ()


class RootCauseRecorded(EventContract):
    """What the investigation found. A later one supersedes an earlier one (kept in the history)."""

    EVENT_TYPE: ClassVar[str] = "exceptions.RootCauseRecorded"
    EVENT_VERSION: ClassVar[int] = 1

    deviation_id: UUID
    category: RootCauseCategory
    method: AnalysisMethod
    findings: str


class CapaPlanned(EventContract):
    EVENT_TYPE: ClassVar[str] = "exceptions.CapaPlanned"
    EVENT_VERSION: ClassVar[int] = 1

    deviation_id: UUID
    capa_id: UUID
    kind: CapaKind
    action: str
    owner: str
    due_date: date
    effectiveness_check: str  # how, and when, the action is shown to have worked


class CapaCompleted(EventContract):
    """The action was done and its effectiveness checked: effective, or not (then a new action follows)."""

    EVENT_TYPE: ClassVar[str] = "exceptions.CapaCompleted"
    EVENT_VERSION: ClassVar[int] = 1

    deviation_id: UUID
    capa_id: UUID
    effective: bool
    evidence: str = Field(min_length=1)


class DeviationClosed(EventContract):
    """Closed by QA, with a reason; the e-signature is recorded with it in the same transaction."""

    EVENT_TYPE: ClassVar[str] = "exceptions.DeviationClosed"
    EVENT_VERSION: ClassVar[int] = 1

    deviation_id: UUID
    reason: str


DEVIATION_EVENTS = (DeviationOpened, DeviationLinked, RootCauseRecorded, CapaPlanned, CapaCompleted, DeviationClosed)
