"""What the writer refuses, said precisely enough for a caller to fix it or to ask for the
other EPCIS version: which event (by its position in the stream), which field, and why."""

from __future__ import annotations


class NotWritable(ValueError):
    """An event or document the requested XML cannot carry as given.

    `where` is a path such as `event 3 (ObjectEvent) epcList[2]` or `header`; `reason` says
    what is wrong. Nothing is guessed: a refusal is better than a document that means
    something other than its JSON-LD source."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class NotIn12(NotWritable):
    """Content that exists only in EPCIS 2.0 (AssociationEvent, sensor data, persistent
    dispositions, certification info) when the caller asked for 1.2 without carrying it as
    extension elements. The same events can be written as EPCIS 2.0 XML."""


class UnknownCompanyPrefix(NotWritable):
    """A GS1 Digital Link whose EPC URN needs the GS1 Company Prefix length, which nothing
    the caller passed tells (a GTIN alone does not say where its company prefix ends)."""
