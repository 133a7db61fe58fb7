"""Every output form of a serial request parses back with biip / epcpy."""

from __future__ import annotations

import pytest
from biip import parse
from biip.gs1_messages import GS1Message
from epcpy.epc_schemes.sgtin import SGTIN
from serial_issuance.domain.generation import line_parts
from serialtrail_contracts.serials import OutputForm


@pytest.mark.parametrize("form", list(OutputForm))
def test_output_forms_parse_back(form: OutputForm) -> None:
    gtin, serial = "09506000134352", "AB12CD34EF56"
    prefix, suffix = line_parts(form, gtin, 7, "https://id.gs1.org", ndjson=False)
    rendered = (prefix + serial.encode() + suffix).decode()
    if form is OutputForm.serial:
        assert rendered == serial
    elif form is OutputForm.sgtin_uri:
        assert SGTIN(rendered).gs1_element_string() == f"(01){gtin}(21){serial}"
    elif form is OutputForm.element_string:
        message = GS1Message.parse_hri(rendered)
        assert [e.value for e in message.element_strings] == [gtin, serial]
    else:
        link = parse(rendered).gs1_digital_link_uri
        assert link is not None
        assert [e.value for e in link.element_strings] == [gtin, serial]
