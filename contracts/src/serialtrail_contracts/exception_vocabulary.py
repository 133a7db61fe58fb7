"""One reason vocabulary for every unit that goes wrong on a line: what each exception type
means in CBV 2.0 (the EPCIS event it becomes), in the EU FMD hub (the pack state it sets) and
under the US DSCSA (what trading partners, and for illegitimate product the FDA, are told).

The line exceptions service records by it; EPCIS reporting renders by it; the EU FMD upload maps
pack states by it. Kept here, beside the events, so those services share it without importing
each other. Pure data: the table test checks every value against the official vocabularies."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from serialtrail_contracts.exceptions import DecommissionReason, ExceptionType

__all__ = ["VOCABULARY", "DscsaReason", "EuFmdPackState", "ExceptionType", "Meaning"]


class EuFmdPackState(StrEnum):
    """Pack states of the EU FMD repositories system (Delegated Regulation 2016/161, Art. 25, 40)."""

    active = "Active"
    supplied = "Supplied"
    exported = "Exported"
    checked_out = "Checked-out"
    stolen = "Stolen"
    sample = "Sample"
    free_sample = "Free sample"
    locked = "Locked"
    destroyed = "Destroyed"


class DscsaReason(StrEnum):
    """What a DSCSA trading partner is told of a unit that left the supply chain."""

    destroyed = "destroyed"
    damaged = "damaged"
    sample = "sample"
    stolen = "stolen"  # illegitimate product: FDA Form 3911 within 24 hours
    lost = "lost"
    never_distributed = "never-distributed"  # a line reject: its serial never entered commerce


@dataclass(frozen=True)
class Meaning:
    """One exception type in every vocabulary. `decommission` is None for types that leave the
    pack in the supply chain (an unreadable code read again, say, is only recorded)."""

    biz_step: str  # CBV 2.0 business step (bare name, as in `urn:epcglobal:cbv:bizstep:<name>`)
    disposition: str  # CBV 2.0 disposition (bare name)
    decommission: DecommissionReason | None
    eu_fmd_state: EuFmdPackState | None
    dscsa: DscsaReason | None
    fda_notification: bool = False  # illegitimate product (DSCSA §582): Form 3911
    undo_allowed: bool = True  # EU FMD: never from Stolen or Destroyed

    @property
    def takes_out(self) -> bool:
        return self.decommission is not None


def _line_reject(reason: DecommissionReason) -> Meaning:
    """A pack rejected on the line before release: its serial is retired, never distributed."""
    return Meaning(
        "decommissioning",
        "inactive",
        reason,
        EuFmdPackState.destroyed,
        DscsaReason.never_distributed,
        undo_allowed=False,
    )


VOCABULARY: dict[ExceptionType, Meaning] = {
    # A failed read is a signal, not yet a reject: the unit is read again or inspected, and a
    # reject that follows is recorded as what it turned out to be (misprint, destroyed …).
    ExceptionType.unreadable: Meaning("inspecting", "in_progress", None, None, None),
    ExceptionType.label_misprint: _line_reject(DecommissionReason.misprint),
    ExceptionType.wrong_label: _line_reject(DecommissionReason.misprint),
    ExceptionType.rework: _line_reject(DecommissionReason.misprint),
    ExceptionType.qc_sample: Meaning(
        "sampling", "non_sellable_other", DecommissionReason.sample, EuFmdPackState.sample, DscsaReason.sample
    ),
    ExceptionType.destroyed: Meaning(
        "destroying",
        "destroyed",
        DecommissionReason.destroyed,
        EuFmdPackState.destroyed,
        DscsaReason.destroyed,
        undo_allowed=False,
    ),
    ExceptionType.damaged: Meaning(
        "decommissioning", "damaged", DecommissionReason.damaged, EuFmdPackState.locked, DscsaReason.damaged
    ),
    ExceptionType.stolen: Meaning(
        "decommissioning",
        "stolen",
        DecommissionReason.stolen,
        EuFmdPackState.stolen,
        DscsaReason.stolen,
        fda_notification=True,
        undo_allowed=False,
    ),
    ExceptionType.lost: Meaning(
        "decommissioning", "unavailable", DecommissionReason.lost, EuFmdPackState.locked, DscsaReason.lost
    ),
}
