from __future__ import annotations

import pytest
from epcpy.epc_schemes.sgtin import SGTIN
from epcpy.epc_schemes.sscc import SSCC
from hypothesis import given
from hypothesis import strategies as st
from serialtrail_gs1.identity import IdentifierError, Kind, plain_sgtins, quick_object
from serialtrail_gs1.keys import check_digit, sgtin_uri_prefix, sscc
from serialtrail_gs1.scan import parse_object_id

GTINS = st.text("0123456789", min_size=13, max_size=13).map(lambda body: body + str(check_digit(body)))
# GS1 AI encodable character set 82
CHARSET_82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
SERIALS = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=20)


@given(GTINS, st.integers(6, 12), SERIALS)
def test_every_sgtin_form_gives_one_key(gtin: str, prefix_length: int, serial: str) -> None:
    uri = sgtin_uri_prefix(gtin, prefix_length) + serial
    keys = {parse_object_id(form).key for form in (uri, f"(01){gtin}(21){serial}")}
    assert keys == {f"(01){gtin}(21){serial}"}
    assert SGTIN(uri).gs1_element_string() == parse_object_id(uri).key


@given(st.integers(0, 9), st.integers(6, 12), st.data())
def test_every_sscc_form_gives_one_key(extension: int, prefix_length: int, data: st.DataObject) -> None:
    prefix = data.draw(st.text("0123456789", min_size=prefix_length, max_size=prefix_length))
    code = sscc(extension, prefix, data.draw(st.integers(0, 10 ** (16 - prefix_length) - 1)))
    uri = f"urn:epc:id:sscc:{prefix}.{extension}{code[1 + prefix_length : 17]}"
    assert SSCC(uri).gs1_element_string() == f"(00){code}"
    parsed = {parse_object_id(form) for form in (uri, code, f"(00){code}")}
    assert len(parsed) == 1
    (only,) = parsed
    assert (only.kind, only.key) == (Kind.sscc, f"(00){code}")


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("395060000000000003", "check digit"),
        ("urn:epc:id:sgtin:9506000.013435.", "SGTIN"),
        ("(01)09506000134353(21)A1", "check digit"),
        ("(01)09506000134352(21)has space", "not a valid value of AI \\(21\\)"),
        ("urn:epc:id:sscc:9506000.123", "17 digits"),
        ("hello", "expected scanner data"),
    ],
)
def test_bad_identifiers_say_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(IdentifierError, match=complaint):
        parse_object_id(text)


@given(GTINS, st.text(CHARSET_82, min_size=1, max_size=20))
def test_digital_link_round_trips_every_serial_character(gtin: str, serial: str) -> None:
    parsed = parse_object_id(f"(01){gtin}(21){serial.replace('(', chr(92) + '(')}")  # "(" escaped, as GS1 HRI has it
    assert parsed.uri.startswith(f"https://id.gs1.org/01/{gtin}/21/")
    assert parse_object_id(parsed.uri) == parsed
    assert parse_object_id(parsed.uri.replace("https://id.gs1.org", "https://dl.example.com/any/prefix")) == parsed


def test_digital_link_sscc_and_query_strings() -> None:
    code = sscc(3, "9506000", 12345)
    assert parse_object_id(f"https://id.gs1.org/00/{code}").key == f"(00){code}"
    sgtin = parse_object_id("https://id.gs1.org/01/09506000134352/21/A%2FB?17=280630&10=L1")
    assert (sgtin.gtin, sgtin.serial) == ("09506000134352", "A/B")
    with pytest.raises(IdentifierError, match="check digit"):
        parse_object_id("https://id.gs1.org/00/395060000000000003")


PLAIN_SERIALS = st.text("0123456789ABCXYZabcxyz._-", min_size=1, max_size=20)


@given(st.lists(st.tuples(GTINS, PLAIN_SERIALS), min_size=1, max_size=50))
def test_element_strings_read_together_as_one_by_one(pairs: list[tuple[str, str]]) -> None:
    texts = [f"(01){gtin}(21){serial}" for gtin, serial in pairs]
    assert plain_sgtins(texts) == [parse_object_id(text) for text in texts]


@pytest.mark.parametrize(
    "odd_one",
    [
        "(01)09506000134353(21)S1",  # wrong check digit
        "(01)09506000134352(21)S1\n(01)09506000134352(21)S2",  # two in one text
        "(01)09506000134352(21)S1\n",  # a trailing line break
        "(01)09506000134352(21)S/1",  # a serial that needs encoding
        "(01)09506000134352(21)S1(10)LOT",  # attributes: the full parser keeps them
        "(00)195060000000000036",
        "(01)" + "".join(chr(0x0660 + int(d)) for d in "09506000134352") + "(21)S1",  # Arabic-Indic digits
        "(01)0950600013435(21)S1",  # a GTIN one digit short
        "(01)09506000134352(21)",  # no serial
    ],
)
def test_element_strings_are_read_together_only_when_every_one_is_plain(odd_one: str) -> None:
    """One text that is not a plain `(01)…(21)…` sends every text to the one-by-one readers,
    which name what is wrong with it."""
    assert plain_sgtins(["(01)09506000134352(21)A", odd_one, "(01)09506000134352(21)B"]) is None
    assert plain_sgtins([]) is None


@pytest.mark.parametrize(
    "form",
    [
        "(01)09506000134352(21)S1",
        "(00)195060000000000036",
        "https://id.gs1.org/01/09506000134352/21/S1",
        "https://id.gs1.org/00/195060000000000036",
        "urn:epc:id:sgtin:9506000.013435.S1",
        "urn:epc:id:sscc:9506000.1000000003",
        "195060000000000036",
    ],
)
@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_a_line_break_a_scanner_appends_is_never_part_of_an_id(form: str, ending: str) -> None:
    """The quick reader leaves such a text to the full parser, which reads the id without it."""
    try:
        quick = quick_object(form + ending)
    except IdentifierError:
        quick = None
    assert quick is None or ("\n" not in quick[0].uri and "\r" not in quick[0].uri)
    assert parse_object_id(form + ending) == parse_object_id(form)
