"""What a query answers, and a subscription is told: an EPCISQueryDocument of the events as
captured, each with the time this repository recorded it.

Events come from many captured documents, each with its own @context, and the answer has one
(EPCIS readers, the reference Event Hash ID generator among them, read the document's alone). A
document's prefix keeps its name there only where every event of the answer using that name reads
it alike; else it is renamed (`ex2`) in that document's fields and in the @context. So every
field still means what its capturer said, in JSON-LD and in the XML written from the answer,
whatever other documents' events share it (`serialtrail_gs1.epcis_context` says what capture
takes so that this holds)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from serialtrail_gs1.epcis import CONTEXT
from serialtrail_gs1.epcis_context import standard_prefixes


def _as_recorded(row: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The event as captured, with the time this repository recorded it (EPCIS `recordTime`)."""
    recorded: datetime = row["record_time"]
    return {**event, "recordTime": recorded.isoformat(timespec="milliseconds")}


Binding = tuple[Any, frozenset[tuple[str, str]]]  # a prefix's namespace, and its terms' coercions


class _Context:
    """The answer's @context: the standard one, then what the events' documents declared. A
    document's prefix is taken whole, with the coercions the document gives its terms (`ex:id`:
    `@id`). It keeps its name only where every event of the answer that uses that name (as a
    key's prefix, a key, a value's scheme or word) is of a document binding it alike; else it is
    renamed to a name no event uses, so that no document's declarations reach another's events."""

    def __init__(self, users: dict[str, set[Binding | None]], tokens: set[str]) -> None:
        self.items: list[Any] = [CONTEXT]
        # prefix -> its binding, as answered: the standard context's prefixes first (it is @protected:
        # a document binding cbvmda elsewhere has its own renamed, never the standard's)
        self.bound: dict[str, Binding | None] = {p: (iri, frozenset()) for p, iri in standard_prefixes().items()}
        self.users, self.tokens = users, tokens  # name -> the bindings of the events using it; every name used
        self._adopted: dict[str, dict[str, str]] = {}  # a document's @context (as JSON) -> its renames
        self._next: dict[str, int] = {}  # prefix -> the number its next rename tries first

    def adopt(self, own: dict[str, Any]) -> dict[str, str]:
        """Take one document's declarations; the renames its events need (prefix -> prefix)."""
        key = orjson.dumps(own, option=orjson.OPT_SORT_KEYS).decode()
        if key in self._adopted:
            return self._adopted[key]
        bindings = _bindings(own)
        renames = {p: self._free(p, bindings) for p, b in bindings.items() if self._clashes(p, b)}
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
        self._adopted[key] = renames
        return renames

    def _clashes(self, prefix: str, binding: Binding) -> bool:
        bound = self.bound.get(prefix, binding)
        return bound != binding or any(used != binding for used in self.users.get(prefix, ()))

    def _free(self, prefix: str, taken: dict[str, Binding]) -> str:
        """A name for `prefix` that neither the answer nor the document binds, and no event uses
        (numbered on from the last one given: names no event uses are looked for once)."""
        n = self._next.get(prefix, 2)
        while (name := f"{prefix}{n}") in self.bound or name in taken or name in self.tokens:
            n += 1
        self._next[prefix] = n + 1
        self.bound[name] = None  # reserved until bound
        return name


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


def _own(declared: Any) -> dict[str, Any]:
    """A document's declarations beyond the EPCIS context (whose URL is all else capture takes)."""
    own: dict[str, Any] = {}
    for item in declared if isinstance(declared, list) else [declared]:
        if isinstance(item, dict):
            own.update(item)
    return own


def _names_used(value: Any, found: set[str]) -> set[str]:
    """Every name a JSON-LD processor could read as a term or a prefix in `value`: keys, keys'
    prefixes, and the part of any text before a colon (or the whole word)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            found.add(key.partition(":")[0])
            _names_used(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _names_used(inner, found)
    elif isinstance(value, str):
        found.add(value.partition(":")[0])
    return found


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
    declared (renamed where events read one name otherwise); a subscription's names the query and
    the subscription it answers."""
    owns = [_own(row["context"]) for row in rows]
    users: dict[str, set[Binding | None]] = {}
    for own, row in zip(owns, rows, strict=True):
        bindings = _bindings(own)
        for name in _names_used(row["event"], set()):
            users.setdefault(name, set()).add(bindings.get(name))
    context, events = _Context(users, set(users)), []
    for own, row in zip(owns, rows, strict=True):
        renames = context.adopt(own)
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
