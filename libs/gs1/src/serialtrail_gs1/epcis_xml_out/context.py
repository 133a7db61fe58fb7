"""What every field writer of one document needs: its namespaces, how identifiers are written
(as given in EPCIS 2.0, as EPC URNs in 1.2), and the few value conversions they share."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from serialtrail_gs1.epcis_xml_out.errors import NotWritable
from serialtrail_gs1.epcis_xml_out.names import XmlNames
from serialtrail_gs1.epcis_xml_out.xmltext import escaped

Identifiers = Callable[[str, str], str]  # (identifier, where) -> the identifier as written
Out = list[str]  # the pieces of one event's XML, joined once the event is complete


def as_given(identifier: str, where: str) -> str:
    return identifier


@dataclass(frozen=True)
class Context:
    names: XmlNames
    identifiers: Identifiers = as_given

    def identifier(self, value: Any, where: str) -> str:
        """An EPC, location, class or party identifier: a CURIE of the document's prefixes
        expanded, then written as this XML version names it."""
        return self.identifiers(self.names.expand(text(value, where)), where)

    def text_of(self, value: Any, where: str) -> str:
        """Any other value (a URI, a vocabulary word, an extension's text) as XML text, a CURIE of
        the document's prefixes expanded."""
        return self.names.expand(text(value, where))


def text(value: Any, where: str) -> str:
    """A scalar as XML text: booleans as XML Schema writes them, numbers as JSON wrote them."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    raise NotWritable(where, f"expected a text, number or boolean, got {value!r}")


def decimal(value: Any, where: str) -> str:
    """An xsd:decimal (a quantity): never an exponent, which JSON numbers may carry (`1e3`)."""
    if isinstance(value, float) and math.isfinite(value):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        try:
            Decimal(value)
        except ArithmeticError:
            pass
        else:
            if "e" not in value.lower() and value.strip() == value:
                return value
    raise NotWritable(where, f"{value!r} is not a decimal quantity")


def leaf(out: Out, tag: str, content: str, where: str) -> None:
    out.append(f"<{tag}>{escaped(content, where)}</{tag}>")


def start(tag: str, declarations: str, attributes: str = "") -> str:
    """A start tag with its attributes (already formatted, ` name="value"` each) and the
    namespace declarations its children need (`XmlNames.declarations`)."""
    return f"<{tag}{attributes}{declarations}>"


def items(value: Any, where: str) -> list[Any]:
    """A JSON-LD list field, which a single value may stand for (`@container: @set`)."""
    if isinstance(value, list):
        return value
    if value is None:
        raise NotWritable(where, "expected a list, got null")
    return [value]


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise NotWritable(where, f"expected an object, got {value!r}")
    return value


def empty(tag: str, declarations: str, attributes: str = "") -> str:
    """An element without content (a sensor report: all attributes)."""
    return f"<{tag}{attributes}{declarations}/>"
