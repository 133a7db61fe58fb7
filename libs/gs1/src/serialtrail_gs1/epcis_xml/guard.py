"""What stands between a partner's bytes and the XML parser.

An EPCIS document needs no DTD. A DOCTYPE that declares entities (billion laughs) or names an
external DTD or entity (a local file, a URL) is refused *before* libxml2 sees it: the prolog
(everything before the root element) is read here and checked, so nothing is declared, expanded,
loaded or fetched. A bare `<!DOCTYPE name>` declares nothing and is accepted: several official
GS1 examples carry `<!DOCTYPE project>`.

The parser itself is configured the same way (no entity substitution, no DTD loading, no network,
libxml2's size limits kept), so a declaration that got past this check would still not be used."""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from typing import Protocol

from lxml import etree

from serialtrail_gs1.epcis_xml.errors import DOCTYPE, MALFORMED, EpcisXmlError

PROLOG_LIMIT = 256 * 1024  # comments and processing instructions before the root beyond this are not EPCIS
CHUNK = 64 * 1024

_UTF16 = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_UTF16_NO_BOM = ((b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"))
_DOCTYPE = re.compile(r"<!DOCTYPE\s+([^\s>\[]+)\s*(>|\[|SYSTEM\b|PUBLIC\b)?")
_ROOT = re.compile(r"<([^\s/>!?]+)(?=[\s/>])")


class Readable(Protocol):
    """A binary stream: an open file, a request body, a spooled upload."""

    def read(self, size: int = ..., /) -> bytes: ...


class _NeedMore(Exception):
    """The prolog continues past what has been read so far."""


def read_prolog(stream: Readable) -> tuple[bytes, str, int]:
    """Read up to the root element's start tag: the bytes read (to be parsed first), the root's
    qualified name as written (`epcis:EPCISDocument`) and its line. Refuses a dangerous DOCTYPE."""
    head = b""
    while True:
        chunk = stream.read(CHUNK)
        head += chunk
        try:
            root, line = _scan(_decode(head))
        except _NeedMore:
            if not chunk:
                raise EpcisXmlError("the document ends before its root element", rule=MALFORMED) from None
            if len(head) > PROLOG_LIMIT:
                raise EpcisXmlError(
                    f"more than {PROLOG_LIMIT // 1024} KiB before the root element", rule=MALFORMED
                ) from None
            continue
        return head, root, line


def _decode(head: bytes) -> str:
    """The head as text, enough to find markup: UTF-16 by its byte order mark (or its first `<?`);
    anything else is ASCII-compatible where markup is concerned, and Latin-1 never fails."""
    for marks in (_UTF16, _UTF16_NO_BOM):
        for mark, encoding in marks:
            if head.startswith(mark):
                body = head[len(mark) :] if marks is _UTF16 else head
                return codecs.getincrementaldecoder(encoding)(errors="replace").decode(body)
    return head.removeprefix(codecs.BOM_UTF8).decode("latin-1")


def _scan(text: str) -> tuple[str, int]:
    """Walk the prolog: XML declaration, comments, processing instructions, at most a bare DOCTYPE."""
    position = 0
    while True:
        position = _skip_space(text, position)
        if text.startswith("<?", position):
            position = _after(text, "?>", position)
        elif text.startswith("<!--", position):
            position = _after(text, "-->", position)
        elif text.startswith("<!DOCTYPE", position):
            position = _doctype(text, position)
        elif text.startswith("<!", position) or (position < len(text) and text[position] != "<"):
            _refuse_markup(text, position)
        else:
            match = _ROOT.match(text, position)
            if match is None:
                raise _NeedMore
            return match[1], _line(text, position)


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    if position >= len(text) - 1:
        raise _NeedMore
    return position


def _after(text: str, end: str, position: int) -> int:
    found = text.find(end, position)
    if found < 0:
        raise _NeedMore
    return found + len(end)


def _doctype(text: str, position: int) -> int:
    match = _DOCTYPE.match(text, position)
    if match is None or match[2] is None:
        if text.find(">", position) < 0:
            raise _NeedMore
        raise EpcisXmlError("a malformed DOCTYPE", rule=MALFORMED, line=_line(text, position))
    if match[2] == ">":
        return match.end()
    what = "declares entities or other markup" if match[2] == "[" else "names an external DTD"
    raise EpcisXmlError(
        f"the document's DOCTYPE {what}; EPCIS documents need no DTD, and this reader never loads one "
        "nor expands entities: remove the DOCTYPE",
        rule=DOCTYPE,
        line=_line(text, position),
    )


def _refuse_markup(text: str, position: int) -> None:
    raise EpcisXmlError(
        f"unexpected content before the root element: {text[position : position + 20]!r}",
        rule=MALFORMED,
        line=_line(text, position),
    )


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def pull_parser(tags: Sequence[str]) -> etree.XMLPullParser:
    """An incremental parser that reports only `tags` (the structure the reader walks), never
    substitutes entities, loads a DTD or touches the network, and keeps libxml2's limits."""
    return etree.XMLPullParser(
        events=("start", "end"),
        tag=list(tags),
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def refuse_declared_dtd(root: etree._Element) -> None:
    """Second line of defence, once the root is parsed: libxml2 saw no DTD worth the name (a bare
    `<!DOCTYPE name>` still gives an empty internal subset: that one is harmless)."""
    info = root.getroottree().docinfo
    subset = info.internalDTD
    declares = subset is not None and (
        any(True for _ in subset.iterentities()) or any(True for _ in subset.iterelements())
    )
    if declares or info.system_url or info.public_id:
        raise EpcisXmlError(
            "the document declares a DTD; this reader never loads one nor expands entities",
            rule=DOCTYPE,
            line=1,
        )
