"""EPCIS XML in: EPCIS 1.2 (with its SBDH and header master data) and EPCIS 2.0 XML documents, read
as a stream, checked against the official XSDs, each event given as the EPCIS 2.0 JSON-LD event
the official JSON-LD examples would write.

    reader = EpcisXmlReader(path_or_bytes_or_binary_stream)
    for item in reader:                  # XmlEvent, or EpcisXmlError for an event that fails
        ...
    reader.header                        # DocumentHeader: SBDH sender/receiver, master data
    reader.context                       # the JSON-LD @context of the events' extension keys

`read_epcis_xml` reads a small document whole and raises its first problem."""

from serialtrail_gs1.epcis_xml.errors import EpcisXmlError
from serialtrail_gs1.epcis_xml.header import (
    Contact,
    DocumentHeader,
    DocumentIdentification,
    Party,
    Vocabulary,
    VocabularyElement,
)
from serialtrail_gs1.epcis_xml.reader import EpcisXmlDocument, EpcisXmlReader, Source, XmlEvent, read_epcis_xml

__all__ = [
    "Contact",
    "DocumentHeader",
    "DocumentIdentification",
    "EpcisXmlDocument",
    "EpcisXmlError",
    "EpcisXmlReader",
    "Party",
    "Source",
    "Vocabulary",
    "VocabularyElement",
    "XmlEvent",
    "read_epcis_xml",
]
