"""Identifiers in requests: parse every form we accept, name each bad one precisely."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from serialtrail_gs1.identity import IdentifierError, ObjectId
from serialtrail_gs1.scan import ScanError, parse_object_id, parse_scan
from serialtrail_kit.errors import InvalidInput, Violation, invalid

Parsed = ObjectId | IdentifierError


def parse_cached(cache: dict[str, Parsed], text: str) -> Parsed:
    """Parse once per request: the authorisation check and the endpoint both need the ids."""
    found = cache.get(text)
    if found is None:
        try:
            found = parse_object_id(text)
        except IdentifierError as error:
            found = error
        cache[text] = found
    return found


@dataclass
class ParsedIds:
    """Canonical URIs by the text that named them, every object, and what was wrong."""

    cache: dict[str, Parsed] = field(default_factory=dict)
    objects: dict[str, ObjectId] = field(default_factory=dict)  # canonical URI → parsed
    texts: dict[str, str] = field(default_factory=dict)  # canonical URI → the text that named it
    violations: list[Violation] = field(default_factory=list)

    def parse(self, text: str, where: str) -> str:
        parsed = parse_cached(self.cache, text)
        if isinstance(parsed, IdentifierError):
            self.violations.append(Violation(where, rule_of(parsed), f"{text!r}: {parsed}"))
            return text
        self.objects[parsed.uri] = parsed
        self.texts.setdefault(parsed.uri, text)
        return parsed.uri

    def lot_of(self, uri: str) -> str | None:
        """The lot (AI 10) the scan naming `uri` carried, if any."""
        text = self.texts.get(uri)
        try:
            return None if text is None else parse_scan(text).lot
        except IdentifierError:  # not reached: the text parsed before
            return None

    def parse_all(self, texts: Iterable[str], where: str) -> tuple[str, ...]:
        return tuple(self.parse(text, f"{where}[{index}]") for index, text in enumerate(texts))

    def raise_if_invalid(self) -> None:
        if self.violations:
            first = self.violations[0].message
            more = f" (and {len(self.violations) - 1} more)" if len(self.violations) > 1 else ""
            raise InvalidInput(first + more, self.violations)


def rule_of(error: IdentifierError) -> str:
    """The GS1 rule a scan broke (`gs1-check-digit`, `gs1-ambiguous` …), else `gs1-identifier`."""
    return error.rule if isinstance(error, ScanError) else "gs1-identifier"


def one_id(text: str, where: str = "id") -> ObjectId:
    try:
        return parse_object_id(text)
    except IdentifierError as error:
        raise invalid(where, rule_of(error), f"{text!r}: {error}") from error
