"""Identifiers in requests: parse every form we accept, name each bad one precisely."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from serialtrail_gs1.identity import IdentifierError, ObjectId, plain_sgtins, quick_object
from serialtrail_gs1.scan import Scan, parse_object_id, parse_scan, rule_of
from serialtrail_kit.errors import InvalidInput, Violation, invalid

from aggregation.domain.objects import Label

Parsed = ObjectId | Scan | IdentifierError  # canonical forms as bare objects, other scans whole


def parse_cached(cache: dict[str, Parsed], text: str) -> Parsed:
    """Parse once per request: the authorisation check and the endpoint both need the ids."""
    found = cache.get(text)
    if found is None:
        found = cache[text] = _read(text)
    return found


def parse_many(cache: dict[str, Parsed], texts: Iterable[str]) -> None:
    """Parse a request's element strings `(01)…(21)…` together, the fastest way (a pallet
    names thousands); the others are read one by one when asked for."""
    fresh = [text for text in texts if text.startswith("(01)") and text not in cache]
    if len(fresh) > 1 and (objects := plain_sgtins(fresh)) is not None:
        cache.update(zip(fresh, objects, strict=True))


def _read(text: str) -> Parsed:
    """A pallet's thousands of canonical ids carry no lot or expiry: read as bare objects, the
    quickest way; anything else as a whole scan."""
    try:
        quick = quick_object(text)
    except IdentifierError:
        quick = None  # the full parser names the AI and the rule
    if quick is not None:
        return quick[0]
    try:
        return parse_scan(text)
    except IdentifierError as error:
        return error


def object_of(parsed: ObjectId | Scan) -> ObjectId:
    return parsed.object if isinstance(parsed, Scan) else parsed


@dataclass
class ParsedIds:
    """Canonical URIs by the text that named them, every object, the lot and expiry scans
    carried, and what was wrong."""

    cache: dict[str, Parsed] = field(default_factory=dict)
    objects: dict[str, ObjectId] = field(default_factory=dict)  # canonical URI → parsed
    labels: dict[str, Label] = field(default_factory=dict)  # canonical URI → lot/expiry its scan carried
    violations: list[Violation] = field(default_factory=list)

    def parse(self, text: str, where: str) -> str:
        parsed = parse_cached(self.cache, text)
        if isinstance(parsed, IdentifierError):
            self.violations.append(rule_of(parsed).at(where, f"{text!r}: {parsed}"))
            return text
        found = object_of(parsed)
        self.objects[found.uri] = found
        if isinstance(parsed, Scan) and (label := Label(parsed.lot, parsed.expiry)) != (None, None):
            self.labels[found.uri] = label  # its date was checked when the scan was read
        return found.uri

    def parse_all(self, texts: Iterable[str], where: str) -> tuple[str, ...]:
        """A pallet's thousands of bare canonical objects take the short way; anything else
        (a scan with a lot, a bad id) goes through `parse`, which names it."""
        texts = list(texts)
        parse_many(self.cache, texts)
        cache, objects, uris = self.cache, self.objects, []
        for index, text in enumerate(texts):
            parsed = cache.get(text)
            if type(parsed) is ObjectId:
                objects[parsed.uri] = parsed
                uris.append(parsed.uri)
            else:
                uris.append(self.parse(text, f"{where}[{index}]"))
        return tuple(uris)

    def raise_if_invalid(self) -> None:
        if self.violations:
            first = self.violations[0].message
            more = f" (and {len(self.violations) - 1} more)" if len(self.violations) > 1 else ""
            raise InvalidInput(first + more, self.violations)


def one_id(text: str, where: str = "id") -> ObjectId:
    try:
        return parse_object_id(text)
    except IdentifierError as error:
        raise invalid(where, rule_of(error), f"{text!r}: {error}") from error
