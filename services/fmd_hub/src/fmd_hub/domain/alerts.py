"""An alert the hub raised, and its workflow: new → under investigation → closed with a reason
(closed straight from new when it needs no investigation). Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.fmd import AlertClosed, AlertInvestigated, AlertReceived
from serialtrail_kit.errors import Conflict

from fmd_hub.domain.rules import ALERT_STATE

NEW, INVESTIGATING, CLOSED = "new", "under-investigation", "closed"


@dataclass(frozen=True)
class Alert:
    alert_id: str
    state: str
    version: int


def stream_id(alert_id: str) -> str:
    return f"fmd-alert-{alert_id}"


def fold(events: Iterable[EventContract]) -> Alert | None:
    alert = None
    for version, event in enumerate(events, start=1):
        if isinstance(event, AlertReceived):
            alert = Alert(event.alert_id, NEW, version)
        elif alert is not None:
            state = INVESTIGATING if isinstance(event, AlertInvestigated) else CLOSED
            alert = Alert(alert.alert_id, state, version)
    return alert


def investigate(alert: Alert, note: str, deviation_id: UUID | None) -> AlertInvestigated:
    _refuse_unless(alert, (NEW,), "investigated")
    return AlertInvestigated(alert_id=alert.alert_id, note=note, deviation_id=deviation_id)


def close(alert: Alert, reason: str) -> AlertClosed:
    _refuse_unless(alert, (NEW, INVESTIGATING), "closed")
    return AlertClosed(alert_id=alert.alert_id, reason=reason)


def _refuse_unless(alert: Alert, states: tuple[str, ...], what: str) -> None:
    if alert.state not in states:
        message = f"alert {alert.alert_id} is {alert.state}: only one {' or '.join(states)} is {what}"
        raise Conflict(message, [ALERT_STATE.at("state", message)])
