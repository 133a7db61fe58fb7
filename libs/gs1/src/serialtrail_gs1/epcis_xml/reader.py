"""Streaming: an EPCIS XML document of any size is read in chunks, each event converted, validated
and then dropped from the tree, so memory holds the header and one event, never the document.

A problem with one event (an XSD violation, an event type with no JSON-LD form) is *yielded* in the
event's place and reading goes on: a capture job decides what it means (rollback or proceed). A
problem with the document itself (not XML, a DTD, the wrong root) is *raised*: nothing after it
can be read."""

from __future__ import annotations

import copy
import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from lxml import etree

from serialtrail_gs1.epcis_xml import errors, guard, schemas
from serialtrail_gs1.epcis_xml.errors import EpcisXmlError
from serialtrail_gs1.epcis_xml.events import EventConverter, Unrepresentable
from serialtrail_gs1.epcis_xml.guard import Readable
from serialtrail_gs1.epcis_xml.header import DocumentHeader, root_header, vocabularies, with_epcis_header
from serialtrail_gs1.epcis_xml.schemas import V1_2, Problem, Schemas, Version
from serialtrail_gs1.epcis_xml.values import Prefixes, UnusableNamespace, tag_of

Source = str | os.PathLike[str] | bytes | Readable

_ROOTS = ("EPCISDocument", "EPCISMasterDataDocument")
_EVENT_TAGS = frozenset(schemas.ALL_EVENT_TYPES)
# The only elements the parser reports: the structure walked here. Everything inside an event
# is read from the finished event element, not event by event (100 EPCs make no Python calls).
_TAGS = (*(f"{{*}}{root}" for root in _ROOTS), "EPCISHeader", "EventList", "VocabularyList", "extension")
_TAGS += tuple(_EVENT_TAGS)
_LXML_POSITION = re.compile(r",? line \d+, column \d+$")


@dataclass(frozen=True, slots=True)
class XmlEvent:
    """One event read: its position in the document's event list (from 0), the line its element
    starts on, the EPCIS 2.0 JSON-LD event, and the @context its `prefix:` keys need."""

    index: int
    line: int | None
    event: dict[str, Any]
    context: list[Any]


@dataclass(frozen=True)
class EpcisXmlDocument:
    """A whole document read at once (`read_epcis_xml`)."""

    header: DocumentHeader
    events: list[dict[str, Any]]
    context: list[Any]


class EpcisXmlReader:
    """Iterate over the events of one EPCIS 1.2 or 2.0 XML document (or the master data of an
    EPCISMasterDataDocument), validating against the official XSD unless `validate=False`.

    `header` is known once the document's header has been read, that is before the first event
    is yielded; `context` is the @context of every event read so far."""

    def __init__(self, source: Source, *, validate: bool = True) -> None:
        self._source = source
        self._validate = validate
        self._converter = EventConverter(Prefixes())
        self._version: Version | None = None
        self._schemas: Schemas | None = None
        self._master_data_document = False
        self._root: etree._Element | None = None
        self._header: DocumentHeader | None = None
        self._header_element: etree._Element | None = None
        self._event_list: etree._Element | None = None
        self._position = 0
        self._inside_event = False

    @property
    def header(self) -> DocumentHeader | None:
        return self._header

    @property
    def context(self) -> list[Any]:
        return self._converter.prefixes.context

    def __iter__(self) -> Iterator[XmlEvent | EpcisXmlError]:
        with _opened(self._source) as stream:
            head, root_name, root_line = guard.read_prolog(stream)
            _check_root_name(root_name, root_line)
            parser = guard.pull_parser(_TAGS)
            chunk = head
            while chunk:
                yield from self._feed(parser, chunk)
                chunk = stream.read(guard.CHUNK)
            yield from self._feed(parser, None)
        yield from self._check_rest()

    # --- parsing ---------------------------------------------------------------------------------------
    def _feed(self, parser: etree.XMLPullParser, chunk: bytes | None) -> Iterator[XmlEvent | EpcisXmlError]:
        """One chunk (None: the end). On a syntax error, what was read before it is handled first, so
        the error names the event it is in."""
        try:
            if chunk is None:
                parser.close()
            else:
                parser.feed(chunk)
        except etree.XMLSyntaxError as error:
            yield from self._drain(parser)
            # The exception's own message: its error_log may hold entries of earlier parses in this thread.
            raise self._malformed(str(error.msg), error.lineno) from None
        yield from self._drain(parser)
        if chunk is not None and (stopped := _last_error(parser.feed_error_log)) is not None:
            # lxml, told not to substitute entities, lets feed() pass over an undeclared entity
            # (`&xxe;`) while libxml2 stops there: nothing more would be read, so stop now.
            raise self._malformed(stopped.message, stopped.line)

    def _drain(self, parser: etree.XMLPullParser) -> Iterator[XmlEvent | EpcisXmlError]:
        for action, element in parser.read_events():
            if action == "start":
                yield from self._start(element)
            else:
                yield from self._end(element)

    def _malformed(self, message: str, line: int | None) -> EpcisXmlError:
        index = self._position if self._inside_event else None
        text = f"not well-formed XML: {_LXML_POSITION.sub('', message.strip())}"
        return EpcisXmlError(text, rule=errors.MALFORMED, event_index=index, line=line or None)

    def _start(self, element: etree._Element) -> Iterator[XmlEvent | EpcisXmlError]:
        if self._root is None:
            self._on_root(element)
        elif element.tag == "EventList" and self._in_body(element):
            yield from self._on_event_list(element)
        elif element.tag in _EVENT_TAGS and self._depth(element) is not None:
            self._inside_event = True

    def _end(self, element: etree._Element) -> Iterator[XmlEvent | EpcisXmlError]:
        tag = element.tag
        if tag in _EVENT_TAGS:
            depth = self._depth(element)
            if depth is not None:
                yield from self._on_event(element, depth)
        elif tag == "extension":
            if self._depth(element) is not None:
                yield from self._sweep_children(element)
        elif tag == "EventList" and element is self._event_list:
            yield from self._sweep_children(element)
        elif tag == "EPCISHeader" and element.getparent() is self._root:
            self._on_header(element)
        elif tag == "VocabularyList" and self._master_data_document and self._in_body(element):
            assert self._header is not None
            self._header = replace(self._header, master_data=vocabularies(element, self._converter))

    # --- the document's parts ---------------------------------------------------------------------------
    def _on_root(self, root: etree._Element) -> None:
        qname = etree.QName(root)
        known = schemas.VERSIONS if qname.localname == "EPCISDocument" else schemas.MASTER_DATA_VERSIONS
        version = known.get(qname.namespace or "")
        if version is None:
            raise EpcisXmlError(
                f"the root element <{qname.localname}> is in namespace {qname.namespace!r}, which is no "
                "EPCIS 1.2 or 2.0 namespace",
                rule=errors.ROOT,
                line=root.sourceline,
            )
        _check_schema_version(root, version)
        guard.refuse_declared_dtd(root)
        self._root, self._version = root, version
        self._master_data_document = qname.localname == "EPCISMasterDataDocument"
        self._schemas = schemas.for_version(version) if self._validate else None
        self._header = root_header(version.name, root)

    def _on_header(self, element: etree._Element) -> None:
        assert self._header is not None
        try:
            self._header = with_epcis_header(self._header, element, self._converter)
        except UnusableNamespace as error:
            raise EpcisXmlError(str(error), rule=errors.UNSUPPORTED, line=element.sourceline) from None
        self._header_element = element

    def _on_event_list(self, element: etree._Element) -> Iterator[EpcisXmlError]:
        """The events start: the root and the header are complete, so they are checked now, and
        the header leaves the tree (its data is in `header`)."""
        self._event_list = element
        if self._schemas is not None:
            yield from self._problems(self._schemas.check(self._schemas.document, self._opening()), None)
        header, self._header_element = self._header_element, None
        if header is not None and (root := header.getparent()) is not None:
            root.remove(header)

    def _opening(self) -> etree._Element:
        """A copy of the document as far as the header, with an empty body: what the XSD says of
        the root and the header alone."""
        assert self._root is not None
        try:
            shell = etree.Element(self._root.tag, attrib=dict(self._root.attrib), nsmap=self._root.nsmap)
        except ValueError as error:  # lxml reads a namespace with a space; it will not write one
            message = f"a namespace the document declares is not a URI ({error})"
            raise EpcisXmlError(message, rule=errors.MALFORMED, line=self._root.sourceline) from None
        if self._header_element is not None:
            shell.append(copy.deepcopy(self._header_element))
        etree.SubElement(shell, "EPCISBody")
        return shell

    def _check_rest(self) -> Iterator[EpcisXmlError]:
        """Everything but the events (they were checked one by one and are gone from the tree)."""
        if self._schemas is None or self._root is None:
            return
        schema = self._schemas.master_data if self._master_data_document else self._schemas.document
        yield from self._problems(self._schemas.check(schema, self._root), None)

    # --- events --------------------------------------------------------------------------------------------
    def _on_event(self, element: etree._Element, depth: int) -> Iterator[XmlEvent | EpcisXmlError]:
        yield from self._sweep_before(element)
        index = self._position
        self._position += 1
        self._inside_event = False
        yield self._read_event(element, depth, index)
        element.clear()

    def _read_event(self, element: etree._Element, depth: int, index: int) -> XmlEvent | EpcisXmlError:
        problem = self._event_problem(element, depth, index)
        if problem is not None:
            return problem
        try:
            event = self._converter.event(element)
        except Unrepresentable as error:
            return EpcisXmlError(str(error), rule=errors.UNSUPPORTED, event_index=index, line=error.line)
        except UnusableNamespace as error:
            return EpcisXmlError(str(error), rule=errors.UNSUPPORTED, event_index=index, line=element.sourceline)
        return XmlEvent(index, element.sourceline, event, self._converter.prefixes.context)

    def _event_problem(self, element: etree._Element, depth: int, index: int) -> EpcisXmlError | None:
        version = self._version
        assert version is not None
        tag = tag_of(element)
        if version is V1_2 and depth == 2:
            allowed: tuple[str, ...] = tuple(_EVENT_TAGS)  # 1.2's innermost wrapper: any event, unchecked by its XSD
        elif depth == 0:
            allowed = version.event_types
        else:
            allowed = ("TransformationEvent",) if version is V1_2 else ()
        if tag not in allowed:
            where = "directly in" if depth == 0 else f"{depth} <extension> deep in"
            message = f"<{tag}> is not allowed {where} the EventList of an EPCIS {version.name} document"
            return EpcisXmlError(message, rule=errors.XSD, event_index=index, line=element.sourceline)
        if tag == "QuantityEvent":
            message = "QuantityEvent (deprecated by EPCIS 1.1, removed in 2.0) has no EPCIS 2.0 form"
            return EpcisXmlError(message, rule=errors.UNSUPPORTED, event_index=index, line=element.sourceline)
        if self._schemas is None or (version is V1_2 and depth == 2):
            return None
        problems = self._schemas.check(self._schemas.events, element)
        return _event_error(problems, index, element.sourceline) if problems else None

    def _depth(self, element: etree._Element) -> int | None:
        """How many <extension> wrappers stand between `element` and the EventList (1.2 uses up to
        two); None when the element is not where events are."""
        if self._event_list is None:
            return None
        depth, parent = 0, element.getparent()
        while parent is not None and parent is not self._event_list:
            if parent.tag != "extension" or depth == 2:
                return None
            depth, parent = depth + 1, parent.getparent()
        return depth if parent is not None else None

    def _in_body(self, element: etree._Element) -> bool:
        body = element.getparent()
        return body is not None and body.tag == "EPCISBody" and body.getparent() is self._root

    # --- memory: what has been read leaves the tree -------------------------------------------------------
    def _sweep_before(self, element: etree._Element) -> Iterator[EpcisXmlError]:
        """Drop what precedes `element` among its siblings: events and wrappers already read, and
        anything else, which is reported in its place first."""
        parent = element.getparent()
        assert parent is not None
        while (previous := element.getprevious()) is not None:
            yield from self._unread(previous, parent)
            parent.remove(previous)

    def _sweep_children(self, element: etree._Element) -> Iterator[EpcisXmlError]:
        for child in list(element):
            yield from self._unread(child, element)
            element.remove(child)

    def _unread(self, element: etree._Element, parent: etree._Element) -> Iterator[EpcisXmlError]:
        """An element in the event list that no handler read: not an event this reader knows."""
        if not isinstance(element.tag, str) or element.tag in _EVENT_TAGS or element.tag == "extension":
            return
        index = self._position
        self._position += 1
        name = etree.QName(element)
        if parent is self._event_list:
            message = f"<{name.localname}> is not allowed in an EventList"
            yield EpcisXmlError(message, rule=errors.XSD, event_index=index, line=element.sourceline)
        else:
            message = f"<{name.text}> is no EPCIS event type; it has no EPCIS 2.0 JSON-LD form"
            yield EpcisXmlError(message, rule=errors.UNSUPPORTED, event_index=index, line=element.sourceline)

    def _problems(self, problems: list[Problem], index: int | None) -> Iterator[EpcisXmlError]:
        for problem in problems:
            line = problem.line or (self._root.sourceline if self._root is not None else None)
            yield EpcisXmlError(problem.message, rule=errors.XSD, event_index=index, line=line)


def _last_error(log: etree._ListErrorLog) -> etree._LogEntry | None:
    return next((entry for entry in reversed(log) if entry.level >= etree.ErrorLevels.ERROR), None)


def _event_error(problems: list[Problem], index: int, line: int | None) -> EpcisXmlError:
    """All of an event's XSD problems in one error, located at the first."""
    first = problems[0]
    message = first.message
    if len(problems) > 1:
        message += " (and: " + "; ".join(p.message for p in problems[1:]) + ")"
    return EpcisXmlError(message, rule=errors.XSD, event_index=index, line=first.line or line)


def _check_root_name(qualified_name: str, line: int) -> None:
    local = qualified_name.rpartition(":")[2]
    if local not in _ROOTS:
        raise EpcisXmlError(
            f"the root element is <{qualified_name}>: an EPCIS document to read is an EPCISDocument "
            "(EPCIS 1.2 or 2.0) or an EPCISMasterDataDocument",
            rule=errors.ROOT,
            line=line,
        )


def _check_schema_version(root: etree._Element, version: Version) -> None:
    written = root.get("schemaVersion")
    if written is not None and written.split(".")[0] != version.name.split(".")[0]:
        raise EpcisXmlError(
            f"schemaVersion {written!r} does not match the root's namespace ({version.namespace}, "
            f"EPCIS {version.name})",
            rule=errors.ROOT,
            line=root.sourceline,
        )


@contextmanager
def _opened(source: Source) -> Iterator[Readable]:
    if isinstance(source, bytes):
        yield io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            yield stream
    else:
        yield source


def read_epcis_xml(source: Source, *, validate: bool = True) -> EpcisXmlDocument:
    """A whole document in memory, the first problem raised: for small documents and tests. A
    capture service iterates `EpcisXmlReader` instead, to report every event's problem."""
    reader = EpcisXmlReader(source, validate=validate)
    events = []
    for item in reader:
        if isinstance(item, EpcisXmlError):
            raise item
        events.append(item.event)
    assert reader.header is not None
    return EpcisXmlDocument(reader.header, events, reader.context)
