"""CBV 2.0 Event Hash IDs: identical to the reference implementation (PyPI `epcis-event-hash-generator`,
a dev dependency used only here) on every event of every official EPCIS 2.0 JSON-LD example, on the
shared benchmark documents and on generated line events that go through every fast path, and stable
under what does not change an event (key order, EPC order, offset, URN vs Digital Link)."""

from __future__ import annotations

import copy
import json
import os
import string
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from epcis_event_hash_generator import hash_generator, json_to_py  # type: ignore[import-untyped]
from hypothesis import example, given, settings
from hypothesis import strategies as st
from serialtrail_gs1.event_hash import (
    Namespaces,
    _processes,
    canonical_time,
    canonical_value,
    event_hash_id,
    event_hash_ids,
    pre_hash_string,
)
from serialtrail_gs1.keys import check_digit

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT.parent / "shared" / "standards" / "epcis" / "examples" / "json-2.0"
DOCUMENTS = sorted(EXAMPLES.rglob("*.jsonld")) if EXAMPLES.exists() else []
# Documents the reference cannot read (it is prototypical): what it raises, and why.
REFERENCE_FAILS = {
    "EPCISQueryDocument.jsonld": "KeyError: reads only epcisBody.eventList, not a query document's resultsBody",
    "Example-TransactionEvents-2020_07_03y.jsonld": "TypeError: a user extension term with its own @type in @context",
    "transformation_event_all_possible_fields.jsonld": "JsonLdError: the document redefines the protected cbvmda",
}
CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"example": "http://ns.example.com/epcis/"},
]


def reference_pre_hashes(document: dict[str, Any]) -> list[str]:
    # The reference keeps the namespaces of every document it has read in a module global: without
    # this reset, one document's prefixes expand another's values (seen on the all-fields examples).
    json_to_py._namespaces.clear()
    events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(document))
    return list(hash_generator.derive_prehashes_from_events(events, ""))


def reference_hashes(document: dict[str, Any]) -> list[str]:
    return list(hash_generator.calculate_hashes_from_pre_hashes(reference_pre_hashes(document), "sha256"))


def events_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    body = document["epcisBody"]
    if "eventList" in body:
        return list(body["eventList"])
    return list(body["queryResults"]["resultsBody"]["eventList"])


def test_the_examples_are_there() -> None:
    if not EXAMPLES.exists():
        pytest.skip("the shared standards folder is not beside this clone")
    assert len(DOCUMENTS) == 47


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_every_official_example_hashes_as_the_reference(path: Path) -> None:
    document = json.loads(path.read_text())
    events = events_of(document)
    ours = [event_hash_id(event, document["@context"]) for event in events]
    assert all(h.startswith("ni:///sha-256;") and h.endswith("?ver=CBV2.0") for h in ours)
    assert event_hash_ids(events, document["@context"], processes=2) == ours
    if path.name in REFERENCE_FAILS:
        with pytest.raises(Exception):  # noqa: B017 - whatever it raises, it still cannot
            reference_hashes(document)
        return
    assert [pre_hash_string(e, document["@context"]) for e in events] == reference_pre_hashes(document)
    assert ours == reference_hashes(document)


def test_one_pre_hash_string_checked_by_hand() -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2005-04-03T20:33:31.116-06:00",
        "eventTimeZoneOffset": "-06:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2018", "urn:epc:id:sgtin:0614141.107346.2017"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
        "bizTransactionList": [{"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"}],
        "example:myField": " Example ",
    }
    assert pre_hash_string(event, CONTEXT) == (
        "eventType=ObjectEventeventTime=2005-04-04T02:33:31.116ZeventTimeZoneOffset=-06:00"
        "epcListepc=https://id.gs1.org/01/10614141073464/21/2017epc=https://id.gs1.org/01/10614141073464/21/2018"
        "action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-shipping"
        "disposition=https://ref.gs1.org/cbv/Disp-in_transit"
        "readPointid=https://id.gs1.org/414/0614141073467/254/1234"
        "bizTransactionListtype=https://ref.gs1.org/cbv/BTT-pobizTransaction=http://transaction.acme.com/po/12345678"
        "{http://ns.example.com/epcis/}myField=Example"
    )


# --- properties ------------------------------------------------------------------------------------
GTIN_BODIES = st.text("0123456789", min_size=12, max_size=12)
SERIALS = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1, max_size=20)
COMPANY_PREFIX_LENGTHS = st.integers(6, 12)


def _sgtin_forms(indicator: str, body: str, prefix_length: int, serial: str) -> tuple[str, str]:
    """One SGTIN as an EPC URN and as a Digital Link on a brand's own domain, with a query."""
    gtin = indicator + body + str(check_digit(indicator + body))
    company_prefix, item_reference = body[:prefix_length], indicator + body[prefix_length:]
    return (
        f"urn:epc:id:sgtin:{company_prefix}.{item_reference}.{serial}",
        f"https://brand.example.com/01/{gtin}/21/{serial}?linkType=all",
    )


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    epcs = draw(
        st.lists(
            st.tuples(st.sampled_from("0123456789"), GTIN_BODIES, COMPANY_PREFIX_LENGTHS, SERIALS),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    moment = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)))
    return {
        "type": "ObjectEvent",
        "eventTime": moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat() + "Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [_sgtin_forms(*epc)[0] for epc in epcs],
        "action": draw(st.sampled_from(["ADD", "OBSERVE", "DELETE"])),
        "bizStep": draw(st.sampled_from(["commissioning", "shipping", "receiving"])),
        "disposition": draw(st.sampled_from(["active", "in_transit", "in_progress"])),
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
        "bizLocation": {"id": "urn:epc:id:sgln:0614141.07346.0"},
        "ilmd": {"cbvmda:lotNumber": draw(SERIALS), "example:grade": draw(SERIALS)},
    }


@given(events(), st.randoms(use_true_random=False))
def test_key_order_and_epc_order_do_not_change_the_hash(event: dict[str, Any], random: Any) -> None:
    keys = list(event)
    random.shuffle(keys)
    shuffled = {key: event[key] for key in keys}
    shuffled["epcList"] = random.sample(event["epcList"], len(event["epcList"]))
    shuffled["ilmd"] = dict(reversed(event["ilmd"].items()))
    assert event_hash_id(shuffled, CONTEXT) == event_hash_id(event, CONTEXT)


@given(events(), st.integers(-14 * 60, 14 * 60))
def test_the_same_instant_at_another_offset_has_the_same_hash(event: dict[str, Any], minutes: int) -> None:
    offset = timezone(timedelta(minutes=minutes))
    moment = datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00")).astimezone(offset)
    moved = dict(event, eventTime=moment.isoformat(timespec="milliseconds"))
    assert event_hash_id(moved, CONTEXT) == event_hash_id(event, CONTEXT)


@given(st.sampled_from("0123456789"), GTIN_BODIES, COMPANY_PREFIX_LENGTHS, SERIALS)
def test_an_epc_as_urn_or_digital_link_has_the_same_hash(indicator: str, body: str, length: int, serial: str) -> None:
    urn, link = _sgtin_forms(indicator, body, length, serial)
    event = {"type": "ObjectEvent", "eventTime": "2025-03-03T08:00:00Z", "eventTimeZoneOffset": "+00:00"}
    assert event_hash_id(dict(event, epcList=[urn])) == event_hash_id(dict(event, epcList=[link]))


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _leaves(item, (*path, index))]
    return [path]


@given(events(), st.data())
def test_any_changed_value_changes_the_hash(event: dict[str, Any], data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(_leaves(event)))
    changed = copy.deepcopy(event)
    target = changed
    for step in path[:-1]:
        target = target[step]
    original = target[path[-1]]
    target[path[-1]] = _other(original)
    assert event_hash_id(changed, CONTEXT) != event_hash_id(event, CONTEXT), (path, original)


def _other(value: str) -> str:
    """A value of the same kind that means something else."""
    replacements = {"ADD": "DELETE", "OBSERVE": "ADD", "DELETE": "OBSERVE", "+00:00": "+01:00"}
    if value in replacements:
        return replacements[value]
    if value[:4].isdigit() and value.endswith("Z"):  # a time: one millisecond later
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")) + timedelta(milliseconds=1)
        return moment.isoformat(timespec="milliseconds")
    return value + "X"  # not a digit: "0e5" and "0e50" are both the number 0


def test_eventid_recordtime_and_error_declaration_are_not_identity() -> None:
    event = {"type": "ObjectEvent", "eventTime": "2025-03-03T08:00:00Z", "eventTimeZoneOffset": "+00:00"}
    decorated = dict(
        event,
        eventID="urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
        recordTime="2025-03-04T08:00:00Z",
        errorDeclaration={"declarationTime": "2025-03-05T08:00:00Z", "reason": "incorrect_data"},
    )
    assert event_hash_id(decorated) == event_hash_id(event)


# --- the fast paths, against the reference ---------------------------------------------------------
# event_hash.py takes shortcuts for what line documents are made of: SGTIN lists of one product, times
# with milliseconds and an offset, locations that are just an id, values seen before. Each is checked
# here on the shapes it takes and on the shapes next to them that must take the general path.
GENERATOR = ROOT.parent / "shared" / "bench" / "gen_epcis20.py"


def _bench_document(folder: Path, events: int, epcs_per_event: int) -> dict[str, Any]:
    out = folder / f"epcis20-{events}-{epcs_per_event}.jsonld"
    command = [sys.executable, str(GENERATOR), str(events), str(epcs_per_event), str(out), "--no-validate"]
    subprocess.run(command, check=True, capture_output=True)
    document: dict[str, Any] = json.loads(out.read_text())
    return document


@pytest.mark.parametrize(("events", "epcs_per_event"), [(40, 1), (6, 100)])
def test_the_benchmark_documents_hash_as_the_reference(tmp_path: Path, events: int, epcs_per_event: int) -> None:
    if not GENERATOR.exists():
        pytest.skip("the shared bench folder is not beside this clone")
    document = _bench_document(tmp_path, events, epcs_per_event)
    listed, context = events_of(document), document["@context"]
    assert [pre_hash_string(event, context) for event in listed] == reference_pre_hashes(document)
    expected = reference_hashes(document)
    assert [event_hash_id(event, context) for event in listed] == expected
    assert event_hash_ids(listed, context, processes=2) == expected


PRODUCTS = st.tuples(st.sampled_from("0123456789"), GTIN_BODIES, COMPANY_PREFIX_LENGTHS)
# Serial characters on which the reference and the general path agree: the plain ones of the fast path,
# and some that both percent-encode ("%2F" is a slash already escaped, as TDS writes it).
ESCAPED = ["!", "(", ")", "+", ",", ":", "%2F"]
ODD_SERIALS = st.lists(st.sampled_from([*string.ascii_letters, *string.digits, "-", "_", *ESCAPED]), min_size=1)
ANY_SERIALS = st.one_of(SERIALS, ODD_SERIALS.map(lambda chars: "".join(chars[:20])))
# Values that are no number and no vocabulary word (the reference swaps a bare string equal to the end
# of any CBV URI of the document for that URI, and raises on "inf").
WORDS = SERIALS.map(lambda text: "R" + text)


def _sgtin(product: tuple[str, str, int], serial: str) -> str:
    return _sgtin_forms(*product, serial)[0]


@st.composite
def event_times(draw: st.DrawFn) -> str:
    """eventTime as lines write it (milliseconds and their offset), and as they may (seconds only,
    microseconds, UTC as Z)."""
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)))
    if moment.microsecond >= 999_500:  # rounds up to the next second: the reference raises, then skips it
        moment = moment.replace(microsecond=0)
    offset = timezone(timedelta(minutes=draw(st.integers(-14 * 60, 14 * 60))))
    text = moment.replace(tzinfo=offset).isoformat(
        timespec=draw(st.sampled_from(["milliseconds", "milliseconds", "seconds", "microseconds"]))
    )
    return text.replace("+00:00", "Z") if draw(st.booleans()) else text


@st.composite
def line_events(draw: st.DrawFn) -> dict[str, Any]:
    """Commissioning or packing as a line reports it: one product (one prefix, the fast path) or a few."""
    products = draw(st.lists(PRODUCTS, min_size=1, max_size=3))
    serials = draw(st.lists(st.tuples(st.sampled_from(products), ANY_SERIALS), min_size=1, max_size=12))
    epcs = [_sgtin(product, serial) for product, serial in serials]
    time = draw(event_times())
    offset = "+00:00" if time.endswith("Z") else time[-6:]
    read_point: dict[str, Any] = {"id": "urn:epc:id:sgln:0614141.07346.1234"}
    if draw(st.booleans()):  # a user extension in the location: the general path
        read_point["example:room"] = draw(WORDS)
    event: dict[str, Any] = {"eventTime": time, "eventTimeZoneOffset": offset, "action": "ADD"}
    if draw(st.booleans()):
        event |= {"type": "ObjectEvent", "epcList": epcs, "bizStep": "commissioning", "disposition": "active"}
        event["ilmd"] = {"cbvmda:lotNumber": draw(WORDS), "cbvmda:itemExpirationDate": "2027-03-28"}
    else:
        event |= {"type": "AggregationEvent", "parentID": "urn:epc:id:sscc:0614141.1234567890", "childEPCs": epcs}
        event |= {"bizStep": "packing", "disposition": "in_progress"}
    event |= {"readPoint": read_point, "bizLocation": {"id": "urn:epc:id:sgln:0614141.07346.0"}}
    event["bizTransactionList"] = [
        {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:" + draw(WORDS)}
    ]
    return event


def _document(events: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"eventList": events}
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0", "epcisBody": body}


@settings(max_examples=60)
@given(st.lists(line_events(), min_size=1, max_size=4))
def test_generated_line_events_hash_as_the_reference(events: list[dict[str, Any]]) -> None:
    document = _document(events)
    assert [pre_hash_string(event, CONTEXT) for event in events] == reference_pre_hashes(document)
    assert event_hash_ids(events, CONTEXT) == reference_hashes(document)


@given(event_times())
# One local minute at several offsets (each its own UTC minute), and offsets that change the day and year.
@example("2025-03-03T08:00:30.250+01:00")
@example("2025-03-03T08:00:30.250-05:00")
@example("2025-03-03T08:00:59.999+05:30")
@example("2025-03-01T02:10:00.000+05:30")
@example("2024-12-31T23:59:59.999-00:30")
@example("2024-02-28T23:30:00.001-09:30")
def test_times_are_converted_as_the_reference_converts_them(text: str) -> None:
    assert canonical_time(text) == hash_generator._fix_time_stamp_format(text)


# --- the fast paths, against the general path ------------------------------------------------------
# Wider than what the reference can be asked about: anything an EPC list may hold must come out as
# the general path writes each of its EPCs.
ODD_CHARACTERS = ".~*%'!;=/: \n\t\u0663\u00e9"  # each one a reason for the general path (or "~": none)
WIDE_SERIALS = st.text(string.ascii_letters + string.digits + "-_" + ODD_CHARACTERS, max_size=24)
# A plain serial with one odd character in it: the near misses of the bulk path.
NEAR_SERIALS = st.tuples(SERIALS, st.sampled_from(ODD_CHARACTERS), st.text(string.digits, max_size=3)).map("".join)
NEAR_SGTINS = st.one_of(
    st.tuples(PRODUCTS, WIDE_SERIALS).map(lambda epc: _sgtin(*epc)),
    st.tuples(PRODUCTS, SERIALS).map(lambda epc: " " + _sgtin(*epc)),
    st.sampled_from(["urn:epc:id:sscc:0614141.1234567890", "urn:epc:id:sgtin:0614141.107346.*", "", 7]),
    st.sampled_from(["https://id.gs1.org/01/10614141073464/21/2018", "urn:epc:idpat:sgtin:0614141.107346.*"]),
)
ONE = "urn:epc:id:sgtin:0614141.107346."


@st.composite
def epc_lists(draw: st.DrawFn) -> list[Any]:
    """A plain SGTIN first (so the bulk path is tried), more of its product, and now and then a near
    miss of the same product or something else."""
    product = draw(PRODUCTS)
    plain = draw(st.lists(SERIALS.map(lambda serial: _sgtin(product, serial)), min_size=1, max_size=20))
    near = st.one_of(NEAR_SERIALS, WIDE_SERIALS).map(lambda serial: _sgtin(product, serial))
    odd: list[Any] = draw(st.lists(st.one_of(near, NEAR_SGTINS), max_size=3))
    return plain[:1] + draw(st.permutations(plain[1:] + odd))


@given(epc_lists())
@example([ONE + "1", ONE + "2.3"])  # a dot in a serial: no SGTIN, the URN is kept as written
@example([ONE + "1", ONE + "2\n" + ONE + "3"])  # an item holding a newline and the prefix again
@example([ONE + "1\n" + ONE + "2"])
@example([ONE + "1", ONE + "2" + ONE + "3"])
@example([ONE + "1", ONE[:-1], ONE])  # no serial at all; an empty serial
@example([ONE + "1", "urn:epc:id:sgtin:0614141.1073460.1", " " + ONE + "1", ONE + "1 "])
@example([ONE + "1", 1, None])
@example([])
def test_an_epc_list_is_written_as_each_of_its_epcs(epcs: list[Any]) -> None:
    ns = Namespaces(CONTEXT)
    parts = sorted(f"epc={text}" if (text := canonical_value(epc, ns)) else "epc" for epc in epcs)
    expected = "eventType=ObjectEvent" + ("epcList" + "".join(parts) if epcs else "")
    assert pre_hash_string({"type": "ObjectEvent", "epcList": epcs}, CONTEXT) == expected


def test_values_are_remembered_per_set_of_prefixes() -> None:
    event = {"type": "ObjectEvent", "ilmd": {"example:grade": "example:A"}}
    other = [CONTEXT[0], {"example": "http://other.example.com/"}]
    assert pre_hash_string(event, CONTEXT).endswith("{http://ns.example.com/epcis/}grade=http://ns.example.com/epcis/A")
    assert pre_hash_string(event, other).endswith("{http://other.example.com/}grade=http://other.example.com/A")
    assert pre_hash_string(event, CONTEXT[:1]).endswith("ilmdexample:grade=example:A")


# Values that repeat across fields and shapes: what is remembered for one field must not answer for another.
TRICKY: list[dict[str, Any]] = [
    {"type": "ObjectEvent", "action": "x", "bizStep": "x", "disposition": "x", "eventTimeZoneOffset": "x"},
    {"type": "ObjectEvent", "certificationInfo": "x", "readPoint": {"id": "x"}, "bizLocation": {"id": "x"}},
    {"type": "ObjectEvent", "ilmd": {"action": "x", "example:x": "x", "x": "x"}, "example:x": "x", "x": ["x"]},
    {"type": "ObjectEvent", "action": "active", "bizStep": "active", "disposition": "active"},
    {"type": "ObjectEvent", "readPoint": {"id": "active", "example:room": "active"}, "bizLocation": {"id": 7}},
    {"type": "ObjectEvent", "readPoint": "x"},
    {"type": "ObjectEvent", "action": 1, "bizStep": True, "disposition": 1.0, "ilmd": {"x": 1, "y": True}},
    {"type": "ObjectEvent", "action": "1", "bizStep": "True", "disposition": "1.0", "ilmd": {"x": "1", "y": "True"}},
]


def _written(event: dict[str, Any], ns: Namespaces) -> str:
    try:
        return pre_hash_string(event, ns)
    except Exception as error:  # a malformed event must fail the same way, remembered or not
        return type(error).__name__


def test_what_is_remembered_answers_only_for_its_own_field_and_value() -> None:
    warm = Namespaces(CONTEXT)
    for event in TRICKY + TRICKY:
        assert _written(event, warm) == _written(event, Namespaces(CONTEXT)), event


# --- a document over several processes -------------------------------------------------------------
def test_a_document_hashed_by_several_processes_is_hashed_as_event_by_event(tmp_path: Path) -> None:
    if not GENERATOR.exists():
        pytest.skip("the shared bench folder is not beside this clone")
    document = _bench_document(tmp_path, 25, 3)
    listed, context = events_of(document), document["@context"]
    one_by_one = [event_hash_id(event, context) for event in listed]
    for processes in (1, 2, 3, 4):
        assert event_hash_ids(listed, context, processes=processes) == one_by_one
    assert event_hash_ids(listed[:2], context, processes=4) == one_by_one[:2]  # no more processes than events
    assert event_hash_ids([], context, processes=2) == []


@pytest.mark.parametrize("where", [0, 1, 3])
def test_an_event_that_cannot_be_hashed_fails_the_document_as_it_fails_alone(where: int) -> None:
    """In this process's share (0) or in a child's (1, 3): the same error, raised here."""
    good = {"type": "ObjectEvent", "eventTime": "2025-03-03T08:00:00Z", "eventTimeZoneOffset": "+00:00"}
    bad = dict(good, eventTime="2025-13-03T08:00:00Z")
    with pytest.raises(ValueError, match="month"):
        event_hash_id(bad)
    events = [good] * 6
    events[where] = bad
    with pytest.raises(ValueError, match="month"):
        event_hash_ids(events, processes=2)


def test_a_process_running_other_threads_forks_only_when_asked() -> None:
    """fork copies the calling thread only: a lock another thread holds would stay taken in the child."""
    large = [{"type": "ObjectEvent", "epcList": ["urn:epc:id:sgtin:0614141.107346.1"] * 100}] * 100_000
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert _processes(large, None) == 1
        assert _processes(large, 2) == 2
    finally:
        stop.set()
        other.join()
    assert _processes(large[:1], 4) == 1
    assert _processes(large, None) <= len(os.sched_getaffinity(0))
