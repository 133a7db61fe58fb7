"""Our hot-path GS1 formatting cross-checked against biip and epcpy."""

from __future__ import annotations

from biip import parse
from epcpy.epc_schemes.sgtin import SGTIN
from hypothesis import given
from hypothesis import strategies as st
from serialtrail_gs1.keys import check_digit, gtin_problem, parse_sgtin_uri, sgtin_uri_prefix, sscc

GTINS = st.text("0123456789", min_size=13, max_size=13).map(lambda body: body + str(check_digit(body)))


@given(GTINS)
def test_gtin_check_digit_agrees_with_biip(gtin: str) -> None:
    assert gtin_problem(gtin) is None
    parsed = parse(f"01{gtin}").gs1_message
    assert parsed is not None
    assert parsed.element_strings[0].gtin is not None


def test_wrong_check_digit_is_named() -> None:
    assert gtin_problem("09506000134353") == "check digit is wrong: expected 2, got 3"
    assert gtin_problem("9506000134352") is not None


@given(GTINS, st.integers(6, 12), st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=20))
def test_sgtin_uri_agrees_with_epcpy(gtin: str, prefix_length: int, serial: str) -> None:
    uri = sgtin_uri_prefix(gtin, prefix_length) + serial
    epc = SGTIN(uri)
    assert epc.gtin() == gtin
    assert epc.gs1_element_string() == f"(01){gtin}(21){serial}"
    assert parse_sgtin_uri(uri) == (gtin, serial)


@given(
    st.integers(0, 9),
    st.integers(6, 12).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)),
    st.data(),
)
def test_sscc_agrees_with_biip(extension: int, prefix: str, data: st.DataObject) -> None:
    reference = data.draw(st.integers(0, 10 ** (16 - len(prefix)) - 1))
    code = sscc(extension, prefix, reference)
    assert len(code) == 18
    parsed = parse(f"00{code}").gs1_message
    assert parsed is not None
    found = parsed.element_strings[0].sscc
    assert found is not None
    assert found.value == code
