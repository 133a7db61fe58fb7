"""Master data vocabularies (EPCClass, Location, BusinessLocation, ReadPoint …) as the
`VocabularyList` of an EPCISHeader's EPCISMasterData, the same shape in 1.2 and 2.0:
`<Vocabulary type="…"><VocabularyElementList><VocabularyElement id="…"><attribute id="…">`.

Attribute names keep their URI; a `cbvmda:` CURIE becomes the CBV master data attribute URI
XML documents use (`urn:epcglobal:cbv:mda#name`, CBV §8 and the GS1 US DSCSA examples)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from serialtrail_gs1.epcis_xml_out.context import Context, Out, items, leaf, mapping, start, text
from serialtrail_gs1.epcis_xml_out.errors import NotWritable
from serialtrail_gs1.epcis_xml_out.extensions import content
from serialtrail_gs1.epcis_xml_out.xmltext import escaped, quoted

_VOCABULARY_TYPE = "urn:epcglobal:epcis:vtype:"
_CBV_ATTRIBUTE = "urn:epcglobal:cbv:mda#"
_ELEMENT_FIELDS = frozenset({"id", "attributes", "children"})


def vocabulary_list(vocabularies: Sequence[Mapping[str, Any]], context: Context) -> str:
    out: Out = ["<VocabularyList>"]
    for index, vocabulary in enumerate(vocabularies):
        _vocabulary(out, mapping(vocabulary, f"vocabulary {index}"), context, f"vocabulary {index}")
    out.append("</VocabularyList>")
    return "".join(out)


def identifiers(vocabularies: Sequence[Mapping[str, Any]]) -> Iterable[str]:
    """Every element id and child id the vocabularies name (their EPC URNs state company prefixes)."""
    for vocabulary in vocabularies:
        members = vocabulary.get("vocabularyElementList") if isinstance(vocabulary, Mapping) else None
        for element in members if isinstance(members, list) else []:
            if not isinstance(element, Mapping):
                continue
            if isinstance(element.get("id"), str):
                yield element["id"]
            yield from (child for child in element.get("children") or [] if isinstance(child, str))


def _vocabulary(out: Out, vocabulary: Mapping[str, Any], context: Context, where: str) -> None:
    if "type" not in vocabulary:
        raise NotWritable(where, "a vocabulary needs its type")
    kind = text(vocabulary["type"], f"{where}.type")
    out.append(f"<Vocabulary type={quoted(kind if ':' in kind else _VOCABULARY_TYPE + kind, where)}>")
    members = items(vocabulary.get("vocabularyElementList", []), f"{where}.vocabularyElementList")
    if members:
        out.append("<VocabularyElementList>")
        for index, member in enumerate(members):
            at = f"{where}.vocabularyElementList[{index}]"
            _element(out, mapping(member, at), context, at)
        out.append("</VocabularyElementList>")
    out.append("</Vocabulary>")


def _element(out: Out, member: Mapping[str, Any], context: Context, where: str) -> None:
    unknown = set(member) - _ELEMENT_FIELDS
    if unknown or "id" not in member:
        raise NotWritable(where, f"a vocabulary element is its id, attributes and children (got {sorted(member)})")
    out.append(f"<VocabularyElement id={quoted(context.identifier(member['id'], f'{where}.id'), where)}>")
    for index, attribute in enumerate(items(member.get("attributes", []), f"{where}.attributes")):
        _attribute(out, mapping(attribute, f"{where}.attributes[{index}]"), context, f"{where}.attributes[{index}]")
    children = items(member.get("children", []), f"{where}.children")
    if children:
        out.append("<children>")
        for index, child in enumerate(children):
            leaf(out, "id", context.identifier(child, f"{where}.children[{index}]"), where)
        out.append("</children>")
    out.append("</VocabularyElement>")


def _attribute(out: Out, attribute: Mapping[str, Any], context: Context, where: str) -> None:
    if "id" not in attribute or set(attribute) - {"id", "attribute"}:
        raise NotWritable(where, f"an attribute is its id and value (got {sorted(attribute)})")
    name = text(attribute["id"], f"{where}.id")
    standard_curie = name.startswith("cbvmda:") and "cbvmda" not in context.names.declared
    name = _CBV_ATTRIBUTE + name.removeprefix("cbvmda:") if standard_curie else context.text_of(name, where)
    value = attribute.get("attribute")
    if isinstance(value, list):
        raise NotWritable(where, "an attribute holds one value (a text, number or object), not a list")
    named = f" id={quoted(name, where)}"
    if isinstance(value, Mapping):
        out.append(start("attribute", context.names.declarations(value), named))
        content(out, value, context, f"{where}.attribute")
        out.append("</attribute>")
    elif value is None:
        out.append(f"<attribute{named}/>")
    else:
        out.append(f"<attribute{named}>{escaped(context.text_of(value, where), where)}</attribute>")
