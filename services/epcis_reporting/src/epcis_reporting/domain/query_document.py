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

from serialtrail_gs1.epcis import CONTEXT
from serialtrail_gs1.epcis_checks import standard_prefixes


def _as_recorded(row: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The event as captured, with the time this repository recorded it (EPCIS `recordTime`)."""
    recorded: datetime = row["record_time"]
    return {**event, "recordTime": recorded.isoformat(timespec="milliseconds")}


class _Context:
    """The answer's @context: the standard one, then what the events' documents declared."""

    def __init__(self) -> None:
        self.items: list[Any] = [CONTEXT]
        # term or prefix -> its definition, as answered: the standard context's prefixes first (it is
        # @protected: a document binding cbvmda elsewhere has its own renamed, never the standard's)
        self.bound: dict[str, Any] = dict(standard_prefixes())

    def adopt(self, declared: Any) -> dict[str, str]:
        """Take one document's @context; the renames its events need (prefix -> prefix)."""
        items = declared if isinstance(declared, list) else [declared]
        renames = {term: self._free(term) for term in self._clashing(items)}
        for item in items:
            if isinstance(item, dict):
                self._bind(_renamed(item, renames))
            elif item and item not in self.items:
                self.items.append(item)
        return renames

    def _clashing(self, items: list[Any]) -> set[str]:
        """The plain terms (no colon) an item binds otherwise than the answer already does."""
        return {
            term
            for item in items
            if isinstance(item, dict)
            for term, definition in item.items()
            if ":" not in term and self.bound.get(term, definition) != definition
        }

    def _free(self, term: str) -> str:
        n = 2
        while f"{term}{n}" in self.bound:
            n += 1
        self.bound[f"{term}{n}"] = None  # reserved until bound
        return f"{term}{n}"

    def _bind(self, item: dict[str, Any]) -> None:
        # A compact-IRI term defined twice otherwise (rare) keeps its first definition: no name
        # of the same meaning is free for it.
        new = {t: d for t, d in item.items() if self.bound.get(t) is None}
        self.bound.update(new)
        if new:
            self.items.append(new)


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
