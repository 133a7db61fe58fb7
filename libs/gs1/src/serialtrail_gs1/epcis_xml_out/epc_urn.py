"""GS1 Digital Link URIs as EPC URNs, for EPCIS 1.2, which names objects, classes and locations
by EPC URNs only (TDS §6): `https://id.gs1.org/01/09506000134352/21/A1` is
`urn:epc:id:sgtin:9506000.013435.A1` when the GS1 Company Prefix is 7 digits long.

Nothing in a GTIN, GLN or SSCC says where its company prefix ends; master data does (a product's
registration, an EPC URN the document already holds). `CompanyPrefixes` is what the caller knows;
a link it does not cover is refused, never split by a guess.

SGTINs and SSCCs are formatted here (a document names thousands); every other scheme goes through
`epcpy`, and the tests cross-check the formatted ones against `epcpy` too."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple
from urllib.parse import unquote

from epcpy.epc_schemes.sgln import SGLN
from epcpy.utils.common import ConvertException
from epcpy.utils.parsers import gs1_element_string_to_gs1_element

from serialtrail_gs1.epcis_xml_out.errors import NotWritable, UnknownCompanyPrefix
from serialtrail_gs1.keys import gtin_problem, has_valid_check_digit, serial_problem, sgtin_uri_prefix

# A web URI (any resolver host, any path before the key); the query and fragment are dropped:
# they carry attributes (expiry, link type), not the identity.
_WEB_URI = re.compile(r"https?://[^/?#]+(/[^?#]*)(?:\?[^#]*)?(?:#.*)?", re.DOTALL)


@dataclass(frozen=True)
class _PrimaryKey:
    prefix_start: int  # where the company prefix starts in the key (after an indicator or extension digit)
    qualifiers: tuple[str, ...]  # key qualifiers in GS1 Digital Link order (DL 1.2 §4.11)


_KEYS: Mapping[str, _PrimaryKey] = {
    "00": _PrimaryKey(1, ()),
    "01": _PrimaryKey(1, ("22", "10", "21", "235")),
    "253": _PrimaryKey(0, ()),
    "255": _PrimaryKey(0, ()),
    "401": _PrimaryKey(0, ()),
    "402": _PrimaryKey(0, ()),
    "414": _PrimaryKey(0, ("254",)),
    "417": _PrimaryKey(0, ()),
    "8003": _PrimaryKey(1, ()),  # AI 8003 writes a GRAI after a padding 0
    "8004": _PrimaryKey(0, ()),
    "8006": _PrimaryKey(1, ("22", "10", "21")),
    "8010": _PrimaryKey(0, ("8011",)),
    "8017": _PrimaryKey(0, ()),
    "8018": _PrimaryKey(0, ()),
}
# TDS §5 (GS3A3 components): the characters an EPC URN percent-encodes; everything else of
# GS1 character set 82 stands as itself.
_URN_ESCAPES = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}
_NEEDS_NO_ESCAPE = re.compile(r"[A-Za-z0-9!'()*+,\-.:;=_]*")
_EPC_URN_PREFIX = re.compile(r"urn:epc:(?:id|idpat|class):[a-z]+:(\d{6,12})\.")
# A canonical SGTIN link whose serial needs neither percent-decoding nor URN escaping (1 to 20
# characters of GS1 character set 82 that stand as themselves in both).
_PLAIN_SGTIN = re.compile(r"https://id\.gs1\.org/01/(\d{14})/21/([A-Za-z0-9!'()*+,\-.:;=_]{1,20})")


class DigitalLinkKey(NamedTuple):
    """The GS1 key a Digital Link names: AI, value, and its key qualifiers (`21` serial …)."""

    ai: str
    value: str
    qualifiers: Mapping[str, str]


def digital_link_key(uri: str) -> DigitalLinkKey | None:
    """The key of a GS1 Digital Link URI, None for any other web URI (a purchase order's URL)."""
    match = _WEB_URI.fullmatch(uri)
    if match is None:
        return None
    segments = match[1].split("/")[1:]
    for start in range(len(segments) - 1):
        key = _KEYS.get(segments[start])
        if key is None or (len(segments) - start) % 2 or not segments[start + 1]:
            continue
        pairs = [unquote(s) if "%" in s else s for s in segments[start:]]
        qualifiers = dict(zip(pairs[2::2], pairs[3::2], strict=True))
        if set(qualifiers) <= set(key.qualifiers):
            return DigitalLinkKey(pairs[0], pairs[1], qualifiers)
    return None


def urn_escape(component: str) -> str:
    """A serial, lot or GLN extension as an EPC URN component (TDS §5 escaping)."""
    if _NEEDS_NO_ESCAPE.fullmatch(component):
        return component
    return "".join(_URN_ESCAPES.get(c, c) for c in component)


@dataclass(frozen=True)
class CompanyPrefixes:
    """GS1 Company Prefixes known from master data. `prefixes`: company prefixes themselves
    (`"9506000"`); `lengths`: a key's company prefix length (GTIN-14, GLN or SSCC → length, as
    a product registration states it). GS1 allocates prefixes so that none is the start of
    another: a key starting with exactly one known prefix has that prefix."""

    prefixes: frozenset[str] = frozenset()
    lengths: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, prefixes: Iterable[str] = (), lengths: Mapping[str, int] | None = None) -> CompanyPrefixes:
        return cls(frozenset(prefixes), MappingProxyType(dict(lengths or {})))

    def learned_from(self, identifiers: Iterable[str]) -> CompanyPrefixes:
        """These prefixes and those EPC URNs state (`urn:epc:id:sgln:9506000.00000.0`)."""
        found = {m[1] for i in identifiers if (m := _EPC_URN_PREFIX.match(i))}
        return self if found <= self.prefixes else CompanyPrefixes(self.prefixes | found, self.lengths)

    def length(self, key: str, start: int) -> int | None:
        """The company prefix length of `key`, whose company prefix starts at `start`."""
        stated = self.lengths.get(key)
        if stated is not None:
            return stated
        found = [n for n in range(6, 13) if key[start : start + n] in self.prefixes]
        return found[0] if len(found) == 1 else None


class EpcUrns:
    """Identifiers as EPC URNs for one document: Digital Links converted, EPC URNs and any other
    URI (`urn:uuid:…`, a purchase order's URL) as given. Caches what a document repeats."""

    def __init__(self, prefixes: CompanyPrefixes) -> None:
        self.prefixes = prefixes
        self._sgtin_prefixes: dict[str, str] = {}
        self._others: dict[str, str] = {}

    def __call__(self, identifier: str, where: str) -> str:
        if not identifier.startswith(("https://", "http://")):
            return identifier
        plain = _PLAIN_SGTIN.fullmatch(identifier)  # what the services record: nothing to parse or escape
        if plain is not None:
            return self._sgtin_prefix(plain[1], where) + plain[2]
        key = digital_link_key(identifier)
        if key is None:
            return identifier
        if key.ai == "01" and "21" in key.qualifiers:
            return self._sgtin(key.value.zfill(14), key.qualifiers["21"], where)
        if key.ai == "00":
            return self._sscc(key.value, where)
        known = self._others.get(identifier)
        if known is None:
            known = self._others[identifier] = self._other(key, identifier, where)
        return known

    def _company_prefix_length(self, key: str, start: int, where: str) -> int:
        length = self.prefixes.length(key, start)
        if length is None:
            raise UnknownCompanyPrefix(
                where,
                f"the GS1 Company Prefix length of {key} is not known: an EPCIS 1.2 EPC URN needs it "
                "(pass it in company_prefixes, or send EPCIS 2.0, which keeps the Digital Link)",
            )
        return length

    def _sgtin(self, gtin: str, serial: str, where: str) -> str:
        problem = serial_problem(serial)
        if problem is not None:
            raise NotWritable(where, f"serial {serial!r} {problem}")
        return self._sgtin_prefix(gtin, where) + urn_escape(serial)

    def _sgtin_prefix(self, gtin: str, where: str) -> str:
        """`urn:epc:id:sgtin:<company prefix>.<indicator and item reference>.`, once per GTIN."""
        prefix = self._sgtin_prefixes.get(gtin)
        if prefix is None:
            problem = gtin_problem(gtin)
            if problem is not None:
                raise NotWritable(where, f"GTIN {gtin} {problem}")
            prefix = sgtin_uri_prefix(gtin, self._company_prefix_length(gtin, 1, where))
            self._sgtin_prefixes[gtin] = prefix
        return prefix

    def _sscc(self, sscc: str, where: str) -> str:
        if len(sscc) != 18 or not has_valid_check_digit(sscc):
            raise NotWritable(where, f"SSCC {sscc} is not 18 digits with a valid check digit")
        length = self._company_prefix_length(sscc, 1, where)
        return f"urn:epc:id:sscc:{sscc[1 : 1 + length]}.{sscc[0]}{sscc[1 + length : 17]}"

    def _other(self, key: DigitalLinkKey, identifier: str, where: str) -> str:
        """Classes (`/01/…` alone or with a lot) and every scheme but SGTIN and SSCC."""
        primary = _KEYS[key.ai]
        digits = key.value.zfill(14) if key.ai == "01" else key.value
        length = self._company_prefix_length(digits, primary.prefix_start, where)
        if key.ai == "01":
            return self._gtin_class(digits, key.qualifiers, length, where)
        try:
            if key.ai == "414":  # a GLN without extension is the site itself: extension 0 (TDS §6.3.3)
                element_string = f"(414){digits}(254){key.qualifiers.get('254', '0')}"
                return str(SGLN.from_gs1_element_string(element_string, company_prefix_length=length).epc_uri)
            element_string = f"({key.ai}){digits}" + "".join(
                f"({q}){key.qualifiers[q]}" for q in primary.qualifiers if q in key.qualifiers
            )
            return str(gs1_element_string_to_gs1_element(element_string, length).epc_uri)
        except (ConvertException, ValueError, IndexError) as error:
            raise NotWritable(where, f"{identifier} has no EPC URN: {error}") from None

    def _gtin_class(self, gtin: str, qualifiers: Mapping[str, str], length: int, where: str) -> str:
        problem = gtin_problem(gtin)
        if problem is not None:
            raise NotWritable(where, f"GTIN {gtin} {problem}")
        company_and_item = sgtin_uri_prefix(gtin, length).removeprefix("urn:epc:id:sgtin:")
        if "10" in qualifiers:
            return f"urn:epc:class:lgtin:{company_and_item}{urn_escape(qualifiers['10'])}"
        if set(qualifiers) - {"22"}:
            raise NotWritable(where, f"/01/{gtin} with qualifiers {sorted(qualifiers)} has no EPC URN")
        return f"urn:epc:idpat:sgtin:{company_and_item}*"
