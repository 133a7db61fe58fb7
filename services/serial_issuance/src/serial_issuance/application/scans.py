"""Commissioning from what the line's scanners read: each scan read by the one line parser,
every one an SGTIN of one GTIN, and whatever lot or expiry its label carried agreeing with
the batch it is commissioned into (a label printed for another batch is a mix-up on the line)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from serialtrail_contracts.serials import BatchRegistered
from serialtrail_gs1.identity import IdentifierError, Kind
from serialtrail_gs1.keys import require_gtin
from serialtrail_gs1.rules import IDENTIFIER
from serialtrail_gs1.scan import ScanError, parse_scan
from serialtrail_kit.errors import InvalidInput, Violation

from serial_issuance.domain.rules import LABEL_MATCHES_BATCH, SGTIN, SINGLE_GTIN


class Label(NamedTuple):
    """Where a scan sits in the request, and the lot and expiry its label carried (None: not on it)."""

    position: int
    lot: str | None
    expiry: date | None


def read_scans(scans: Sequence[str], gtin: str | None) -> tuple[str, list[str], str, list[Label]]:
    """(GTIN, serials, field, labels) of the scans; every unreadable one named with its AI and rule."""
    violations: list[Violation] = []
    gtins: set[str] = set()
    serials: list[str] = []
    labels: list[Label] = []
    for index, text in enumerate(scans):
        try:
            scan = parse_scan(text)
        except IdentifierError as error:
            rule = error.rule if isinstance(error, ScanError) else IDENTIFIER
            violations.append(rule.at(f"scans[{index}]", f"{text!r}: {error}"))
            continue
        if scan.object.kind is not Kind.sgtin or scan.object.gtin is None or scan.object.serial is None:
            violations.append(SGTIN.at(f"scans[{index}]", f"{text!r} names an SSCC, not a pack (GTIN + serial)"))
            continue
        gtins.add(scan.object.gtin)
        serials.append(scan.object.serial)
        if scan.lot is not None or scan.expiry is not None:
            labels.append(Label(index, scan.lot, scan.expiry))
    named = gtins | ({gtin} if gtin else set())
    if not violations and len(named) != 1:
        message = f"all scans of one commissioning must share one GTIN (and the gtin given); found {sorted(named)}"
        violations.append(SINGLE_GTIN.at("scans", message))
    if violations:
        raise InvalidInput(f"{violations[0].message} (scans refused: nothing was recorded)", violations)
    (only,) = named
    return require_gtin(only, "scans"), serials, "scans", labels


def check_labels(labels: Sequence[Label], batch: BatchRegistered, field: str) -> None:
    violations = []
    for label in labels:
        if label.lot is not None and label.lot != batch.lot:
            message = f"scanned with lot {label.lot}, but it is being commissioned into lot {batch.lot}"
            violations.append(LABEL_MATCHES_BATCH.at(f"{field}[{label.position}]", message))
        elif label.expiry is not None and label.expiry != batch.expiry:
            message = f"scanned with expiry {label.expiry}, but batch {batch.lot} expires {batch.expiry}"
            violations.append(LABEL_MATCHES_BATCH.at(f"{field}[{label.position}]", message))
    if violations:
        raise InvalidInput(
            f"{len(violations)} label(s) disagree with batch {batch.lot}; nothing was recorded", violations
        )
