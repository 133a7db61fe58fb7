"""Locations as EPCIS names them: SGLN URIs (`urn:epc:id:sgln:<company prefix>.<location
reference>.<extension>`, TDS §6.3.3). A site is its GLN (extension `0`); a line or read
point is its site's GLN with a GLN extension (AI 254). Not a hot path: `epcpy` does the
conversions, so escaping and the company prefix split follow the Tag Data Standard."""

from __future__ import annotations

import re

from epcpy.epc_schemes.sgln import SGLN
from epcpy.utils.common import ConvertException

SGLN_PREFIX = "urn:epc:id:sgln:"
# AI 254 allows character set 82; line extensions are kept to what needs no escaping anywhere
# (URIs, file names, scanner keyboards), and `0` is the site itself.
_EXTENSION = re.compile(r"^[0-9A-Za-z-]{1,20}\Z")
EXTENSION_RULE = "1 to 20 letters, digits or '-' (GS1 AI 254), not '0' (the site itself)"


def extension_problem(extension: str) -> str | None:
    if not _EXTENSION.match(extension) or extension == "0":
        return f"a GLN extension is {EXTENSION_RULE}"
    return None


def sgln_uri(gln: str, company_prefix_length: int, extension: str = "0") -> str:
    """The SGLN URI of a GLN (13 digits, valid check digit) and extension."""
    element_string = f"(414){gln}(254){extension}"
    return str(SGLN.from_gs1_element_string(element_string, company_prefix_length=company_prefix_length).epc_uri)


def canonical_sgln(text: str) -> tuple[str, str, str] | None:
    """(URI as TDS writes it, GLN, extension) of an SGLN pure identity URI, or None when the
    text is not one (wrong scheme, prefix + location reference not 12 digits). The GLN's check
    digit is computed, as the URI carries none."""
    if text[: len(SGLN_PREFIX)].lower() != SGLN_PREFIX:
        return None
    text = SGLN_PREFIX + text[len(SGLN_PREFIX) :]  # URN scheme and namespace are case-insensitive (RFC 8141)
    try:
        parsed = SGLN(text)
        element_string = parsed.gs1_element_string()
    except (ConvertException, ValueError):
        return None
    match = re.fullmatch(r"\(414\)(\d{13})\(254\)(.+)", element_string)
    if match is None:
        return None
    return str(parsed.epc_uri), match.group(1), match.group(2)
