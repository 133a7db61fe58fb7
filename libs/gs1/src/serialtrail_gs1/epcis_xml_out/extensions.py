"""User extensions, ILMD and master data attribute values: JSON-LD objects as XML elements
(EPCIS 2.0 §9.3's mapping). A key is an element of its prefix's namespace, an object its child
elements, a list the element repeated once per item, a scalar its text. Top-level names must
be namespaced (the XSD's wildcards take only elements of another namespace); inside an
extension element unqualified names are fine, as in the official all-fields examples. Each
element declares the namespaces of its own children (`XmlNames.declarations`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from serialtrail_gs1.epcis_xml_out.context import Context, Out, start
from serialtrail_gs1.epcis_xml_out.xmltext import escaped


def extension(out: Out, name: str, value: Any, context: Context, where: str) -> None:
    """`value` as element(s) named `name` (checked, `prefix:local` or a plain name)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            extension(out, name, item, context, f"{where}[{index}]")
    elif isinstance(value, Mapping):
        out.append(start(name, context.names.declarations(value)))
        content(out, value, context, where)
        out.append(f"</{name}>")
    elif value is None:
        out.append(f"<{name}/>")
    else:
        out.append(f"<{name}>{escaped(context.text_of(value, where), where)}</{name}>")


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
