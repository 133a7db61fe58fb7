"""The one reason vocabulary, as a table: each exception type's CBV 2.0 business step and
disposition exist in the official EPCIS 2.0 context, each EU FMD state is one of the hub's, and
the EU rules on undo hold (never from Stolen or Destroyed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from serialtrail_contracts.exception_vocabulary import (
    VOCABULARY,
    DscsaReason,
    EuFmdPackState,
    ExceptionType,
    Meaning,
)
from serialtrail_contracts.exceptions import DecommissionReason

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = ROOT / "libs" / "gs1" / "src" / "serialtrail_gs1" / "standards" / "epcis" / "epcis-context.jsonld"
SHARED = ROOT.parent / "shared" / "standards" / "epcis" / "epcis-context.jsonld"


def cbv_terms(kind: str) -> set[str]:
    """Business steps (`BizStep`) or dispositions (`Disp`) the official context names."""
    return set(re.findall(rf'"cbv:{kind}-([a-z_]+)"', CONTEXT.read_text()))


def test_the_context_is_the_official_one_unedited() -> None:
    copy = CONTEXT.read_bytes()
    assert "@context" in json.loads(copy)
    if SHARED.exists():  # beside the project's shared standards folder: byte for byte the same
        assert copy == SHARED.read_bytes()


def test_every_exception_type_has_a_meaning() -> None:
    assert set(VOCABULARY) == set(ExceptionType)


@pytest.mark.parametrize(
    ("kind", "biz_step", "disposition", "decommission", "eu_fmd", "dscsa", "undo"),
    [
        ("unreadable", "inspecting", "in_progress", None, None, None, True),
        ("label-misprint", "decommissioning", "inactive", "misprint", "Destroyed", "never-distributed", False),
        ("wrong-label", "decommissioning", "inactive", "misprint", "Destroyed", "never-distributed", False),
        ("rework", "decommissioning", "inactive", "misprint", "Destroyed", "never-distributed", False),
        ("qc-sample", "sampling", "non_sellable_other", "sample", "Sample", "sample", True),
        ("destroyed", "destroying", "destroyed", "destroyed", "Destroyed", "destroyed", False),
        ("damaged", "decommissioning", "damaged", "damaged", "Locked", "damaged", True),
        ("stolen", "decommissioning", "stolen", "stolen", "Stolen", "stolen", False),
        ("lost", "decommissioning", "unavailable", "lost", "Locked", "lost", True),
    ],
)
def test_the_table(
    kind: str,
    biz_step: str,
    disposition: str,
    decommission: str | None,
    eu_fmd: str | None,
    dscsa: str | None,
    undo: bool,
) -> None:
    meaning = VOCABULARY[ExceptionType(kind)]
    assert meaning == Meaning(
        biz_step,
        disposition,
        None if decommission is None else DecommissionReason(decommission),
        None if eu_fmd is None else EuFmdPackState(eu_fmd),
        None if dscsa is None else DscsaReason(dscsa),
        fda_notification=kind == "stolen",
        undo_allowed=undo,
    )


def test_every_term_is_the_official_vocabularies() -> None:
    steps, dispositions = cbv_terms("BizStep"), cbv_terms("Disp")
    assert {"decommissioning", "destroying", "sampling", "inspecting"} <= steps  # the context was read
    for kind, meaning in VOCABULARY.items():
        assert meaning.biz_step in steps, kind
        assert meaning.disposition in dispositions, kind


def test_the_eu_undo_rules_hold() -> None:
    """A pack set Stolen or Destroyed in the hub never comes back; only what took one out may be undone."""
    for kind, meaning in VOCABULARY.items():
        if meaning.eu_fmd_state in (EuFmdPackState.stolen, EuFmdPackState.destroyed):
            assert not meaning.undo_allowed, kind
        assert meaning.takes_out == (meaning.decommission is not None), kind


def test_a_term_outside_the_official_vocabulary_is_found() -> None:
    """The check above cannot pass by reading nothing: a made-up term is absent."""
    assert "misprinting" not in cbv_terms("BizStep")
    assert "lost" not in cbv_terms("Disp")  # CBV 2.0 has no `lost`: a lost pack is `unavailable`
