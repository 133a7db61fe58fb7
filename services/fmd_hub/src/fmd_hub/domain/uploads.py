"""Planning a batch's upload to the hub (pure): which serials are sent, in which chunk, and which
the hub is never told of.

- Sent: the batch's commissioned serials not planned by an earlier upload of the batch, in
  serial order, `chunk_size` to a chunk (the hub takes at most 250,000 a message).
- Left out: those taken out before upload as line rejects or destroyed (EU FMD state
  Destroyed): they never entered the supply chain, and the hub is not told of them.
- Sent, their state to follow: those taken out in a way the hub must know of (a sample,
  stolen, locked): uploaded Active, then set to that state.

Everything the hub would refuse is refused here, before anything is sent."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import islice

from serialtrail_contracts.exception_vocabulary import EuFmdPackState
from serialtrail_contracts.fmd import PART_SERIALS, ChunkPlan, PacksLeftOut, PacksPlanned, UploadPlanned
from serialtrail_kit.errors import Violation

from fmd_hub.domain.rules import HUB_BATCH_ID, HUB_EXPIRY, HUB_SERIAL, NOTHING_TO_UPLOAD

__all__ = ["NOTHING_TO_UPLOAD", "Batch", "Known", "Plan", "check", "plan", "stream_id"]

HUB_CHUNK_LIMIT = 250_000
HUB_SERIAL_FORM = re.compile(r"[0-9A-Za-z]{1,20}")
# A path segment at the hub: no "/", and not only dots ("." and ".." are no segment at all).
HUB_BATCH_FORM = re.compile(r"(?=.*[0-9A-Za-z])[0-9A-Za-z._-]{1,20}")
LEFT_OUT_STATES = frozenset({EuFmdPackState.destroyed})
NAMED_AT_MOST = 10  # serials a refusal names


@dataclass(frozen=True)
class Batch:
    gtin: str
    lot: str
    expiry: date
    cmo_id: str | None = None
    site_gln: str | None = None  # where it is made


@dataclass(frozen=True)
class Known:
    """What the plan decides with: the batch's commissioned serials, those planned by earlier
    uploads, those taken out (with the pack state it means), the master data version in force."""

    commissioned: Sequence[str]
    planned_before: Collection[str]
    taken_out: Mapping[str, EuFmdPackState]
    master_data_version: int
    markets: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    planned: UploadPlanned
    parts: list[PacksPlanned]
    left_out: list[PacksLeftOut]

    @property
    def events(self) -> list[UploadPlanned | PacksPlanned | PacksLeftOut]:
        return [self.planned, *self.left_out, *self.parts]


def stream_id(upload_id: uuid.UUID) -> str:
    return f"fmd-upload-{upload_id}"


def check(batch: Batch, today: date) -> list[Violation]:
    found = []
    if not HUB_BATCH_FORM.fullmatch(batch.lot):
        message = (
            f"{batch.lot!r} is no batch id the hub takes (1-20 letters, digits and - . _, a letter or digit among them)"
        )
        found.append(HUB_BATCH_ID.at("lot", message))
    if not 2000 <= batch.expiry.year <= 2099:
        found.append(HUB_EXPIRY.at("expiry", f"{batch.expiry} cannot be written YYMMDD"))
    elif batch.expiry < today:
        found.append(HUB_EXPIRY.at("expiry", f"the batch expired on {batch.expiry}"))
    return found


def plan(upload_id: uuid.UUID, batch: Batch, known: Known, chunk_size: int) -> Plan | list[Violation]:
    before = set(known.planned_before)
    new = sorted(serial for serial in known.commissioned if serial not in before)
    left, sent = _split(new, known.taken_out)
    if not sent:
        message = (
            f"no serial of batch {batch.lot} is left to upload ({len(before):,} planned before, {len(left):,} left out)"
        )
        return [NOTHING_TO_UPLOAD.at("lot", message)]
    refused = [serial for serial in sent if not HUB_SERIAL_FORM.fullmatch(serial)]
    if refused:
        named = ", ".join(repr(s) for s in refused[:NAMED_AT_MOST])
        return [HUB_SERIAL.at("serials", f"{len(refused):,} serials the hub does not take: {named}")]
    chunks = [sent[start : start + chunk_size] for start in range(0, len(sent), chunk_size)]
    following = {serial: known.taken_out[serial] for serial in sent if serial in known.taken_out}
    planned = UploadPlanned(
        upload_id=upload_id,
        gtin=batch.gtin,
        lot=batch.lot,
        expiry=batch.expiry,
        master_data_version=known.master_data_version,
        markets=known.markets,
        commissioned=len(known.commissioned),
        uploaded_before=len(before),
        left_out=_counts(known.taken_out[serial] for serial in left),
        states_after_upload=_counts(following.values()),
        chunks=tuple(ChunkPlan(index=index, packs=len(chunk)) for index, chunk in enumerate(chunks)),
    )
    parts = [
        PacksPlanned(
            upload_id=upload_id,
            gtin=batch.gtin,
            lot=batch.lot,
            chunk=index,
            serials=tuple(part),
            states={serial: following[serial] for serial in part if serial in following},
        )
        for index, chunk in enumerate(chunks)
        for part in _parts(chunk)
    ]
    return Plan(planned, parts, _left_out_parts(upload_id, batch, left, known.taken_out))


def _split(new: list[str], taken_out: Mapping[str, EuFmdPackState]) -> tuple[list[str], list[str]]:
    """Those left out, and those sent; nothing taken out: all sent as they are (no copy of a million)."""
    if not taken_out:
        return [], new
    left = [serial for serial in new if taken_out.get(serial) in LEFT_OUT_STATES]
    return left, [serial for serial in new if taken_out.get(serial) not in LEFT_OUT_STATES]


def _left_out_parts(
    upload_id: uuid.UUID, batch: Batch, left: list[str], states: Mapping[str, EuFmdPackState]
) -> list[PacksLeftOut]:
    by_state: dict[EuFmdPackState, list[str]] = {}
    for serial in left:
        by_state.setdefault(states[serial], []).append(serial)
    return [
        PacksLeftOut(upload_id=upload_id, gtin=batch.gtin, lot=batch.lot, state=state, serials=tuple(part))
        for state, serials in sorted(by_state.items())
        for part in _parts(serials)
    ]


def _parts(serials: Sequence[str]) -> list[Sequence[str]]:
    iterator = iter(serials)
    return list(iter(lambda: list(islice(iterator, PART_SERIALS)), []))


def _counts(states: Iterable[EuFmdPackState]) -> dict[EuFmdPackState, int]:
    return dict(sorted(Counter(states).items()))
