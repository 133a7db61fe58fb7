"""Where each field of each event type goes, per XML version: the XSDs' element sequences.

EPCIS 2.0 (`xsd-2.0/EPCglobal-epcis-2_0.xsd`) puts every field directly in the event.

EPCIS 1.2 (`xsd-1.2/EPCglobal-epcis-1_2.xsd`) puts what 1.0 lacked in `extension` elements
(eventID and errorDeclaration in `baseExtension`, quantities, sources, destinations and ILMD
in the event's `extension`), a TransformationEvent inside the EventList's `extension`, and
requires `epcList`/`childEPCs` even when empty. What only EPCIS 2.0 has is carried where the
EPCIS 2.0 work group put it so that 2.0 data still validates against the 1.2 XSD (gs1/EPCIS
issues 184 and 286, the official 1.2 example `examples/xml-1.2/AssociationEvent.xml`, GS1's
XSL/convert-2.0-to-1.2.xsl): the innermost `extension` (`##local` elements, processed laxly),
the one place the unedited 1.2 XSD takes it:
- an AssociationEvent: `EventList/extension/extension/AssociationEvent`, its base fields in
  1.2's shape (eventID and errorDeclaration in `baseExtension`), its own as in 2.0;
- sensorElementList and persistentDisposition: the event's innermost `extension` (for an
  ObjectEvent `extension/extension`: GS1's XSL writes them one level up, which only its revised
  1.2 XSD accepts);
- certificationInfo: `baseExtension/extension`.
A 1.2 reader that knows nothing of 2.0 skips these elements; the Event Hash ID (which flattens
`extension` elements) still sees them, so the event keeps its identity."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Version(StrEnum):
    V2_0 = "2.0"
    V1_2 = "1.2"


@dataclass(frozen=True)
class Group:
    """A wrapper element (`extension`, `baseExtension`), written only around fields present."""

    tag: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Always:
    """A field EPCIS 1.2 requires even when the event has none (`<epcList/>`)."""

    name: str


Field = str | Group | Always


@dataclass(frozen=True)
class Layout:
    fields: tuple[Field, ...]
    required: tuple[str, ...]
    wrappers: tuple[str, ...] = ()  # elements around the event inside EventList
    names: frozenset[str] = field(init=False)  # every field the layout places

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(field_names(self.fields)))


def field_names(fields: tuple[Field, ...]) -> list[str]:
    found: list[str] = []
    for entry in fields:
        if isinstance(entry, Group):
            found.extend(field_names(entry.fields))
        else:
            found.append(entry if isinstance(entry, str) else entry.name)
    return found


ONLY_IN_2_0 = frozenset({"sensorElementList", "persistentDisposition", "certificationInfo"})
_BASICS = ("eventTime", "eventTimeZoneOffset")
_TIMES = ("eventTime", "recordTime", "eventTimeZoneOffset")
_WHERE_WHY = ("bizStep", "disposition", "readPoint", "bizLocation")
_SOURCES = ("sourceList", "destinationList")
_LATER = ("sensorElementList", "persistentDisposition")

_HEAD_2_0: tuple[Field, ...] = (*_TIMES, "eventID", "errorDeclaration", "certificationInfo")
_ASSOCIATION_BODY: tuple[Field, ...] = (
    "parentID",
    "childEPCs",
    "childQuantityList",
    "action",
    *_WHERE_WHY,
    "bizTransactionList",
    *_SOURCES,
    *_LATER,
)
LAYOUTS_2_0 = {
    "ObjectEvent": Layout(
        (
            *_HEAD_2_0,
            "epcList",
            "action",
            *_WHERE_WHY,
            "bizTransactionList",
            "quantityList",
            *_SOURCES,
            *_LATER,
            "ilmd",
        ),
        (*_BASICS, "action"),
    ),
    "AggregationEvent": Layout(
        (
            *_HEAD_2_0,
            "parentID",
            "childEPCs",
            "action",
            *_WHERE_WHY,
            "bizTransactionList",
            "childQuantityList",
            *_SOURCES,
            *_LATER,
        ),
        (*_BASICS, "action"),
    ),
    "TransactionEvent": Layout(
        (
            *_HEAD_2_0,
            "bizTransactionList",
            "parentID",
            "epcList",
            "action",
            *_WHERE_WHY,
            "quantityList",
            *_SOURCES,
            *_LATER,
        ),
        (*_BASICS, "bizTransactionList", "action"),
    ),
    "TransformationEvent": Layout(
        (
            *_HEAD_2_0,
            "inputEPCList",
            "inputQuantityList",
            "outputEPCList",
            "outputQuantityList",
            "transformationID",
            *_WHERE_WHY,
            "bizTransactionList",
            *_SOURCES,
            *_LATER,
            "ilmd",
        ),
        _BASICS,
    ),
    "AssociationEvent": Layout((*_HEAD_2_0, *_ASSOCIATION_BODY), (*_BASICS, "parentID", "action")),
}

_HEAD_1_2: tuple[Field, ...] = (
    *_TIMES,
    Group("baseExtension", ("eventID", "errorDeclaration", Group("extension", ("certificationInfo",)))),
)
_LATER_1_2 = Group("extension", _LATER)
LAYOUTS_1_2 = {
    "ObjectEvent": Layout(
        (
            *_HEAD_1_2,
            Always("epcList"),
            "action",
            *_WHERE_WHY,
            "bizTransactionList",
            Group("extension", ("quantityList", *_SOURCES, "ilmd", _LATER_1_2)),
        ),
        (*_BASICS, "action"),
    ),
    "AggregationEvent": Layout(
        (
            *_HEAD_1_2,
            "parentID",
            Always("childEPCs"),
            "action",
            *_WHERE_WHY,
            "bizTransactionList",
            Group("extension", ("childQuantityList", *_SOURCES, _LATER_1_2)),
        ),
        (*_BASICS, "action"),
    ),
    "TransactionEvent": Layout(
        (
            *_HEAD_1_2,
            "bizTransactionList",
            "parentID",
            Always("epcList"),
            "action",
            *_WHERE_WHY,
            Group("extension", ("quantityList", *_SOURCES, _LATER_1_2)),
        ),
        (*_BASICS, "bizTransactionList", "action"),
    ),
    "TransformationEvent": Layout(
        (
            *_HEAD_1_2,
            "inputEPCList",
            "inputQuantityList",
            "outputEPCList",
            "outputQuantityList",
            "transformationID",
            *_WHERE_WHY,
            "bizTransactionList",
            *_SOURCES,
            "ilmd",
            Group("extension", _LATER),
        ),
        _BASICS,
        wrappers=("extension",),
    ),
    "AssociationEvent": Layout(
        (*_HEAD_1_2, *_ASSOCIATION_BODY), (*_BASICS, "parentID", "action"), wrappers=("extension", "extension")
    ),
}
LAYOUTS = {Version.V2_0: LAYOUTS_2_0, Version.V1_2: LAYOUTS_1_2}
STANDARD_FIELDS = frozenset(name for layout in LAYOUTS_2_0.values() for name in layout.names)
