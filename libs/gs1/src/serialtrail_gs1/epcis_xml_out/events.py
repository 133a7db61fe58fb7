"""One EPCIS 2.0 JSON-LD event as the XML of one event element (with, in 1.2, the elements that
wrap it in the EventList). Each event is written on its own and handed on: a document of a
million events never exists whole."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from serialtrail_gs1.epcis_xml_out.context import Context, Out, start, text
from serialtrail_gs1.epcis_xml_out.errors import NotIn12, NotWritable
from serialtrail_gs1.epcis_xml_out.extensions import extension
from serialtrail_gs1.epcis_xml_out.fields import FIELDS, Writer
from serialtrail_gs1.epcis_xml_out.layouts import (
    LAYOUTS,
    ONLY_IN_2_0,
    STANDARD_FIELDS,
    Always,
    Field,
    Group,
    Layout,
    Version,
    field_names,
)
from serialtrail_gs1.epcis_xml_out.xmltext import comment as xml_comment

_NOT_WRITTEN = frozenset({"type", "@context"})  # the element's name; a standalone event's context
_COMMENT = "rdfs:comment"  # JSON-LD's comment: an XML comment, as it means nothing to a reader


@dataclass(frozen=True)
class EventWriter:
    """Writes events of one document in one XML version. `carry_2_0_only`: in 1.2, whether
    what only 2.0 has is carried as extension elements (else refused, `NotIn12`)."""

    context: Context
    version: Version
    carry_2_0_only: bool = True

    def xml(self, event: Mapping[str, Any], index: int) -> str:
        kind = event.get("type")
        where = f"event {index} ({kind})"
        if not isinstance(kind, str) or kind not in LAYOUTS[self.version]:
            raise NotWritable(where, "type is not an EPCIS 2.0 event type")
        layout = LAYOUTS[self.version][kind]
        self._check(event, kind, layout, where)
        out: Out = [f"<{wrapper}>" for wrapper in layout.wrappers]
        keys = tuple(event) if _COMMENT not in event else tuple(k for k in event if k != _COMMENT)
        out.append(start(kind, self.context.names.declarations(keys)))
        _fill(out, _PLANS[self.version][kind], event, self.context, where)
        self._rest(out, event, layout, where)
        out.append(f"</{kind}>")
        out.extend(f"</{wrapper}>" for wrapper in reversed(layout.wrappers))
        return "".join(out)

    def _check(self, event: Mapping[str, Any], kind: str, layout: Layout, where: str) -> None:
        missing = [name for name in layout.required if name not in event]
        if missing:
            raise NotWritable(where, f"the event needs {', '.join(missing)}")
        if self.version == Version.V1_2 and not self.carry_2_0_only:
            if kind == "AssociationEvent":
                raise NotIn12(where, "EPCIS 1.2 has no AssociationEvent")
            present = sorted(ONLY_IN_2_0.intersection(event))
            if present:
                raise NotIn12(f"{where} {present[0]}", "EPCIS 1.2 has no such field")

    def _rest(self, out: Out, event: Mapping[str, Any], layout: Layout, where: str) -> None:
        """User extensions after the standard fields (the XSD's final wildcard), then comments."""
        names = layout.names
        comments = []
        for name, value in event.items():
            if name in names or name in _NOT_WRITTEN:
                continue
            if name == _COMMENT:
                comments.extend(value if isinstance(value, list) else [value])
            elif name in STANDARD_FIELDS:
                raise NotWritable(f"{where} {name}", f"{event['type']}s have no such field")
            else:
                qualified = self.context.names.qualified(name, where)
                extension(out, qualified, value, self.context, f"{where} {name}")
        out.extend(xml_comment(text(comment, where), where) for comment in comments)


class _Step(NamedTuple):
    """One entry of a layout, resolved once: a field and its writer, or a wrapper element and
    the fields it holds (`inner`, `names`)."""

    name: str
    writer: Writer | None
    always: bool
    inner: tuple[_Step, ...]
    names: frozenset[str]


def _plan(fields: tuple[Field, ...]) -> tuple[_Step, ...]:
    steps = []
    for field in fields:
        if isinstance(field, Group):
            steps.append(_Step(field.tag, None, False, _plan(field.fields), frozenset(field_names(field.fields))))
        else:
            name = field if isinstance(field, str) else field.name
            steps.append(_Step(name, FIELDS[name], isinstance(field, Always), (), frozenset()))
    return tuple(steps)


_PLANS = {
    version: {kind: _plan(layout.fields) for kind, layout in layouts.items()} for version, layouts in LAYOUTS.items()
}


def _fill(out: Out, steps: tuple[_Step, ...], event: Mapping[str, Any], context: Context, at: str) -> None:
    for step in steps:
        if step.writer is not None:
            if step.name in event:
                step.writer(out, event[step.name], context, f"{at} {step.name}")
            elif step.always:
                out.append(f"<{step.name}/>")
        elif not step.names.isdisjoint(event):
            out.append(f"<{step.name}>")
            _fill(out, step.inner, event, context, at)
            out.append(f"</{step.name}>")
