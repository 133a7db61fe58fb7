"""What a document says about itself: the SBDH (who sent it to whom, its identification) and the
master data of its header (EPCClass, Location and other vocabularies), for a capture service to keep."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from lxml import etree

from serialtrail_gs1.epcis_xml.events import EventConverter, unwrapped
from serialtrail_gs1.epcis_xml.values import tag_of, text_of

SBDH = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
_CONTACT_FIELDS = {
    "Contact": "contact",
    "EmailAddress": "email_address",
    "FaxNumber": "fax_number",
    "TelephoneNumber": "telephone_number",
    "ContactTypeIdentifier": "contact_type",
}


@dataclass(frozen=True)
class Contact:
    contact: str | None = None
    email_address: str | None = None
    fax_number: str | None = None
    telephone_number: str | None = None
    contact_type: str | None = None


@dataclass(frozen=True)
class Party:
    """An SBDH Sender or Receiver: `identifier` as written (DSCSA: an SGLN or GLN), its `authority`
    (`SGLN`, `GLN`…)."""

    identifier: str
    authority: str | None
    contacts: tuple[Contact, ...] = ()


@dataclass(frozen=True)
class DocumentIdentification:
    standard: str | None
    type_version: str | None
    instance_identifier: str | None
    type: str | None
    multiple_type: bool | None
    creation_date_and_time: str | None


@dataclass(frozen=True)
class VocabularyElement:
    """One master data element: its `id` (an EPC class pattern, an SGLN…), its attributes in
    document order (`(attribute id, value)`: a string, or an object for structured attributes, as
    the JSON-LD binding writes them) and its children's ids."""

    id: str
    attributes: tuple[tuple[str, Any], ...] = ()
    children: tuple[str, ...] = ()

    def attribute(self, attribute_id: str) -> Any:
        """The first value of an attribute, None if absent."""
        return next((value for name, value in self.attributes if name == attribute_id), None)


@dataclass(frozen=True)
class Vocabulary:
    type: str  # e.g. urn:epcglobal:epcis:vtype:EPCClass, urn:epcglobal:epcis:vtype:BusinessLocation
    elements: tuple[VocabularyElement, ...] = ()


@dataclass(frozen=True)
class DocumentHeader:
    """The document's own data: root attributes, SBDH, header master data and the header's other
    extensions (e.g. a DSCSA transaction statement), under their JSON-LD `prefix:local` keys."""

    version: str  # the EPCIS XML version read: "1.2" or "2.0"
    schema_version: str | None  # the root's schemaVersion as written
    creation_date: str | None
    senders: tuple[Party, ...] = ()
    receivers: tuple[Party, ...] = ()
    identification: DocumentIdentification | None = None
    master_data: tuple[Vocabulary, ...] = ()
    extensions: dict[str, Any] = field(default_factory=dict)

    def vocabulary(self, vocabulary_type: str) -> tuple[VocabularyElement, ...]:
        """All elements of the vocabularies of one type (a document may split one over several)."""
        return tuple(e for v in self.master_data if v.type == vocabulary_type for e in v.elements)

    def master_data_json_ld(self) -> list[dict[str, Any]]:
        """The master data as an EPCIS 2.0 JSON-LD `vocabularyList`."""
        return [_vocabulary_json(v) for v in self.master_data]


def root_header(version: str, root: etree._Element) -> DocumentHeader:
    return DocumentHeader(version, root.get("schemaVersion"), root.get("creationDate"))


def with_epcis_header(header: DocumentHeader, element: etree._Element, converter: EventConverter) -> DocumentHeader:
    """The header completed from an `<EPCISHeader>`: SBDH, `extension/EPCISMasterData`, extensions."""
    sbdh = element.find(f"{{{SBDH}}}StandardBusinessDocumentHeader")
    master_data = element.find("extension/EPCISMasterData/VocabularyList")
    extensions: dict[str, list[Any]] = {}
    for child in unwrapped(element):
        if child.tag not in (f"{{{SBDH}}}StandardBusinessDocumentHeader", "EPCISMasterData"):
            extensions.setdefault(converter.prefixes.key(tag_of(child), child.prefix), []).append(
                converter.generic(child)
            )
    return replace(
        header,
        senders=_parties(sbdh, "Sender"),
        receivers=_parties(sbdh, "Receiver"),
        identification=_identification(sbdh),
        master_data=vocabularies(master_data, converter),
        extensions={key: values[0] if len(values) == 1 else values for key, values in extensions.items()},
    )


def vocabularies(vocabulary_list: etree._Element | None, converter: EventConverter) -> tuple[Vocabulary, ...]:
    if vocabulary_list is None:
        return ()
    return tuple(
        Vocabulary(v.get("type", ""), tuple(_element(e, converter) for e in v.iterfind("VocabularyElementList/*")))
        for v in vocabulary_list.iterfind("Vocabulary")
    )


def _element(element: etree._Element, converter: EventConverter) -> VocabularyElement:
    attributes = tuple((a.get("id", ""), _attribute_value(a, converter)) for a in element.iterfind("attribute"))
    children = tuple(text_of(c) for c in element.iterfind("children/id"))
    return VocabularyElement(element.get("id", ""), attributes, children)


def _attribute_value(attribute: etree._Element, converter: EventConverter) -> Any:
    """Text, or for structured attributes (child elements) an object of `prefix:local` keys."""
    if len(attribute) == 0:
        return text_of(attribute)
    value = converter.generic(attribute)
    if isinstance(value, dict):
        value.pop("id", None)  # the attribute's own id, already the pair's name
    return value


def _parties(sbdh: etree._Element | None, role: str) -> tuple[Party, ...]:
    if sbdh is None:
        return ()
    return tuple(_party(p) for p in sbdh.iterfind(f"{{{SBDH}}}{role}"))


def _party(element: etree._Element) -> Party:
    identifier = element.find(f"{{{SBDH}}}Identifier")
    contacts = tuple(_contact(c) for c in element.iterfind(f"{{{SBDH}}}ContactInformation"))
    if identifier is None:
        return Party("", None, contacts)
    return Party(text_of(identifier), identifier.get("Authority"), contacts)


def _contact(element: etree._Element) -> Contact:
    values = {
        name: text_of(child)
        for child in element
        if isinstance(child.tag, str) and (name := _CONTACT_FIELDS.get(etree.QName(child).localname)) is not None
    }
    return Contact(**values)


def _identification(sbdh: etree._Element | None) -> DocumentIdentification | None:
    element = None if sbdh is None else sbdh.find(f"{{{SBDH}}}DocumentIdentification")
    if element is None:
        return None

    def text(name: str) -> str | None:
        child = element.find(f"{{{SBDH}}}{name}")
        return None if child is None else text_of(child)

    multiple = text("MultipleType")
    return DocumentIdentification(
        standard=text("Standard"),
        type_version=text("TypeVersion"),
        instance_identifier=text("InstanceIdentifier"),
        type=text("Type"),
        multiple_type=None if multiple is None else multiple in ("true", "1"),
        creation_date_and_time=text("CreationDateAndTime"),
    )


def _vocabulary_json(vocabulary: Vocabulary) -> dict[str, Any]:
    return {"type": vocabulary.type, "vocabularyElementList": [_element_json(e) for e in vocabulary.elements]}


def _element_json(element: VocabularyElement) -> dict[str, Any]:
    result: dict[str, Any] = {"id": element.id}
    if element.attributes:
        result["attributes"] = [{"id": name, "attribute": value} for name, value in element.attributes]
    if element.children:
        result["children"] = list(element.children)
    return result
