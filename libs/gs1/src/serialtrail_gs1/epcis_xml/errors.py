"""The one error type of the XML reader: where (event position, line) and what (message, rule)."""

from __future__ import annotations

# Stable rule names: a capture job reports them per event, a client can act on them.
DOCTYPE = "xml-doctype"  # a DOCTYPE with entity declarations or an external DTD: refused, never expanded
MALFORMED = "xml-malformed"  # not well-formed XML (or not XML at all)
ROOT = "xml-root"  # not an EPCIS document of a version this reader knows
XSD = "xsd"  # valid XML, but not valid against the official EPCIS XSD
UNSUPPORTED = "xml-unsupported"  # valid, but has no EPCIS 2.0 JSON-LD form (QuantityEvent, vendor event types)


class EpcisXmlError(ValueError):
    """One problem in an EPCIS XML document.

    `event_index` is the event's position in the document's event list, from 0 (the JSON-LD
    `eventList[i]`), None when the problem is outside any event (the header, the document itself);
    `line` is the line of the XML text, None when the parser could not tell."""

    def __init__(self, message: str, *, rule: str, event_index: int | None = None, line: int | None = None) -> None:
        self.message = message
        self.rule = rule
        self.event_index = event_index
        self.line = line
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.event_index is not None:
            where.append(f"event {self.event_index + 1} (eventList[{self.event_index}])")
        if self.line is not None:
            where.append(f"line {self.line}")
        prefix = ", ".join(where) + ": " if where else ""
        return f"{prefix}{self.message} [{self.rule}]"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EpcisXmlError):
            return NotImplemented
        return (self.message, self.rule, self.event_index, self.line) == (
            other.message,
            other.rule,
            other.event_index,
            other.line,
        )

    def __hash__(self) -> int:
        return hash((self.message, self.rule, self.event_index, self.line))
