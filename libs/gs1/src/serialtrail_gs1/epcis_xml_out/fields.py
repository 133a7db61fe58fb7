"""One writer per EPCIS event field: the JSON-LD value in, its XML element(s) appended to the
event (EPCIS 2.0 §9 and the XSDs; the XML shapes are the same in 1.2 where 1.2 has the field).
Where the two bindings differ in shape, the XML one is the XSD's: list items get their element
name (`epcList` → `epc`, `quantityList` → `quantityElement`), types become attributes
(`<bizTransaction type="…">`), sensor fields are attributes of `sensorMetadata`/`sensorReport`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from serialtrail_gs1.epcis_xml_out.context import Context, Out, decimal, empty, items, leaf, mapping, start, text
from serialtrail_gs1.epcis_xml_out.errors import NotWritable
from serialtrail_gs1.epcis_xml_out.extensions import extensions
from serialtrail_gs1.epcis_xml_out.vocabulary import (
    BIZ_STEPS,
    BIZ_TRANSACTION_TYPES,
    COMPONENTS,
    DISPOSITIONS,
    ERROR_REASONS,
    MEASUREMENT_TYPES,
    SENSOR_EXCEPTIONS,
    SOURCE_DESTINATION_TYPES,
    Cbv,
    date_time_stamp,
    sensor_term,
    time_zone_offset,
)
from serialtrail_gs1.epcis_xml_out.xmltext import escaped, quoted

Writer = Callable[[Out, Any, Context, str], None]
_ACTIONS = frozenset({"ADD", "OBSERVE", "DELETE"})


def _time(tag: str) -> Writer:
    def write(out: Out, value: Any, context: Context, where: str) -> None:
        leaf(out, tag, date_time_stamp(value, where), where)

    return write


def _offset(out: Out, value: Any, context: Context, where: str) -> None:
    leaf(out, "eventTimeZoneOffset", time_zone_offset(value, where), where)


def _plain(tag: str) -> Writer:
    """A field written as given (eventID: an identity, never rewritten)."""

    def write(out: Out, value: Any, context: Context, where: str) -> None:
        leaf(out, tag, text(value, where), where)

    return write


def _uri(tag: str) -> Writer:
    def write(out: Out, value: Any, context: Context, where: str) -> None:
        leaf(out, tag, context.text_of(value, where), where)

    return write


def _identifier(tag: str) -> Writer:
    def write(out: Out, value: Any, context: Context, where: str) -> None:
        leaf(out, tag, context.identifier(value, where), where)

    return write


def _certification(out: Out, value: Any, context: Context, where: str) -> None:
    """JSON-LD allows a list; both XSDs one element. One certificate in a list is written."""
    certificates = items(value, where)
    if len(certificates) != 1:
        raise NotWritable(where, f"EPCIS XML carries one certificationInfo per event, not {len(certificates)}")
    leaf(out, "certificationInfo", context.text_of(certificates[0], where), where)


def _action(out: Out, value: Any, context: Context, where: str) -> None:
    if not isinstance(value, str) or value not in _ACTIONS:
        raise NotWritable(where, f"{value!r} is not ADD, OBSERVE or DELETE")
    leaf(out, "action", value, where)


def _vocabulary(tag: str, vocabulary: Cbv) -> Writer:
    def write(out: Out, value: Any, context: Context, where: str) -> None:
        leaf(out, tag, vocabulary.urn(context.text_of(value, where), where), where)

    return write


def _epcs(tag: str) -> Writer:
    def write(out: Out, value: Any, context: Context, where: str) -> None:
        identifier, append = context.identifier, out.append  # a pallet's thousands: looked up once
        append(f"<{tag}>")
        for index, epc in enumerate(items(value, where)):
            try:
                append(f"<epc>{escaped(identifier(epc, where), where)}</epc>")
            except NotWritable as refused:  # the position is named only when it is needed
                raise type(refused)(f"{where}[{index}]", refused.reason) from None
        append(f"</{tag}>")

    return write


def _quantities(tag: str) -> Writer:
    def write(out: Out, value: Any, context: Context, where: str) -> None:
        out.append(f"<{tag}>")
        for index, item in enumerate(items(value, where)):
            _quantity(out, mapping(item, f"{where}[{index}]"), context, f"{where}[{index}]")
        out.append(f"</{tag}>")

    return write


def _quantity(out: Out, item: Mapping[str, Any], context: Context, where: str) -> None:
    unknown = set(item) - {"epcClass", "quantity", "uom"}
    if unknown or "epcClass" not in item:
        raise NotWritable(where, f"a quantity element is epcClass, quantity and uom (got {sorted(item)})")
    if "uom" in item and "quantity" not in item:
        raise NotWritable(where, "a unit of measure without a quantity has no place in EPCIS XML")
    out.append("<quantityElement>")
    leaf(out, "epcClass", context.identifier(item["epcClass"], f"{where}.epcClass"), where)
    if "quantity" in item:
        leaf(out, "quantity", decimal(item["quantity"], f"{where}.quantity"), where)
    if "uom" in item:
        leaf(out, "uom", context.text_of(item["uom"], f"{where}.uom"), where)
    out.append("</quantityElement>")


def _location(tag: str) -> Writer:
    """readPoint/bizLocation: the id, then its user extensions (CBV 2.0 §8.9 keeps them there)."""

    def write(out: Out, value: Any, context: Context, where: str) -> None:
        fields = mapping(value, where)
        if "id" not in fields:
            raise NotWritable(where, "a location needs its id")
        identifier = context.identifier(fields["id"], f"{where}.id")
        if len(fields) == 1:  # the usual location: just its id
            out.append(f"<{tag}><id>{escaped(identifier, where)}</id></{tag}>")
            return
        out.append(start(tag, context.names.declarations(fields)))
        leaf(out, "id", identifier, where)
        extensions(out, fields, ("id",), context, where)
        out.append(f"</{tag}>")

    return write


def _biz_transactions(out: Out, value: Any, context: Context, where: str) -> None:
    out.append("<bizTransactionList>")
    for index, item in enumerate(items(value, where)):
        at = f"{where}[{index}]"
        fields = mapping(item, at)
        if set(fields) - {"type", "bizTransaction"} or "bizTransaction" not in fields:
            raise NotWritable(at, f"a business transaction is bizTransaction and its type (got {sorted(fields)})")
        kind = ""
        if "type" in fields:
            kind = " type=" + quoted(BIZ_TRANSACTION_TYPES.urn(context.text_of(fields["type"], at), f"{at}.type"), at)
        transaction = escaped(context.identifier(fields["bizTransaction"], at), at)
        out.append(f"<bizTransaction{kind}>{transaction}</bizTransaction>")
    out.append("</bizTransactionList>")


def _sources(tag: str, item_tag: str) -> Writer:
    def write(out: Out, value: Any, context: Context, where: str) -> None:
        out.append(f"<{tag}>")
        for index, item in enumerate(items(value, where)):
            at = f"{where}[{index}]"
            fields = mapping(item, at)
            if set(fields) != {"type", item_tag}:
                raise NotWritable(at, f"a {item_tag} is its type and {item_tag} (got {sorted(fields)})")
            kind = quoted(SOURCE_DESTINATION_TYPES.urn(context.text_of(fields["type"], at), f"{at}.type"), at)
            party = escaped(context.identifier(fields[item_tag], at), at)
            out.append(f"<{item_tag} type={kind}>{party}</{item_tag}>")
        out.append(f"</{tag}>")

    return write


def _persistent_disposition(out: Out, value: Any, context: Context, where: str) -> None:
    fields = mapping(value, where)
    if set(fields) - {"set", "unset"}:
        raise NotWritable(where, f"a persistent disposition is set and unset (got {sorted(fields)})")
    out.append("<persistentDisposition>")
    for name in ("unset", "set"):  # the XSD's order
        for index, disposition in enumerate(items(fields.get(name, []), f"{where}.{name}")):
            at = f"{where}.{name}[{index}]"
            leaf(out, name, DISPOSITIONS.urn(context.text_of(disposition, at), at), at)
    out.append("</persistentDisposition>")


def _ilmd(out: Out, value: Any, context: Context, where: str) -> None:
    fields = mapping(value, where)
    out.append(start("ilmd", context.names.declarations(fields)))
    extensions(out, fields, (), context, where)
    out.append("</ilmd>")


def _error_declaration(out: Out, value: Any, context: Context, where: str) -> None:
    """In 1.2's order (declarationTime, reason, correctiveEventIDs, extensions), which 2.0 allows."""
    fields = mapping(value, where)
    if "declarationTime" not in fields:
        raise NotWritable(where, "an error declaration needs its declarationTime")
    out.append(start("errorDeclaration", context.names.declarations(fields)))
    leaf(out, "declarationTime", date_time_stamp(fields["declarationTime"], f"{where}.declarationTime"), where)
    if "reason" in fields:
        reason = context.text_of(fields["reason"], f"{where}.reason")
        leaf(out, "reason", ERROR_REASONS.urn(reason, f"{where}.reason"), where)
    if "correctiveEventIDs" in fields:
        out.append("<correctiveEventIDs>")
        for index, event_id in enumerate(items(fields["correctiveEventIDs"], f"{where}.correctiveEventIDs")):
            leaf(out, "correctiveEventID", text(event_id, f"{where}.correctiveEventIDs[{index}]"), where)
        out.append("</correctiveEventIDs>")
    extensions(out, fields, ("declarationTime", "reason", "correctiveEventIDs"), context, where)
    out.append("</errorDeclaration>")


# --- sensor data (EPCIS 2.0 §7.3.7): attributes, typed as the XSD types them ----------------------
Convert = Callable[[Any, Context, str], str]


def _as_time(value: Any, context: Context, where: str) -> str:
    return date_time_stamp(value, where)


def _as_text(value: Any, context: Context, where: str) -> str:
    return context.text_of(value, where)  # a number or boolean as text; a CURIE expanded, as the hash reads it


def _as_term(terms: Mapping[str, str]) -> Convert:
    def convert(value: Any, context: Context, where: str) -> str:
        return sensor_term(text(value, where), terms, context.names)

    return convert


_METADATA: Mapping[str, Convert] = {
    "time": _as_time,
    "startTime": _as_time,
    "endTime": _as_time,
    **dict.fromkeys(("deviceID", "deviceMetadata", "rawData", "bizRules", "dataProcessingMethod"), _as_text),
}
_REPORT: Mapping[str, Convert] = {
    "type": _as_term(MEASUREMENT_TYPES),
    "exception": _as_term(SENSOR_EXCEPTIONS),
    "component": _as_term(COMPONENTS),
    "time": _as_time,
    **dict.fromkeys(("deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "microorganism"), _as_text),
    **dict.fromkeys(("chemicalSubstance", "value", "stringValue", "booleanValue", "hexBinaryValue"), _as_text),
    **dict.fromkeys(("uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"), _as_text),
    **dict.fromkeys(("uom", "coordinateReferenceSystem"), _as_text),
}


def _sensor_attributes(
    out: Out, tag: str, fields: Mapping[str, Any], known: Mapping[str, Convert], context: Context, where: str
) -> None:
    """Known fields as plain attributes, user extensions (`ex:feature`) as namespaced ones; an
    unknown plain name as a plain attribute too (the XSD takes any attribute here)."""
    attributes = []
    for name, value in fields.items():
        at = f"{where}.{name}"
        convert = known.get(name)
        if convert is not None:
            attributes.append(f" {name}={quoted(convert(value, context, at), at)}")
        elif isinstance(value, Mapping | list):
            raise NotWritable(at, "a sensor extension is an XML attribute here: it can only hold text")
        else:
            attributes.append(f" {context.names.inner(name, where)}={quoted(context.text_of(value, at), at)}")
    out.append(empty(tag, context.names.declarations(fields), "".join(attributes)))


def _sensor_element(out: Out, fields: Mapping[str, Any], context: Context, where: str) -> None:
    out.append(start("sensorElement", context.names.declarations(fields)))
    if "sensorMetadata" in fields:
        at = f"{where}.sensorMetadata"
        _sensor_attributes(out, "sensorMetadata", mapping(fields["sensorMetadata"], at), _METADATA, context, at)
    reports = items(fields.get("sensorReport", []), f"{where}.sensorReport")
    if not reports:
        raise NotWritable(where, "a sensor element needs at least one sensorReport (EPCIS 2.0 §7.3.7)")
    for index, report in enumerate(reports):
        at = f"{where}.sensorReport[{index}]"
        _sensor_attributes(out, "sensorReport", mapping(report, at), _REPORT, context, at)
    extensions(out, fields, ("sensorMetadata", "sensorReport"), context, where)
    out.append("</sensorElement>")


def _sensor_elements(out: Out, value: Any, context: Context, where: str) -> None:
    out.append("<sensorElementList>")
    for index, item in enumerate(items(value, where)):
        _sensor_element(out, mapping(item, f"{where}[{index}]"), context, f"{where}[{index}]")
    out.append("</sensorElementList>")


FIELDS: Mapping[str, Writer] = {
    "eventTime": _time("eventTime"),
    "recordTime": _time("recordTime"),
    "eventTimeZoneOffset": _offset,
    "eventID": _plain("eventID"),
    "errorDeclaration": _error_declaration,
    "certificationInfo": _certification,
    "parentID": _identifier("parentID"),
    "epcList": _epcs("epcList"),
    "childEPCs": _epcs("childEPCs"),
    "inputEPCList": _epcs("inputEPCList"),
    "outputEPCList": _epcs("outputEPCList"),
    "quantityList": _quantities("quantityList"),
    "childQuantityList": _quantities("childQuantityList"),
    "inputQuantityList": _quantities("inputQuantityList"),
    "outputQuantityList": _quantities("outputQuantityList"),
    "action": _action,
    "transformationID": _uri("transformationID"),
    "bizStep": _vocabulary("bizStep", BIZ_STEPS),
    "disposition": _vocabulary("disposition", DISPOSITIONS),
    "readPoint": _location("readPoint"),
    "bizLocation": _location("bizLocation"),
    "bizTransactionList": _biz_transactions,
    "sourceList": _sources("sourceList", "source"),
    "destinationList": _sources("destinationList", "destination"),
    "sensorElementList": _sensor_elements,
    "persistentDisposition": _persistent_disposition,
    "ilmd": _ilmd,
}
