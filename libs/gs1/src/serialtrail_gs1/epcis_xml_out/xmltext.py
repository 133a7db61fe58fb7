"""XML text as events are written: as text, not as lxml trees (building an element costs about
forty times what formatting it does, and a query answer names tens of thousands of EPCs). So
escaping is done here, once, for everything written: `&`, `<`, `>` (and in attributes `"` and
the whitespace a parser would normalise) become references, and a character XML 1.0 cannot hold
(a control character, an unpaired surrogate) is refused. Names are checked where they are made
(`names`); the tests parse and validate every document written."""

from __future__ import annotations

import re

from serialtrail_gs1.epcis_xml_out.errors import NotWritable

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_PLAIN_TEXT = re.compile("[^&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]*")
_PLAIN_ATTRIBUTE = re.compile('[^&<>"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]*')
_TEXT_REFERENCES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
_ATTRIBUTE_REFERENCES = {**_TEXT_REFERENCES, '"': "&quot;", "\t": "&#9;", "\n": "&#10;"}


def escaped(content: str, where: str) -> str:
    """Text content as XML writes it."""
    if _PLAIN_TEXT.fullmatch(content):  # the usual identifier or word: nothing to do
        return content
    _refuse_non_xml(content, where)
    return "".join(_TEXT_REFERENCES.get(c, c) for c in content)


def quoted(content: str, where: str) -> str:
    """An attribute value, with its quotes."""
    if _PLAIN_ATTRIBUTE.fullmatch(content):
        return f'"{content}"'
    _refuse_non_xml(content, where)
    return '"' + "".join(_ATTRIBUTE_REFERENCES.get(c, c) for c in content) + '"'


def comment(content: str, where: str) -> str:
    """An XML comment: "--" cannot appear in one, a space keeps the words apart."""
    _refuse_non_xml(content, where)
    return "<!-- " + content.replace("--", "- -") + " -->"


def _refuse_non_xml(content: str, where: str) -> None:
    found = _NOT_XML.search(content)
    if found is not None:
        raise NotWritable(where, f"character U+{ord(found[0]):04X} cannot appear in XML 1.0")
