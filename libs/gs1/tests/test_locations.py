"""SGLN URIs as the Tag Data Standard writes them, cross-checked against epcpy's reading."""

from __future__ import annotations

import pytest
from epcpy.epc_schemes.sgln import SGLN
from serialtrail_gs1.locations import canonical_sgln, extension_problem, sgln_uri


def test_a_site_and_a_line_as_sglns() -> None:
    assert sgln_uri("9506000000008", 7) == "urn:epc:id:sgln:9506000.00000.0"
    assert sgln_uri("9506000000008", 7, "LINE-1") == "urn:epc:id:sgln:9506000.00000.LINE-1"
    assert sgln_uri("4000001000005", 9) == "urn:epc:id:sgln:400000100.000.0"
    assert SGLN(sgln_uri("9506000000008", 7, "L1")).gs1_element_string() == "(414)9506000000008(254)L1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("urn:epc:id:sgln:9506000.00000.LINE-1", ("urn:epc:id:sgln:9506000.00000.LINE-1", "9506000000008", "LINE-1")),
        ("URN:EPC:ID:SGLN:9506000.00000.LINE-1", ("urn:epc:id:sgln:9506000.00000.LINE-1", "9506000000008", "LINE-1")),
        ("urn:epc:id:sgln:9506000.0000.LINE-1", None),  # prefix + location reference must be 12 digits
        ("urn:epc:id:sgtin:9506000.013435.1", None),
        ("LINE-1", None),
    ],
)
def test_sgln_uris_are_read_in_their_canonical_form(text: str, expected: tuple[str, str, str] | None) -> None:
    assert canonical_sgln(text) == expected


@pytest.mark.parametrize("extension", ["0", "", "a b", "ä", "x" * 21, "A/B"])
def test_line_extensions_need_no_escaping_and_are_not_the_site(extension: str) -> None:
    assert extension_problem(extension) is not None
