"""User extensions, ILMD and master data attribute values: JSON-LD objects as XML elements
(EPCIS 2.0 §9.3's mapping). A key is an element of its prefix's namespace, an object its child
elements, a list the element repeated once per item, a scalar its text. Top-level names must
be namespaced (the XSD's wildcards take only elements of another namespace); inside an
extension element unqualified names are fine, as in the official all-fields examples. Each
element declares the namespaces of its own children (`XmlNames.declarations`).

An object with a "#text" is an element that had text beside its attributes (or children), as
`serialtrail_gs1.epcis_xml` reads one (`<cbvmda:netWeight measurementUnitCode="KGM">3.5</…>` is
`{"measurementUnitCode": "KGM", "#text": "3.5"}`): written back as such an element."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from serialtrail_gs1.epcis_xml_out.context import Context, Out, start
from serialtrail_gs1.epcis_xml_out.xmltext import escaped, quoted

TEXT = "#text"  # an element's text beside its attributes or children (the reference hash's convention)


def extension(out: Out, name: str, value: Any, context: Context, where: str) -> None:
    """`value` as element(s) named `name` (checked, `prefix:local` or a plain name)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            extension(out, name, item, context, f"{where}[{index}]")
    elif isinstance(value, Mapping) and TEXT in value:
        _with_text(out, name, value, context, where)
    elif isinstance(value, Mapping):
        out.append(start(name, context.names.declarations(value)))
        content(out, value, context, where)
        out.append(f"</{name}>")
    elif value is None:
        out.append(f"<{name}/>")
    else:
        out.append(f"<{name}>{escaped(context.text_of(value, where), where)}</{name}>")


def _with_text(out: Out, name: str, value: Mapping[str, Any], context: Context, where: str) -> None:
    """Its text first (the element's value, as the reference hash reads an element's text), its
    scalar fields as attributes, its objects and lists as child elements after the text."""
    scalars = {k: v for k, v in value.items() if k != TEXT and v is not None and not isinstance(v, Mapping | list)}
    children = {k: v for k, v in value.items() if k != TEXT and k not in scalars}
    attributes = "".join(
        f" {context.names.inner(key, where)}={quoted(context.text_of(inner, f'{where}.{key}'), f'{where}.{key}')}"
        for key, inner in scalars.items()
    )
    out.append(start(name, context.names.declarations([*scalars, *children]), attributes))
    out.append(escaped(context.text_of(value[TEXT], f"{where}.{TEXT}"), where))
    content(out, children, context, where)
    out.append(f"</{name}>")


def content(out: Out, fields: Mapping[str, Any], context: Context, where: str) -> None:
    """An object's fields as the elements inside its element."""
    for name, inner in fields.items():
        extension(out, context.names.inner(name, where), inner, context, f"{where}.{name}")


def extensions(out: Out, fields: Mapping[str, Any], standard: Iterable[str], context: Context, where: str) -> None:
    """Every field of `fields` but the `standard` ones, as namespaced extension elements."""
    skipped = set(standard)
    for name, value in fields.items():
        if name not in skipped:
            extension(out, context.names.qualified(name, where), value, context, f"{where} {name}")
