"""What a query answers, and a subscription is told: an EPCISQueryDocument of the events as
captured, each with the time this repository recorded it.

Events come from many captured documents, each with its own @context, and the answer has one.
Two documents may bind one prefix to two namespaces (`ex` to a CMO's and to a partner's), or one
a prefix of the (protected) EPCIS context to another: the later event's prefix, or the one
rebinding the standard's, is then renamed (`ex2`, `cbvmda2`) in its fields and in the @context, so
that every field still means what its capturer said, in JSON-LD and in the XML written from it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from serialtrail_gs1.epcis import CONTEXT
from serialtrail_gs1.epcis_checks import standard_prefixes


def _as_recorded(row: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The event as captured, with the time this repository recorded it (EPCIS `recordTime`)."""
    recorded: datetime = row["record_time"]
    return {**event, "recordTime": recorded.isoformat(timespec="milliseconds")}


Binding = tuple[Any, frozenset[tuple[str, str]]]  # a prefix's namespace, and its terms' coercions


class _Context:
    """The answer's @context: the standard one, then what the events' documents declared. A
    document's prefix is taken whole, with the coercions the document gives its terms (`ex:id`:
    `@id`): another document's prefix of that name, bound or coerced otherwise, is renamed, so
    that no document's declarations reach another's events."""

    def __init__(self) -> None:
        self.items: list[Any] = [CONTEXT]
        # prefix -> its binding, as answered: the standard context's prefixes first (it is @protected:
        # a document binding cbvmda elsewhere has its own renamed, never the standard's)
        self.bound: dict[str, Binding | None] = {p: (iri, frozenset()) for p, iri in standard_prefixes().items()}

    def adopt(self, declared: Any) -> dict[str, str]:
        """Take one document's @context; the renames its events need (prefix -> prefix)."""
        own: dict[str, Any] = {}
        for item in declared if isinstance(declared, list) else [declared]:
            if isinstance(item, dict):
                own.update(item)
            elif item and item not in self.items:
                self.items.append(item)  # the EPCIS context (at one of its addresses): all capture takes
        bindings = _bindings(own)
        renames = {p: self._free(p, bindings) for p, b in bindings.items() if self.bound.get(p, b) != b}
        new: dict[str, Any] = {}
        for prefix, (iri, coerced) in bindings.items():
            name = renames.get(prefix, prefix)
            if self.bound.get(name) is None:
                self.bound[name] = (iri, coerced)
                new[name] = iri
                new |= {f"{name}:{local}": orjson.loads(d) for local, d in sorted(coerced)}
        if "@version" in own and not any(isinstance(i, dict) and "@version" in i for i in self.items):
            new = {"@version": own["@version"], **new}
        if new:
            self.items.append(new)
        return renames

    def _free(self, prefix: str, taken: dict[str, Binding]) -> str:
        """A name for `prefix` that neither the answer nor the document binds yet."""
        n = 2
        while f"{prefix}{n}" in self.bound or f"{prefix}{n}" in taken:
            n += 1
        self.bound[f"{prefix}{n}"] = None  # reserved until bound
        return f"{prefix}{n}"


def _bindings(own: dict[str, Any]) -> dict[str, Binding]:
    """Each prefix a document declares, with the coercions it gives that prefix's terms."""
    coerced: dict[str, set[tuple[str, str]]] = {}
    for term, definition in own.items():
        prefix, colon, local = term.partition(":")
        if colon:
            coerced.setdefault(prefix, set()).add(
                (local, orjson.dumps(definition, option=orjson.OPT_SORT_KEYS).decode())
            )
    return {
        term: (iri, frozenset(coerced.get(term, ())))
        for term, iri in own.items()
        if ":" not in term and not term.startswith("@")
    }


def _renamed(value: Any, renames: dict[str, str]) -> Any:
    """`value` with the renamed terms renamed: keys (`ex:field`, or the term itself) and compact
    IRIs in text (`ex:thing`; a bare word in text is a word, not a term)."""
    if not renames:
        return value
    if isinstance(value, dict):
        return {_renamed_text(k, renames, bare=True): _renamed(v, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, renames) for v in value]
    if isinstance(value, str):
        return _renamed_text(value, renames, bare=False)
    return value


def _renamed_text(text: str, renames: dict[str, str], *, bare: bool) -> str:
    prefix, colon, rest = text.partition(":")
    new = renames.get(prefix)
    if new is None or (not colon and not bare) or rest.startswith("//"):  # an IRI's scheme is no prefix
        return text
    return f"{new}{colon}{rest}"


def query_document(
    rows: list[dict[str, Any]], query_name: str = "SimpleEventQuery", subscription_id: str | None = None
) -> dict[str, Any]:
    """An EPCISQueryDocument; its @context the standard one and every prefix its events' documents
    declared (renamed where two disagree); a subscription's names the query and the subscription
    it answers."""
    context, events = _Context(), []
    for row in rows:
        renames = context.adopt(row["context"])
        events.append(_as_recorded(row, _renamed(row["event"], renames)))
    results: dict[str, Any] = {"queryName": query_name}
    if subscription_id is not None:
        results["subscriptionID"] = subscription_id
    results["resultsBody"] = {"eventList": events}
    return {
        "@context": context.items,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epcisBody": {"queryResults": results},
    }
