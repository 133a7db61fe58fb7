"""The rules a capture can break, each named once where it is enforced (the per-event checks
of the EPCIS document itself are `serialtrail_gs1.epcis_checks`)."""

from __future__ import annotations

from serialtrail_kit.errors import Rule

ERROR_BEHAVIOUR = Rule(
    "capture-error-behaviour",
    "GS1-Capture-Error-Behaviour is `rollback` (the default) or `proceed`",
    "GS1-Capture-Error-Behaviour",
    "'all' is not a capture error behaviour this server supports (rollback, proceed)",
)
WELL_FORMED = Rule(
    "well-formed",
    "the document is well-formed JSON (or XML) throughout",
    "document",
    "not valid JSON near byte 1024: parse error: premature EOF",
)
WELL_FORMED_XML = Rule(
    "xml-malformed",
    "the document is well-formed XML",
    "document (line 12)",
    "line 12: Opening and ending tag mismatch: epcList line 9 and ObjectEvent [xml-malformed]",
)
NO_DTD = Rule(
    "xml-doctype",
    "the document declares no entities and names no external DTD (they are never expanded or fetched)",
    "document (line 2)",
    "line 2: a DOCTYPE that declares entities is refused (entities are never expanded) [xml-doctype]",
)
EVENT_LIMIT = Rule(
    "capture-limit",
    "a document holds at most the server's capture limit of events (GS1-EPCIS-Capture-Limit)",
    "epcisBody.eventList",
    "the document holds more than 200000 events, the most one capture takes",
)
IN_SCOPE = Rule(
    "in-scope",
    "every object an event names is within the capturing key's scope (its company prefixes and GTINs)",
    "eventList[0].epcList[0]",
    "GTIN 04012345000009 is not within this key's scope",
)
CAPTURED_ONCE = Rule(
    "captured-once",
    "an event is captured once: the same event (the same CBV 2.0 Event Hash ID) again is a duplicate",
    "eventList[0]",
    "this event was captured before (capture 0b6f…, event 3): ni:///sha-256;…?ver=CBV2.0",
)
XSD = Rule(
    "xsd",
    "an event of an XML document validates against the official EPCIS XSD of its version",
    "eventList[2]",
    "event 3 (eventList[2]), line 27: Element 'action': 'MOVE' is not an element of the set {ADD, OBSERVE, DELETE}",
)
XML_UNSUPPORTED = Rule(
    "xml-unsupported",
    "an event of an XML document has an EPCIS 2.0 form (a 1.2 QuantityEvent has none)",
    "eventList[0]",
    "event 1 (eventList[0]), line 9: QuantityEvent has no EPCIS 2.0 form",
)
XML_RULES = {rule.name: rule for rule in (XSD, XML_UNSUPPORTED, WELL_FORMED_XML, NO_DTD)}
EVENT_TIME = Rule(
    "event-time",
    "an event time is a date-time UTC can hold (years 1 to 9999 once its offset is applied)",
    "eventList[0].eventTime",
    "'0001-01-01T00:00:00+01:00' is not a time UTC can hold (years 1 to 9999)",
)
EVENT_SIZE = Rule(
    "event-size",
    "one event is at most 512 KiB of JSON (about 10,000 EPCs): what the services pass on travels in messages "
    "of a bounded size",
    "eventList[0]",
    "event 0 is 4,901,823 bytes of JSON, more than the 524,288 one event may be: split its EPCs over several events",
)
