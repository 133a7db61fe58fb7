"""The packing rules alone (domain/hierarchy.py): no database, no HTTP. The end-to-end tests
check the same rules through the API; these pin them down exhaustively and by property."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from aggregation.domain import hierarchy
from aggregation.domain.hierarchy import Close, Hierarchy, Pack, ParentState, Unpack
from aggregation.domain.objects import Knowledge, Label, Line
from hypothesis import given
from hypothesis import strategies as st
from serialtrail_contracts.aggregation import PackagingLevel, UnpackReason
from serialtrail_kit.errors import Conflict

AT = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
KNOWN = Knowledge(known=frozenset({f"u{i}" for i in range(10)}))
SITE = "urn:epc:id:sgln:9506000.00000.0"
LINE = Line("LINE-1", "urn:epc:id:sgln:9506000.00000.LINE-1", SITE, "9506000000008", None)


def pack(parent: str, *children: str, level: PackagingLevel = PackagingLevel.case) -> Pack:
    return Pack(parent=parent, level=level, children=children, line=LINE, event_time=AT)


def rules(h: Hierarchy, command: Pack, knowledge: Knowledge = KNOWN, in_scope: object = None) -> list[str]:
    _, violations = hierarchy.pack(h, command, knowledge, in_scope)  # type: ignore[arg-type]
    return [f"{v.field}:{v.rule}" for v in violations]


def test_a_pack_updates_the_loaded_hierarchy_and_names_unknown_children_pending() -> None:
    h = Hierarchy()
    event, violations = hierarchy.pack(h, pack("case", "u1", "late"), KNOWN, None)
    assert violations == []
    assert event.pending_child_ids == ("late",)
    assert event.parent_pending  # "case" is not known either
    assert h.parent_of == {"u1": "case", "late": "case"}
    assert h.state("case").child_count == 2


def test_each_placement_rule_names_the_child() -> None:
    h = Hierarchy()
    assert rules(h, pack("case", "u1", "u2")) == []
    assert rules(h, pack("pallet", "case", level=PackagingLevel.pallet)) == []
    assert rules(h, pack("other", "u1")) == ["children[0]:not-already-packed"]
    assert rules(h, pack("case", "u2")) == ["children[0]:not-already-packed"]
    assert rules(h, pack("case", "case")) == ["children[0]:no-cycle"]
    assert rules(h, pack("case", "pallet")) == ["children[0]:no-cycle"]


def test_parent_rules_closed_and_level() -> None:
    h = Hierarchy(parents={"case": ParentState(PackagingLevel.case, closed=True, child_count=1, version=2)})
    assert rules(h, pack("case", "u3", level=PackagingLevel.pallet)) == [
        "parent:open-parent",
        "packaging_level:same-level",
    ]


def test_standing_rules_decommissioned_and_out_of_scope() -> None:
    knowledge = Knowledge(
        known=frozenset({"u1", "u2"}),
        owner={"u1": "ACME", "u2": "OTHER"},
        decommissioned={"u1": "destroyed"},
        ssccs=frozenset({"case"}),
    )
    assert rules(Hierarchy(), pack("case", "u1"), knowledge) == ["children[0]:not-decommissioned"]
    assert rules(Hierarchy(), pack("case", "u2"), knowledge, lambda cmo: cmo == "ACME") == ["children[0]:in-scope"]
    assert rules(Hierarchy(), pack("case", "u2"), knowledge, None) == []


def test_a_narrowed_principal_packs_only_children_it_can_tell_are_its_own() -> None:
    """Another CMO's unit, one packed in another CMO's case, and one not commissioned yet get the
    same answer (nothing about units outside the scope is learnt); a pending unit whose lot names
    a batch of the caller's is accepted, and an SSCC child is scoped by its range elsewhere."""
    knowledge = Knowledge(
        known=frozenset({"mine", "theirs", "sscc"}),
        owner={"mine": "ACME", "theirs": "OTHER"},
        pending_owner={"late-mine": "ACME", "late-theirs": "OTHER"},
        ssccs=frozenset({"sscc", "new-sscc", "case"}),
    )
    acme = lambda cmo: cmo == "ACME"  # noqa: E731
    h = Hierarchy(parent_of={"theirs": "their-case"})
    refused = ["theirs", "late-theirs", "late-without-lot"]
    for child in refused:
        _, violations = hierarchy.pack(h, pack("case", child), knowledge, acme)
        assert [(v.rule, v.message) for v in violations] == [("in-scope", f"{child} {hierarchy.NOT_IN_SCOPE}")]
    assert rules(h, pack("case", "mine", "late-mine", "sscc", "new-sscc"), knowledge, acme) == []
    assert rules(Hierarchy(), pack("case", "late-without-lot"), knowledge, None) == []  # company-wide keys


def test_a_label_that_disagrees_with_its_batch_is_a_mix_up_naming_both_values() -> None:
    batch = Label("L1", date(2027, 12, 31))
    knowledge = Knowledge(
        known=frozenset({"u1", "u2", "u3", "u4"}),
        scanned={
            "u1": Label("L1", date(2027, 12, 31)),
            "u2": Label("L2", None),
            "u3": Label(None, date(2028, 1, 31)),
            "u4": Label("L1", None),
        },
        batch_label={"u1": batch, "u2": batch, "u3": batch, "u4": batch},
    )
    _, violations = hierarchy.pack(Hierarchy(), pack("case", "u1", "u2", "u3", "u4"), knowledge, None)
    assert [(v.field, v.rule) for v in violations] == [
        ("children[1]", "label-matches-batch"),
        ("children[2]", "label-matches-batch"),
    ]
    assert "lot L2, but its batch is lot L1" in violations[0].message
    assert "expiry 2028-01-31, but its batch L1 expires 2027-12-31" in violations[1].message


def test_a_pending_units_scanned_lot_is_recorded_with_the_pack() -> None:
    knowledge = Knowledge(known=frozenset({"u1"}), scanned={"u1": Label("L1", None), "late": Label("L2", None)})
    event, violations = hierarchy.pack(Hierarchy(), pack("case", "u1", "late", "bare"), knowledge, None)
    assert violations == []
    assert event.pending_child_ids == ("late", "bare")
    assert event.scanned_lots == {"late": "L2"}  # a known unit's lot was checked instead


def test_a_unit_as_parent_answers_to_the_rules_of_a_unit() -> None:
    """A bundle's parent SGTIN: the caller's own (by commissioning, or pending with its lot),
    its label agreeing with its batch, and its scanned lot kept while it is pending."""
    knowledge = Knowledge(
        known=frozenset({"theirs", "mine", "u1"}),
        owner={"theirs": "OTHER", "mine": "ACME", "u1": "ACME"},
        scanned={"mine": Label("WRONG", None), "late": Label("L9", None)},
        batch_label={"mine": Label("L1", None)},
        pending_owner={"late": "ACME"},
    )
    acme = lambda cmo: cmo == "ACME"  # noqa: E731
    assert rules(Hierarchy(), pack("theirs", "u1"), knowledge, acme) == ["parent:in-scope"]
    assert rules(Hierarchy(), pack("unknown", "u1"), knowledge, acme) == ["parent:in-scope"]
    assert rules(Hierarchy(), pack("mine", "u1"), knowledge, None) == ["parent:label-matches-batch"]
    event, violations = hierarchy.pack(Hierarchy(), pack("late", "u1"), knowledge, acme)
    assert violations == []
    assert event.parent_pending
    assert event.scanned_lots == {"late": "L9"}


def test_a_refused_pack_leaves_the_hierarchy_as_it_was() -> None:
    h = Hierarchy()
    hierarchy.pack(h, pack("a", "u1"), KNOWN, None)
    assert rules(h, pack("b", "u2", "u1")) == ["children[1]:not-already-packed"]
    assert h.parent_of == {"u1": "a"}
    assert h.state("b").child_count == 0


def test_a_request_names_each_parent_and_child_once() -> None:
    packs = [
        Pack("p", PackagingLevel.case, ("u1", "u2"), LINE, AT, field="packs[0]"),
        Pack("p", PackagingLevel.case, ("u2",), LINE, AT, field="packs[1]"),
    ]
    found = [f"{v.field}:{v.rule}" for v in hierarchy.check_request(packs)]
    assert found == ["packs[1].parent:unique-parent", "packs[1].children[0]:unique-child"]


def test_unpack_and_close_rules() -> None:
    h = Hierarchy(
        parent_of={"u1": "case", "u2": "case"},
        parents={"case": ParentState(PackagingLevel.case, closed=False, child_count=2, version=1)},
        children_of={"case": {"u1", "u2"}},
    )
    with pytest.raises(Conflict) as holds:
        hierarchy.close(h, Close("case", expected_count=3, line=LINE, event_time=AT))
    assert holds.value.violations[0].rule == "matches-count"
    closed = hierarchy.close(h, Close("case", expected_count=2, line=LINE, event_time=AT))
    assert closed.child_count == 2
    assert h.state("case").closed
    with pytest.raises(Conflict) as twice:
        hierarchy.close(h, Close("case", None, LINE, AT))
    assert twice.value.violations[0].rule == "open-parent"
    with pytest.raises(Conflict) as stranger:
        hierarchy.unpack(h, Unpack("case", ("u9",), UnpackReason.damaged, None, LINE, AT))
    assert stranger.value.violations[0].rule == "in-parent"
    event = hierarchy.unpack(h, Unpack("case", None, UnpackReason.damaged, None, LINE, AT))
    assert sorted(event.child_ids) == ["u1", "u2"]
    assert not h.state("case").closed  # unpacking reopens
    assert h.state("case").child_count == 0
    with pytest.raises(Conflict) as unknown:
        hierarchy.unpack(Hierarchy(), Unpack("nowhere", None, UnpackReason.damaged, None, LINE, AT))
    assert unknown.value.violations[0].rule == "known-parent"


OBJECTS = [f"o{i}" for i in range(8)]


@given(st.lists(st.tuples(st.sampled_from(OBJECTS), st.lists(st.sampled_from(OBJECTS), min_size=1, max_size=3))))
def test_whatever_is_asked_a_child_has_one_parent_and_there_is_no_cycle(requests: list[tuple[str, list[str]]]) -> None:
    """Any sequence of packs, accepted or refused: every accepted child is in exactly the parent
    it was packed into (and counted there only), and walking up never comes back to the start."""
    h = Hierarchy()
    accepted: dict[str, str] = {}
    for parent, children in requests:
        command = pack(parent, *dict.fromkeys(children))
        _, violations = hierarchy.pack(h, command, Knowledge(), None)
        if not violations:
            accepted.update(dict.fromkeys(command.children, parent))
    assert h.parent_of == accepted
    for parent in set(accepted.values()):  # a child packed twice would be counted in two parents
        assert h.state(parent).child_count == sum(1 for p in accepted.values() if p == parent)
    for start in OBJECTS:
        seen, node = {start}, start
        while (node := h.parent_of.get(node)) is not None:  # type: ignore[assignment]
            assert node not in seen, f"cycle through {node}"
            seen.add(node)


def test_packs_recorded_before_scanned_lots_were_kept_read_as_the_current_version() -> None:
    """ChildrenPacked v1 (no `scanned_lots`, no locations) is lifted to the current version on
    read; stored rows stay as they are."""
    from aggregation.bootstrap import SERVICE
    from serialtrail_contracts.aggregation import ChildrenPacked

    v1 = {
        "pack_id": "8f7c1e3a-4b2d-4c5e-9f60-1a2b3c4d5e6f",
        "parent_id": "https://id.gs1.org/00/095060000000000018",
        "packaging_level": "case",
        "child_ids": ["https://id.gs1.org/01/09506000134352/21/A1"],
        "line_id": "LINE-1",
        "event_time": "2026-11-22T08:00:00+00:00",
        "pending_child_ids": [],
        "parent_pending": False,
    }
    version, payload = SERVICE.upcasters.upcast(ChildrenPacked.EVENT_TYPE, 1, v1)
    assert version == ChildrenPacked.EVENT_VERSION == 3
    current = ChildrenPacked.model_validate(payload)
    assert current.scanned_lots == {}
    assert current.read_point == "urn:serialtrail:unregistered-line:LINE-1"
    assert "scanned_lots" not in v1  # the stored payload is not changed
