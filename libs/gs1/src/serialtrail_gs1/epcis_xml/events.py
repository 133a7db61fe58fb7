"""One EPCIS XML event element (1.2 or 2.0) → the EPCIS 2.0 JSON-LD event, as the official JSON-LD
examples write it.

What changes on the way:
- 1.2's `<extension>` and `<baseExtension>` wrappers go: their content is the event's own fields in
  2.0 (quantityList, sourceList, ilmd, eventID, errorDeclaration …). 2.0 keeps `<extension>` only
  for elements of other namespaces, which become the event's own keys too;
- lists lose their item elements (`<epcList><epc>…` → `"epcList": [...]`);
- CBV vocabulary becomes the bare word the @context scopes to the field (`shipping`), XSD numbers
  and booleans become JSON numbers and booleans;
- elements of other namespaces become `prefix:local` keys (`Prefixes`), a repeated element a list,
  an element with children an object.
EPC URNs, times and offsets stay exactly as written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from serialtrail_gs1.epcis_xml.values import (
    Prefixes,
    boolean,
    cbv_word,
    is_xsi,
    number,
    prefix_of,
    sensor_term,
    tag_of,
    text_of,
    typed_text,
)

_WRAPPERS = frozenset({"extension", "baseExtension"})


class Unrepresentable(ValueError):
    """An element the EPCIS 2.0 JSON-LD binding has no place for."""

    def __init__(self, element: etree._Element, why: str) -> None:
        self.line = element.sourceline
        super().__init__(f"<{etree.QName(element).localname}> {why}")


def unwrapped(element: etree._Element) -> list[etree._Element]:
    """The children of `element`, with the content of `<extension>`/`<baseExtension>` wrappers (no
    namespace: EPCIS's own) in their place, at any depth: 1.2 nests them two deep. (A list, not a
    generator: this runs for every element of every event.)"""
    children = []
    for child in element:
        if child.tag in _WRAPPERS:
            children.extend(unwrapped(child))
        else:
            children.append(child)
    return children


class EventConverter:
    """Converts events one at a time; the prefixes it gives extension keys are shared by the whole
    document (`prefixes.context` is the @context the events need)."""

    def __init__(self, prefixes: Prefixes) -> None:
        self.prefixes = prefixes
        self._keys: dict[object, str] = {}  # tag → JSON-LD key, once per name and document
        handlers: dict[str, Callable[[etree._Element], Any]] = {
            **dict.fromkeys(_TEXT_FIELDS, text_of),
            **dict.fromkeys(_EPC_LISTS, _epc_list),
            **dict.fromkeys(_QUANTITY_LISTS, self._quantity_list),
            "bizStep": lambda e: cbv_word("bizStep", text_of(e)),
            "disposition": lambda e: cbv_word("disposition", text_of(e)),
            "readPoint": self._location,
            "bizLocation": self._location,
            "bizTransactionList": lambda e: self._typed_list(e, "bizTransaction", "bizTransactionType"),
            "sourceList": lambda e: self._typed_list(e, "source", "sourceDestType"),
            "destinationList": lambda e: self._typed_list(e, "destination", "sourceDestType"),
            "persistentDisposition": _persistent_disposition,
            "errorDeclaration": self._error_declaration,
            "sensorElementList": self._sensor_elements,
            "ilmd": self._extensions_object,
        }
        # Keyed by the tag as lxml gives it: (the JSON key, how to read the element).
        self._fields: dict[object, tuple[str, Callable[[etree._Element], Any]]] = {
            name: (name, handler) for name, handler in handlers.items()
        }

    def event(self, element: etree._Element) -> dict[str, Any]:
        event: dict[str, Any] = {"type": etree.QName(element).localname}
        extras: dict[str, list[Any]] = {}
        for child in unwrapped(element):
            field = self._fields.get(child.tag)
            if field is not None:
                event[field[0]] = field[1](child)
            else:
                self._add_generic(extras, child)
        _merge(event, extras)
        return event

    # --- the standard fields -----------------------------------------------------------------------
    def _quantity_list(self, element: etree._Element) -> list[dict[str, Any]]:
        return [self._quantity(item) for item in element if item.tag == "quantityElement"]

    def _quantity(self, element: etree._Element) -> dict[str, Any]:
        quantity: dict[str, Any] = {}
        extras: dict[str, list[Any]] = {}
        for child in unwrapped(element):
            if child.tag == "quantity":
                value = typed_text(child)  # xsi:nil="true" is "no quantity": the key is left out
                if value is not None:
                    quantity["quantity"] = number(value) if isinstance(value, str) else value
            elif child.tag in ("epcClass", "uom"):
                quantity[child.tag] = text_of(child)
            else:
                self._add_generic(extras, child)
        _merge(quantity, extras)
        return quantity

    def _location(self, element: etree._Element) -> dict[str, Any]:
        location: dict[str, Any] = {}
        extras: dict[str, list[Any]] = {}
        for child in unwrapped(element):
            if child.tag == "id":
                location["id"] = text_of(child)
            else:
                self._add_generic(extras, child)
        _merge(location, extras)
        return location

    def _typed_list(self, element: etree._Element, item_name: str, vocabulary: str) -> list[dict[str, Any]]:
        items = []
        for child in element:
            item: dict[str, Any] = {}
            if child.get("type") is not None:
                item["type"] = cbv_word(vocabulary, child.get("type", "").strip())
            item[item_name] = text_of(child)
            items.append(item)
        return items

    def _error_declaration(self, element: etree._Element) -> dict[str, Any]:
        declaration: dict[str, Any] = {}
        extras: dict[str, list[Any]] = {}
        for child in unwrapped(element):
            if child.tag == "declarationTime":
                declaration["declarationTime"] = text_of(child)
            elif child.tag == "reason":
                declaration["reason"] = cbv_word("errorReason", text_of(child))
            elif child.tag == "correctiveEventIDs":
                declaration["correctiveEventIDs"] = [text_of(c) for c in child if c.tag == "correctiveEventID"]
            else:
                self._add_generic(extras, child)
        _merge(declaration, extras)
        return declaration

    def _sensor_elements(self, element: etree._Element) -> list[dict[str, Any]]:
        for child in unwrapped(element):
            if child.tag != "sensorElement":
                raise Unrepresentable(child, "inside sensorElementList has no JSON-LD form (a list of sensor elements)")
        return [self._sensor_element(child) for child in unwrapped(element)]

    def _sensor_element(self, element: etree._Element) -> dict[str, Any]:
        sensor: dict[str, Any] = {}
        reports = []
        extras: dict[str, list[Any]] = {}
        for child in unwrapped(element):
            if child.tag == "sensorMetadata":
                sensor["sensorMetadata"] = self._sensor_attributes(child)
            elif child.tag == "sensorReport":
                reports.append(self._sensor_attributes(child))
            else:
                self._add_generic(extras, child)
        if reports:
            sensor["sensorReport"] = reports
        _merge(sensor, extras)
        return sensor

    def _sensor_attributes(self, element: etree._Element) -> dict[str, Any]:
        """sensorMetadata/sensorReport carry everything in attributes: typed as the XSD types them."""
        fields: dict[str, Any] = {}
        for name, value in element.attrib.items():
            if is_xsi(name):
                continue
            if name.startswith("{"):
                fields[self.prefixes.key(name, prefix_of(element, name))] = value
            else:
                fields[name] = _sensor_value(name, value)
        return fields

    # --- extensions ----------------------------------------------------------------------------------
    def _extensions_object(self, element: etree._Element) -> dict[str, Any]:
        """ilmd: an object of extension elements."""
        extras: dict[str, list[Any]] = {}
        for child in unwrapped(element):
            self._add_generic(extras, child)
        fields: dict[str, Any] = {}
        _merge(fields, extras)
        return fields

    def _add_generic(self, extras: dict[str, list[Any]], element: etree._Element) -> None:
        """An element the standard does not name at this place, under its `prefix:local` key (its
        local name when it has no namespace). `extras` collects them; `_merge` places them."""
        key = self._keys.get(element.tag)
        if key is None:
            key = self._keys[element.tag] = self.prefixes.key(tag_of(element), element.prefix)
        extras.setdefault(key, []).append(self.generic(element))

    def generic(self, element: etree._Element) -> Any:
        """An extension element's value: its typed text when it has neither children nor attributes;
        otherwise an object of its attributes and children (non-blank text alongside them, which
        JSON-LD has no place for, under "#text")."""
        attributes = [(name, value) for name, value in element.attrib.items() if not is_xsi(name)]
        if len(element) == 0 and not attributes:
            return typed_text(element)
        fields: dict[str, Any] = {}
        for name, value in attributes:
            fields[self.prefixes.key(name, prefix_of(element, name))] = value
        extras: dict[str, list[Any]] = {}
        for child in element:
            self._add_generic(extras, child)
        _merge(fields, extras)
        text = text_of(element)
        if text:
            fields["#text"] = text
        return fields


def _merge(into: dict[str, Any], extras: dict[str, list[Any]]) -> None:
    """An element seen once is a value, an element repeated a list in document order (as the
    JSON-LD examples write repeated extension elements)."""
    for key, values in extras.items():
        into[key] = values[0] if len(values) == 1 else values


_TEXT_FIELDS = (
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "certificationInfo",
    "parentID",
    "action",
    "transformationID",
)
_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_SENSOR_NUMBERS = frozenset({"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"})


def _epc_list(element: etree._Element) -> list[str]:
    # The hot loop of a large document (100 EPCs per event): a comprehension, nothing else.
    return [(epc.text or "").strip() for epc in element]


def _persistent_disposition(element: etree._Element) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for child in element:
        if child.tag in ("set", "unset"):
            result.setdefault(child.tag, []).append(cbv_word("disposition", text_of(child)))
    return result


def _sensor_value(name: str, value: str) -> Any:
    if name in _SENSOR_NUMBERS:
        return number(value)
    if name == "booleanValue":
        return boolean(value)
    if name in ("type", "exception", "component"):
        return sensor_term(name, value.strip())
    return value.strip()
