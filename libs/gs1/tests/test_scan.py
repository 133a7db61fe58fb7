"""The line data parser against GS1's rules: every form a line sends, each refusal naming the
AI and the rule, the ambiguous HRI that used to be mis-read, the fast path against the full
parser, and generated element strings against `biip`."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

import biip
import pytest
from hypothesis import given
from hypothesis import strategies as st
from serialtrail_gs1.keys import check_digit, sgtin_uri_prefix
from serialtrail_gs1.scan import GS, ScanError, parse_object_id, parse_scan

G = "09506000134352"
SSCC = "095060000000000015"
GTINS = st.text("0123456789", min_size=13, max_size=13).map(lambda body: body + str(check_digit(body)))
# GS1 character set 82, less "(" (HRI needs it escaped; tested on its own)
CSET82 = "!\"%&')*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
VALUES = st.text(CSET82, min_size=1, max_size=20)
EXPIRIES = st.dates(date(2001, 1, 1), date(2049, 12, 31)).map(lambda d: d.strftime("%y%m%d"))


@pytest.mark.parametrize(
    ("text", "key", "attributes", "form"),
    [
        (f"]d201{G}1727123110ABC{GS}21XYZ123", f"(01){G}(21)XYZ123", {"17": "271231", "10": "ABC"}, "GS1 DataMatrix"),
        (f"]d2{GS}01{G}21XYZ{GS}10L1{GS}17271231", f"(01){G}(21)XYZ", {"10": "L1", "17": "271231"}, "GS1 DataMatrix"),
        (f"]d221S1{GS}01{G}", f"(01){G}(21)S1", {}, "GS1 DataMatrix"),
        (f"]C100{SSCC}", f"(00){SSCC}", {}, "GS1-128"),
        (f"]Q301{G}21A{GS}714AB1234567", f"(01){G}(21)A", {"714": "AB1234567"}, "GS1 QR Code"),
        (f"]d1https://id.gs1.org/01/{G}/21/S1", f"(01){G}(21)S1", {}, "GS1 Digital Link"),
        (f"(01){G}(17)271231(10)ABC(21)12345", f"(01){G}(21)12345", {"17": "271231", "10": "ABC"}, "HRI"),
        (f"(21)12345(01){G}", f"(01){G}(21)12345", {}, "HRI"),
        (f"(01){G}(21)A\\(B", f"(01){G}(21)A(B", {}, "HRI"),
        (f"(01){G}(21)S(710)PZN123", f"(01){G}(21)S", {"710": "PZN123"}, "HRI"),
        (f"01{G}21ABC{GS}17271231", f"(01){G}(21)ABC", {"17": "271231"}, "element string"),
        (
            f"https://example.com/x/01/{G}/10/L1/21/S1?17=271231",
            f"(01){G}(21)S1",
            {"10": "L1", "17": "271231"},
            "GS1 Digital Link",
        ),
        (f"HTTPS://ID.GS1.ORG/01/{G}/21/S1", f"(01){G}(21)S1", {}, "GS1 Digital Link"),
        ("urn:epc:id:sgtin:9506000.013435.A%2FB", f"(01){G}(21)A/B", {}, "EPC URI"),
        ("urn:epc:tag:sgtin-96:3.9506000.013435.6789", f"(01){G}(21)6789", {}, "EPC tag URI"),
        ("urn:epc:tag:sgtin-198:3.9506000.013435.AB%2F1", f"(01){G}(21)AB/1", {}, "EPC tag URI"),
        ("urn:epc:tag:sscc-96:3.9506000.0000000001", f"(00){SSCC}", {}, "EPC tag URI"),
        (SSCC, f"(00){SSCC}", {}, "SSCC"),
        (f"(00){SSCC}\r\n", f"(00){SSCC}", {}, "HRI"),
    ],
)
def test_every_form_a_line_sends_is_read(text: str, key: str, attributes: dict[str, str], form: str) -> None:
    scan = parse_scan(text)
    assert (scan.object.key, dict(scan.attributes), scan.form) == (key, attributes, form)


@pytest.mark.parametrize(
    ("text", "serial", "attribute"),
    [
        (f"(01){G}(21)12345(17)271231", "12345", ("17", "271231")),
        (f"(01){G}(21)12345(10)L7", "12345", ("10", "L7")),
        (f"(01){G}(21)12345(714)AB1234567", "12345", ("714", "AB1234567")),
    ],
)
def test_an_ai_after_the_serial_in_hri_is_not_read_into_the_serial(
    text: str, serial: str, attribute: tuple[str, str]
) -> None:
    """The mis-read the line integrator found: serial `12345(17)271231` was recorded."""
    scan = parse_scan(text)
    assert scan.object.serial == serial
    assert dict(scan.attributes) == dict([attribute])
    assert parse_object_id(text).serial == serial


def test_expiry_day_00_is_the_last_day_of_the_month() -> None:
    assert parse_scan(f"(01){G}(17)280200(21)S").expiry == date(2028, 2, 29)
    assert parse_scan(f"(01){G}(17)271231(21)S").expiry == date(2027, 12, 31)


@pytest.mark.parametrize(
    ("text", "rule", "ai"),
    [
        (f"(01){G}(21)A(B", "gs1-ambiguous", "21"),
        (f"(01){G}(21)A(00){SSCC}", "gs1-ambiguous", "00"),
        (f"(01){G}(21)A(1234)X", "gs1-unknown-ai", "1234"),
        (f"01{G}21A{GS}0009", "gs1-format", "00"),
        ("(01)09506000134353(21)A", "gs1-check-digit", "01"),
        ("(00)095060000000000016", "gs1-check-digit", "00"),
        ("https://id.gs1.org/01/09506000134353/21/A", "gs1-check-digit", "01"),
        (f"(01){G}(21)A(17)271299", "gs1-format", "17"),
        (f"(01){G}(21)A(17)270231", "gs1-date", "17"),
        (f"]d201{G}1727023110A{GS}21B", "gs1-date", "17"),
        (f"(01){G}(21)A(02){G}", "gs1-ai-excludes", "02"),
        (f"(01){G}(21)A(37)5", "gs1-ai-excludes", "01"),
        (f"(00){SSCC}(21)A", "gs1-ai-requires", "21"),
        (f"(00){SSCC}(714)A", "gs1-ai-requires", "714"),
        (f"(01){G}(21)A(21)B", "gs1-ai-repeated", "21"),
        (f"(01){G}(10)L1", "gs1-instance-key", None),
        (f"(01){G}(21)", "gs1-format", "21"),
        (f"]d101{G}21A", "gs1-symbology", None),
        (f"https://id.gs1.org/01/{G}/21/X/10/L", "gs1-digital-link", None),
        ("urn:epc:id:sgtin:9506000.013435.", "epc-uri", None),
        ("urn:epc:tag:sgtin-96:3.9506000.013435.ABC", "epc-uri", "21"),
        ("urn:epc:tag:sgtin-96:3.9506000.013435.274877906944", "epc-uri", "21"),
        ("hello", "gs1-syntax", None),
        ("", "gs1-syntax", None),
    ],
)
def test_refusals_name_the_rule_and_the_ai(text: str, rule: str, ai: str | None) -> None:
    with pytest.raises(ScanError) as refused:
        parse_scan(text)
    assert (refused.value.rule.name, refused.value.ai) == (rule, ai), str(refused.value)


@given(GTINS, EXPIRIES, VALUES, VALUES)
def test_the_fast_path_agrees_with_the_full_parser(gtin: str, expiry: str, lot: str, serial: str) -> None:
    fast = parse_scan(f"]d201{gtin}17{expiry}10{lot}{GS}21{serial}")
    full = parse_scan(f"]d201{gtin}{GS}21{serial}{GS}17{expiry}10{lot}")  # another order: never the fast path
    assert (fast.object, dict(fast.attributes), fast.form) == (full.object, dict(full.attributes), full.form)


@given(GTINS, st.permutations(["17", "10", "21", "714"]), EXPIRIES, VALUES, VALUES, VALUES)
def test_generated_element_strings_read_as_biip_reads_them(
    gtin: str, order: list[str], expiry: str, lot: str, serial: str, nhrn: str
) -> None:
    values = {"01": gtin, "17": expiry, "10": lot, "21": serial, "714": nhrn}
    body = "01" + gtin + "".join(f"{ai}{values[ai]}{'' if ai == '17' else GS}" for ai in order)
    scan = parse_scan("]d2" + body)
    elements = biip.parse("]d2" + body).gs1_message.element_strings  # type: ignore[union-attr]
    assert {e.ai.ai: e.value for e in elements} == values
    assert (scan.object.gtin, scan.object.serial) == (gtin, serial)
    assert dict(scan.attributes) == {"17": expiry, "10": lot, "714": nhrn}


@given(GTINS, st.integers(6, 12), st.text(CSET82 + "(", min_size=1, max_size=20))
def test_every_form_of_an_sgtin_parses_back_to_its_key(gtin: str, prefix_length: int, serial: str) -> None:
    hri = f"(01){gtin}(21){serial.replace('(', chr(92) + '(')}"  # GS1's bracketed syntax escapes "("
    forms = [
        hri,
        f"]d201{gtin}21{serial}",
        f"01{gtin}21{serial}",
        sgtin_uri_prefix(gtin, prefix_length) + quote(serial, safe=""),
    ]
    scans = [parse_scan(form) for form in forms]
    assert {scan.object.key for scan in scans} == {f"(01){gtin}(21){serial}"}
    assert parse_scan(scans[0].object.uri).object == scans[0].object
