"""CBV 2.0 Event Hash ID (CBV 2.0 §8.9): `ni:///sha-256;<hex>?ver=CBV2.0` for one EPCIS 2.0 JSON-LD event.

The hash is over a *pre-hash string*: the event's fields in a canonical order, each `key=value`,
concatenated without separators, values canonicalised (UTC times with milliseconds, numbers
without trailing zeros, EPC URNs and Digital Links as canonical `https://id.gs1.org` links, CBV
vocabulary as web URIs, CURIEs of the document's own namespaces expanded), lists sorted.

Where the standard's text leaves room, this module does what the reference implementation does
(PyPI `epcis-event-hash-generator` 1.9.3, the differential-test oracle in
`libs/gs1/tests/test_event_hash.py`), because a hash only identifies an event if every party
computes the same one. Its observable choices, kept here on purpose:
- order: eventType, eventTime, eventTimeZoneOffset, certificationInfo, parentID, the EPC and quantity
  lists, action, transformationID, bizStep, disposition, persistentDisposition, readPoint,
  bizLocation, sensorElementList; every other field (bizTransactionList, sourceList,
  destinationList, ilmd, user extensions, unknown fields) follows, the whole substrings sorted;
- eventID, recordTime and errorDeclaration are not part of the event's identity;
- only prefixes declared in the document's own `@context` are expanded (`cbv:`, `gs1:`,
  `cbvmda:` of the standard context stay as written);
- any value that reads as a number is written as one (`"0012"` → `12`, `"23.0"` → `23`), Python's
  spelling of booleans is kept (`True`), only the standard time fields are converted to UTC.

No JSON-LD processor runs per event: the few vocabularies the standard context scopes to a field
are tables here. What a line's document repeats is worked out once and remembered: the link of each
SGTIN prefix (a list of one product's SGTINs is then converted, checked and sorted by string
operations over the whole list), each minute of event time in UTC, the canonical text of each value.
Every shortcut falls back to the general path for anything it was not written for, and is tested
against the reference. `event_hash_ids` spreads a large document over the CPUs."""

from __future__ import annotations

import copy
import functools
import gc
import hashlib
import os
import re
import signal
import string
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import quote, unquote

from serialtrail_gs1.keys import check_digit

VERSION = "CBV2.0"
CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://gs1.org/voc/"
RESOLVER = "https://id.gs1.org"

# --- vocabularies the EPCIS 2.0 @context scopes to a field (bare strings in JSON-LD) ------------
_BIZ_STEPS = [
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "sampling",
    "sensor_reporting",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
]
_DISPOSITIONS = [
    "active",
    "available",
    "completeness_verified",
    "completeness_inferred",
    "conformant",
    "container_closed",
    "container_open",
    "damaged",
    "destroyed",
    "dispensed",
    "disposed",
    "encoded",
    "expired",
    "in_progress",
    "in_transit",
    "inactive",
    "mismatch_instance",
    "mismatch_class",
    "mismatch_quantity",
    "needs_replacement",
    "non_conformant",
    "no_pedigree_match",
    "partially_dispensed",
    "recalled",
    "reserved",
    "retail_sold",
    "returned",
    "sellable_accessible",
    "sellable_not_accessible",
    "stolen",
    "unavailable",
    "unknown",
]
_BTT = [
    "bol",
    "cert",
    "desadv",
    "inv",
    "pedigree",
    "po",
    "poc",
    "prodorder",
    "recadv",
    "rma",
    "testprd",
    "testres",
    "upevt",
]
_SDT = ["owning_party", "possessing_party", "location"]
_COMPONENTS = [
    "x",
    "y",
    "z",
    "axial_distance",
    "azimuth",
    "height",
    "spherical_radius",
    "polar_angle",
    "elevation_angle",
    "easting",
    "northing",
    "latitude",
    "longitude",
    "altitude",
]
_MEASUREMENTS = [
    "AbsoluteHumidity",
    "AbsorbedDose",
    "AbsorbedDoseRate",
    "Acceleration",
    "Radioactivity",
    "Altitude",
    "AmountOfSubstance",
    "AmountOfSubstancePerUnitVolume",
    "Angle",
    "AngularAcceleration",
    "AngularMomentum",
    "AngularVelocity",
    "Area",
    "Capacitance",
    "Conductance",
    "Conductivity",
    "Count",
    "Density",
    "Dimensionless",
    "DoseEquivalent",
    "DoseEquivalentRate",
    "DynamicViscosity",
    "ElectricCharge",
    "ElectricCurrent",
    "ElectricCurrentDensity",
    "ElectricFieldStrength",
    "Energy",
    "Exposure",
    "Force",
    "Frequency",
    "Illuminance",
    "Inductance",
    "Irradiance",
    "KinematicViscosity",
    "Length",
    "LinearMomentum",
    "Luminance",
    "LuminousFlux",
    "LuminousIntensity",
    "MagneticFlux",
    "MagneticFluxDensity",
    "MagneticVectorPotential",
    "Mass",
    "MassConcentration",
    "MassFlowRate",
    "MassPerAreaTime",
    "MemoryCapacity",
    "MolalityOfSolute",
    "MolarEnergy",
    "MolarMass",
    "MolarVolume",
    "Power",
    "Pressure",
    "RadiantFlux",
    "RadiantIntensity",
    "RelativeHumidity",
    "Resistance",
    "Resistivity",
    "SolidAngle",
    "SpecificVolume",
    "Speed",
    "SurfaceDensity",
    "SurfaceTension",
    "Temperature",
    "Time",
    "Torque",
    "Voltage",
    "Volume",
    "VolumeFlowRate",
    "VolumeFraction",
    "VolumetricFlux",
    "Wavenumber",
]


def _terms(words: Iterable[str], base: str) -> dict[str, str]:
    return {word: base + word for word in words}


BIZ_STEP = _terms(_BIZ_STEPS, CBV + "BizStep-")
DISPOSITION = _terms(_DISPOSITIONS, CBV + "Disp-")
BIZ_TRANSACTION_TYPE = _terms(_BTT, CBV + "BTT-")
SOURCE_DESTINATION_TYPE = _terms(_SDT, CBV + "SDT-")
COMPONENT = _terms(_COMPONENTS, CBV + "Comp-")
MEASUREMENT_TYPE = _terms(_MEASUREMENTS, GS1_VOC)
SENSOR_EXCEPTION = _terms(("ALARM_CONDITION", "ERROR_CONDITION"), GS1_VOC)
_NO_TERMS: dict[str, str] = {}

# CBV 1.x URN vocabulary → CBV 2.0 web URI (`urn:epcglobal:cbv:bizstep:receiving` → `…/BizStep-receiving`).
# Business transaction *identifiers* (`urn:epcglobal:cbv:bt:…`) are identifiers, not vocabulary.
_CBV_URN = re.compile(r"urn:epcglobal:cbv:(bizstep|disp|btt|sdt|er|comp):(.*)", re.DOTALL)
_CBV_URN_TYPE = {"bizstep": "BizStep-", "disp": "Disp-", "btt": "BTT-", "sdt": "SDT-", "er": "ER-", "comp": "Comp-"}

# --- EPC URNs (TDS 2.x) → canonical GS1 Digital Link ---------------------------------------------
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")
_EPC_URN = re.compile(r"urn:epc:(id|class|idpat):([a-z]+):(.*)", re.DOTALL)


@functools.lru_cache(maxsize=4096)
def _with_check_digit(digits: str) -> str:
    """Cached: a document names the same few GTINs, GLNs and SSCC prefixes over and over."""
    return digits + str(check_digit(digits))


def _escape(urn_part: str) -> str:
    """A URN component (TDS escapes such as `%2F`) as a Digital Link path segment (RFC 3986 unreserved
    characters kept, everything else percent-encoded)."""
    if _UNRESERVED.fullmatch(urn_part):  # the usual serial: nothing to escape
        return urn_part
    return quote(unquote(urn_part), safe="")


def _indicator_key(company_prefix: str, reference: str) -> str:
    """GTIN-14 (and its siblings) from a TDS split: the indicator digit leads the item reference."""
    return _with_check_digit(reference[:1] + company_prefix + reference[1:])


def _digital_link(scheme: str, fields: list[str]) -> str | None:  # noqa: C901 - one case per EPC scheme
    """The canonical Digital Link path of one EPC URN body (already split on "."), None if not a GS1 key."""
    match scheme, fields:
        case ("sgtin", [cp, ref, serial]) if serial != "*":
            return f"/01/{_indicator_key(cp, ref)}/21/{_escape(serial)}"
        case ("sgtin", [cp, ref, "*"]):  # an EPC pattern: the class
            return f"/01/{_indicator_key(cp, ref)}"
        case ("lgtin", [cp, ref, lot]):
            return f"/01/{_indicator_key(cp, ref)}/10/{_escape(lot)}"
        case ("sscc", [cp, ref]):
            return f"/00/{_indicator_key(cp, ref)}"
        case ("sgln", [cp, ref, extension]):
            gln = _with_check_digit(cp + ref)
            return f"/414/{gln}" if extension == "0" else f"/414/{gln}/254/{_escape(extension)}"
        case ("grai", [cp, ref, serial]):
            return f"/8003/0{_with_check_digit(cp + ref)}{_escape(serial)}"
        case ("giai", [cp, ref]):
            return f"/8004/{cp}{_escape(ref)}"
        case ("gsrn", [cp, ref]):
            return f"/8018/{_with_check_digit(cp + ref)}"
        case ("gsrnp", [cp, ref]):
            return f"/8017/{_with_check_digit(cp + ref)}"
        case ("gdti", [cp, ref, serial]):
            return f"/253/{_with_check_digit(cp + ref)}{_escape(serial)}"
        case ("sgcn", [cp, ref, serial]):
            return f"/255/{_with_check_digit(cp + ref)}{_escape(serial)}"
        case ("cpi", [cp, ref, serial]):
            return f"/8010/{cp}{_escape(ref)}/8011/{_escape(serial)}"
        case ("ginc", [cp, ref]):
            return f"/401/{cp}{_escape(ref)}"
        case ("gsin", [cp, ref]):
            return f"/402/{_with_check_digit(cp + ref)}"
        case ("pgln", [cp, ref]):
            return f"/417/{_with_check_digit(cp + ref)}"
        case ("itip", [cp, ref, piece, total, serial]):
            return f"/8006/{_indicator_key(cp, ref)}{piece}{total}/21/{_escape(serial)}"
        case ("upui", [cp, ref, tpx]):
            return f"/01/{_indicator_key(cp, ref)}/235/{_escape(tpx)}"
    return None


def _epc_to_digital_link(urn: str) -> str:
    match = _EPC_URN.fullmatch(urn)
    if match is None:
        return urn
    path = _digital_link(match[2], match[3].split("."))
    return urn if path is None else RESOLVER + path


# --- EPC lists: the hot loop ------------------------------------------------------------------------
# A line's events list SGTINs of one product: `urn:epc:id:sgtin:<company prefix>.<item reference>.` is
# the same in every EPC, and only the serial after it changes. The link of that prefix is worked out
# once (by the general conversion above, so it cannot disagree with it); each EPC then costs string
# operations on the whole list instead of a regex, a split and a match statement.
_SGTIN = "urn:epc:id:sgtin:"
_SGTIN_LINKS: dict[str, str] = {}  # prefix (without the last ".") → "epc=https://id.gs1.org/01/<GTIN>/21/" or ""
_SGTIN_LINKS_SIZE = 4096  # distinct product prefixes; cleared when full (a document names a few)


def _sgtin_link(prefix: str) -> str:
    """`epc=<link up to the serial>` for an SGTIN prefix of digits, "" for any other prefix (cached both
    ways: a list of something else asks again for each of its items)."""
    link = _SGTIN_LINKS.get(prefix)
    if link is not None:
        return link
    link = ""
    body = prefix[len(_SGTIN) :]
    if prefix.startswith(_SGTIN) and body.count(".") == 1 and body.isascii() and body.replace(".", "").isdigit():
        probe = _epc_to_digital_link(prefix + ".0")
        if probe.startswith(RESOLVER) and probe.endswith("/21/0"):
            link = "epc=" + probe[:-1]
    if len(_SGTIN_LINKS) >= _SGTIN_LINKS_SIZE:
        _SGTIN_LINKS.clear()
    _SGTIN_LINKS[prefix] = link
    return link


# What _plain lets through, as bytes to delete: whatever is left is a character it does not.
_PLAIN_BYTES = (string.ascii_letters + string.digits + "-_").encode()


def _plain(serials: str) -> bool:
    """Only A-Z, a-z, 0-9, "-" and "_": what a Digital Link keeps as it is (RFC 3986 unreserved, no
    escape to undo) and what the reference writes unchanged too. Anything else takes the general path.
    (bytes.translate, not str.isalnum: that one looks every character up in the Unicode tables.)"""
    return serials.isascii() and not serials.encode().translate(None, _PLAIN_BYTES)


def _one_product_sgtins(epcs: list[Any]) -> str | None:
    """The sorted `epc=…` parts of a list of SGTIN URNs that share one prefix and have plain serials,
    or None if the list is anything else. No step runs per EPC in Python: the items, each after a
    newline, are split on newline + prefix; n + 1 pieces, the first empty, the others plain (so
    holding no newline), mean that the n newlines are the n separators, each followed by the
    prefix: every item is the prefix and a plain serial. (An empty serial is allowed: the general
    path writes it as nothing after "/21/" too.)"""
    first = epcs[0]
    if type(first) is not str:
        return None
    prefix = first.rpartition(".")[0]
    link = _sgtin_link(prefix)
    if not link:
        return None
    try:
        serials = ("\n" + "\n".join(epcs)).split("\n" + prefix + ".")
    except TypeError:  # an item that is not a string
        return None
    if len(serials) != len(epcs) + 1 or serials[0]:
        return None
    del serials[0]
    if not _plain("".join(serials)):
        return None
    # Every part is `link + serial`: sorting the serials sorts the parts.
    serials.sort()
    return link + link.join(serials)


def _sgtin_part(epc: Any) -> str | None:
    """One `epc=…` part by the SGTIN prefix table, None if `epc` is not such an SGTIN."""
    if type(epc) is not str:
        return None
    prefix, _, serial = epc.rpartition(".")
    link = _sgtin_link(prefix)
    return link + serial if link and _plain(serial) else None


# Any Digital Link (any domain, any path prefix): the primary key and its qualifiers, query dropped.
_HTTP = re.compile(r"https?://[^/?#]+(/[^?#]*)(?:\?[^#]*)?(?:#.*)?", re.DOTALL)
# Primary keys → the qualifiers kept (the finest level of identification, GS1 DL 1.2 §4.11 constrained).
_KEY_QUALIFIERS: dict[str, tuple[str, ...]] = {
    "00": (),
    "01": ("21", "10", "235"),
    "253": (),
    "255": (),
    "401": (),
    "402": (),
    "414": ("254",),
    "417": (),
    "8003": (),
    "8004": (),
    "8006": ("21", "10"),
    "8010": ("8011",),
    "8017": (),
    "8018": (),
}
_FIRST_ONLY = {"01": ("21", "10", "235"), "8006": ("21", "10")}  # one qualifier: serial over lot


def digital_link(text: str) -> str:
    """A GS1 key in its canonical Digital Link, written as an EPC URN or any Digital Link; any
    other identifier as written (CBV 2.0 §8.9: the form event hashes are computed over)."""
    return _epc_to_digital_link(text) if text.startswith("urn:epc:") else _canonical_digital_link(text)


def _canonical_digital_link(url: str) -> str:
    match = _HTTP.fullmatch(url)
    if match is None:
        return url
    segments = match[1].split("/")
    for start in range(1, len(segments) - 1):
        key = segments[start]
        if key in _KEY_QUALIFIERS and (len(segments) - start) % 2 == 0 and segments[start + 1]:
            return RESOLVER + _key_path(key, segments[start:])
    return url


def _key_path(key: str, pairs: list[str]) -> str:
    value = pairs[1]
    if key == "01" and value.isdigit() and len(value) < 14:  # GTIN-8/12/13 written short: GTIN-14
        value = value.zfill(14)
    qualifiers = dict(zip(pairs[2::2], pairs[3::2], strict=True))
    kept = [q for q in _KEY_QUALIFIERS[key] if q in qualifiers]
    if key in _FIRST_ONLY:
        kept = kept[:1]
    return f"/{key}/{value}" + "".join(f"/{q}/{qualifiers[q]}" for q in kept)


# --- values ---------------------------------------------------------------------------------------
_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?\s*(Z|[+-]\d\d:?\d\d)?", re.IGNORECASE
)


_UTC_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
# The other usual shape: milliseconds and an offset (a line writes its local time). ASCII digits only and
# seconds below 60, so that what is copied from the text is what the general path would write.
_OFFSET_MILLIS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9]\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}")
_UTC_MINUTES: dict[str, str] = {}  # "YYYY-MM-DDTHH:MM" + offset → the same minute in UTC
_UTC_MINUTES_SIZE = 4096


def canonical_time(text: str) -> str:
    """UTC with milliseconds (`2005-04-04T02:33:31.116Z`), rounded half to even as the reference
    does; a time without offset is taken as UTC. Text that is not a time is kept."""
    if text[-1:] == "Z":  # one regex per time, not two: the canonical shape ends with Z, the other never
        if _UTC_MILLIS.fullmatch(text):  # already canonical, as most documents write it
            return text
    elif _OFFSET_MILLIS.fullmatch(text):
        # An offset is whole minutes: it moves the minute (and the hour, the day…), never the seconds
        # and milliseconds. The events of a document fall in few minutes, so a minute is converted
        # once (by the general path) and each event copies its seconds.
        key = text[:16] + text[23:]
        minute = _UTC_MINUTES.get(key)
        if minute is None:
            minute = _utc(text[:16] + ":00.000" + text[23:]).removesuffix(":00.000Z")
            if len(_UTC_MINUTES) >= _UTC_MINUTES_SIZE:
                _UTC_MINUTES.clear()
            _UTC_MINUTES[key] = minute
        return minute + text[16:23] + "Z"
    return _utc(text)


def _utc(text: str) -> str:
    match = _TIME.fullmatch(text.strip())
    if match is None:
        return text.strip()
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC)
    moment += timedelta(milliseconds=round(micros / 1000))
    if offset and offset.upper() != "Z":
        sign = -1 if offset[0] == "-" else 1
        moment -= sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[-2:]))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _number(text: str) -> str:
    """Numbers without trailing zeros: whatever Python reads as a float is written back as an integer
    when it is one (`"200.0"` → `200`), else as Python writes the float. Anything else is kept."""
    try:
        number = float(text)
        whole = int(number)
    except (ValueError, OverflowError):  # not a number, NaN, infinity
        return text
    return str(whole) if number == whole else repr(number)


class Namespaces:
    """The prefixes a document's `@context` declares itself (`{"example": "http://ns.example.com/epcis/"}`).
    Keys `prefix:name` become `{namespace}name`, values `prefix:name` become `namespacename`.

    It also remembers the canonical text of every string value it has seen, and the written form of
    the standard fields that repeat: a document repeats its locations, vocabulary, lots and dates in
    every event, and canonicalising one costs regexes and a float(). The prefixes are therefore fixed
    once built."""

    def __init__(self, context: Any = None) -> None:
        self.prefixes: dict[str, str] = {}
        for entry in context if isinstance(context, list) else [context]:
            if isinstance(entry, Mapping):
                for prefix, namespace in entry.items():
                    if isinstance(namespace, str) and not prefix.startswith("@"):
                        self.prefixes[prefix] = namespace
        self.values: dict[str, str] = {}  # the value as written → its canonical text (no vocabulary)
        self.fields: dict[tuple[str, ...], str] = {}  # a repeating standard field (see _repeat_key) → written
        self.parts: dict[tuple[str, str], str] = {}  # (name, string value) of any other field → its part

    def remember_field(self, key: tuple[str, ...], written: str) -> str:
        if len(self.fields) >= _VALUES_SIZE:
            self.fields.clear()
        self.fields[key] = written
        return written

    def remember_part(self, key: tuple[str, str], part: str) -> str:
        if len(self.parts) >= _VALUES_SIZE:
            self.parts.clear()
        self.parts[key] = part
        return part

    def key(self, name: str) -> str:
        prefix, colon, local = name.partition(":")
        namespace = self.prefixes.get(prefix) if colon else None
        return name if namespace is None else "{" + namespace + "}" + local

    def value(self, text: str) -> str:
        prefix, colon, local = text.partition(":")
        namespace = self.prefixes.get(prefix) if colon else None
        return text if namespace is None else namespace + local


_VALUES_SIZE = 32768  # values remembered per Namespaces; cleared when full (unique ids churn it)
_SHARED: dict[tuple[tuple[str, str], ...], Namespaces] = {}  # declared prefixes → one Namespaces
_last: tuple[Any, Namespaces | None] = (None, None)  # the last @context asked about (a copy), its Namespaces


def namespaces(context: Any) -> Namespaces:
    """The Namespaces of a document's `@context`, one per distinct set of prefixes: `event_hash_id` is
    called per event with the same `@context`, and this is how its value cache outlives the call."""
    global _last
    if isinstance(context, Namespaces):
        return context
    last_context, last = _last
    if last is not None and context == last_context:  # the usual call: the same document's @context again
        return last
    fresh = Namespaces(context)
    key = tuple(fresh.prefixes.items())
    shared = _SHARED.get(key)
    if shared is None:
        if len(_SHARED) >= 64:  # documents with ever new prefixes: start again rather than grow
            _SHARED.clear()
        shared = _SHARED[key] = fresh
    _last = (copy.deepcopy(context), shared)  # a copy: the caller may change its own afterwards
    return shared


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float):
        return repr(value)
    return str(value)  # int, and bool/None as Python spells them (the reference's `True`)


def canonical_value(value: Any, ns: Namespaces, terms: Mapping[str, str] = _NO_TERMS) -> str:
    """One value as the pre-hash string writes it (`terms`: the field's bare-string vocabulary)."""
    if type(value) is not str:  # only exact strings are cached: 1, 1.0 and True are equal keys
        text = _text(value)
        return terms[text] if text in terms else _canonical_text(text, ns)
    if terms:  # a vocabulary word never reaches the cache, which holds what a value is without one
        term = terms.get(value.strip())
        if term is not None:
            return term
    known = ns.values.get(value)
    if known is None:
        known = _canonical_text(value.strip(), ns)
        if len(ns.values) >= _VALUES_SIZE:
            ns.values.clear()
        ns.values[value] = known
    return known


def _canonical_text(text: str, ns: Namespaces) -> str:
    if text.startswith("urn:"):
        cbv = _CBV_URN.fullmatch(text)
        if cbv is not None:
            return CBV + _CBV_URN_TYPE[cbv[1]] + cbv[2]
        return _epc_to_digital_link(text)
    if text.startswith(("http://", "https://")):
        return _canonical_digital_link(text)
    if ns.prefixes:
        text = ns.value(text)
    return _number(text)


# --- structure --------------------------------------------------------------------------------------
_NOT_IDENTITY = frozenset({"type", "eventID", "recordTime", "errorDeclaration", "@context"})
_EPC_LISTS = ("epcList", "inputEPCList", "childEPCs")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList")
_SENSOR_METADATA: tuple[str, ...] = ("time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData")
_SENSOR_METADATA += ("dataProcessingMethod", "bizRules")
_SENSOR_REPORT: tuple[str, ...] = (
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "time",
)
_SENSOR_REPORT += ("microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue")
_SENSOR_REPORT += ("hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank")
_SENSOR_REPORT += ("percValue", "uom", "coordinateReferenceSystem")
_TIME_FIELDS = frozenset({"time", "startTime", "endTime"})
_FIELD_TERMS = {"type": MEASUREMENT_TYPE, "exception": SENSOR_EXCEPTION, "component": COMPONENT}
_TYPED_LISTS = {"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination"}
_TYPED_TERMS = {"bizTransactionList": BIZ_TRANSACTION_TYPE}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _field(name: str, value: Any, ns: Namespaces, terms: Mapping[str, str] = _NO_TERMS) -> str:
    """`name=value` per value (a list field once per item, sorted); a value that canonicalises to
    nothing leaves the bare name, as an empty XML element would."""
    if not isinstance(value, list):  # the usual field: one value, nothing to sort
        text = canonical_value(value, ns, terms)
        return f"{name}={text}" if text else name
    parts = []
    for item in value:
        text = canonical_value(item, ns, terms)
        parts.append(f"{name}={text}" if text else name)
    return "".join(sorted(parts))


def _generic(name: str, value: Any, ns: Namespaces) -> list[str]:
    """Extensions, ILMD and unknown fields: `{namespace}name=value`; an object is its name followed by
    its children sorted; a list repeats its name per item (XML's repeated elements)."""
    if type(value) is str:  # the usual case; remembered, as lots and dates repeat (see _children)
        text = canonical_value(value, ns)
        key = ns.key(name)
        return [ns.remember_part((name, value), f"{key}={text}" if text else key)]
    if isinstance(value, list):
        return [part for item in value for part in _generic(name, item, ns)]
    if type(value) is dict or isinstance(value, Mapping):  # a dict needs no walk through the ABCs
        return [ns.key(name) + _children(value, ns)]
    text = canonical_value(value, ns)
    key = ns.key(name)
    return [f"{key}={text}" if text else key]


def _children(fields: Mapping[str, Any], ns: Namespaces) -> str:
    parts = []
    remembered = ns.parts
    for name, value in fields.items():
        if type(value) is str and (part := remembered.get((name, value))) is not None:
            parts.append(part)
        else:
            parts.extend(_generic(name, value, ns))
    parts.sort()
    return "".join(parts)


def _is_extension(name: str, ns: Namespaces) -> bool:
    """A user extension kept in place inside a standard field (CBV 2.0 §8.9 rule 21): a key of a
    declared namespace that ends with "/" (as the reference decides; "#" namespaces are strays too). Anything
    else inside readPoint,
    bizLocation or a sensor element is a "stray" that the reference lists after the event's
    standard fields, under its parent's name again."""
    prefix, colon, _ = name.partition(":")
    namespace = ns.prefixes.get(prefix) if colon else None
    return namespace is not None and namespace.endswith("/")


def _split(fields: Mapping[str, Any], standard: Iterable[str], ns: Namespaces) -> tuple[str, str]:
    """A standard field's extensions (sorted, in place) and its strays (sorted, to be listed apart)."""
    known = set(standard)
    if known.issuperset(fields):  # no extension, no stray (the usual location: just its id)
        return "", ""
    extensions = {k: v for k, v in fields.items() if k not in known and _is_extension(k, ns)}
    strays = {k: v for k, v in fields.items() if k not in known and k not in extensions}
    return _children(extensions, ns), _children(strays, ns)


def _epcs(name: str, epcs: Any, ns: Namespaces) -> str:
    if not epcs:
        return ""
    if not isinstance(epcs, list):
        return name + _field("epc", epcs, ns)
    one_product = _one_product_sgtins(epcs)
    if one_product is not None:
        return name + one_product
    parts = []
    for epc in epcs:  # as `_field` writes them, the SGTINs by their prefix's link
        part = _sgtin_part(epc)
        if part is None:
            text = canonical_value(epc, ns)
            part = "epc=" + text if text else "epc"
        parts.append(part)
    parts.sort()
    return name + "".join(parts)


def _quantities(name: str, elements: list[Mapping[str, Any]], ns: Namespaces) -> str:
    rendered = sorted(
        "quantityElement" + "".join(_field(k, element[k], ns) for k in ("epcClass", "quantity", "uom") if k in element)
        for element in elements
    )
    return name + "".join(rendered) if rendered else ""


def _location(name: str, location: Mapping[str, Any], ns: Namespaces) -> tuple[str, str]:
    """readPoint/bizLocation: the id, then the location's user extensions sorted (CBV 2.0 §8.9 rule 21)."""
    if type(location) is dict and len(location) == 1 and "id" in location:  # the usual location: its id
        return name + _field("id", location["id"], ns), ""
    head = _field("id", location["id"], ns) if "id" in location else ""
    extensions, strays = _split(location, ("id",), ns)
    return name + head + extensions, (name + strays if strays else "")


def _typed(list_name: str, items: list[Mapping[str, Any]], ns: Namespaces) -> str:
    """bizTransactionList/sourceList/destinationList: each `type=…` then `<item>=…`, items sorted."""
    item_name, terms = _TYPED_LISTS[list_name], _TYPED_TERMS.get(list_name, SOURCE_DESTINATION_TYPE)
    rendered = sorted(
        (_field("type", item["type"], ns, terms) if "type" in item else "") + _field(item_name, item.get(item_name), ns)
        for item in items
    )
    return list_name + "".join(rendered)


def _sensor_part(name: str, fields: Mapping[str, Any], order: tuple[str, ...], ns: Namespaces) -> tuple[str, str]:
    head = []
    for key in order:
        if key in fields:
            value = fields[key]
            if key in _TIME_FIELDS:
                head.append(f"{key}={canonical_time(_text(value))}")
            else:
                head.append(_field(key, value, ns, _FIELD_TERMS.get(key, _NO_TERMS)))
    extensions, strays = _split(fields, order, ns)
    return name + "".join(head) + extensions, (name + strays if strays else "")


def _sensor_element(element: Mapping[str, Any], ns: Namespaces) -> tuple[str, str]:
    """A sensor element: its metadata, its reports sorted, its extensions; and its strays."""
    parts, strays = ["sensorElement"], []
    if "sensorMetadata" in element:
        body, stray = _sensor_part("sensorMetadata", element["sensorMetadata"], _SENSOR_METADATA, ns)
        parts.append(body)
        strays.append(stray)
    reports = [_sensor_part("sensorReport", r, _SENSOR_REPORT, ns) for r in _as_list(element.get("sensorReport", []))]
    parts.extend(sorted(body for body, _ in reports))
    strays.extend(stray for _, stray in reports)
    extensions = _split(element, ("sensorMetadata", "sensorReport"), ns)[0]
    parts.append(extensions)
    strays.extend(_generic_parts(element, ("sensorMetadata", "sensorReport"), ns))
    stray_text = "".join(sorted(s for s in strays if s))
    return "".join(parts), ("sensorElement" + stray_text if stray_text else "")


def _generic_parts(fields: Mapping[str, Any], standard: Iterable[str], ns: Namespaces) -> list[str]:
    """The strays of `fields` one by one (sorted with their siblings by the caller)."""
    known = set(standard)
    return [
        part for k, v in fields.items() if k not in known and not _is_extension(k, ns) for part in _generic(k, v, ns)
    ]


def _sensor_elements(elements: list[Mapping[str, Any]], ns: Namespaces) -> tuple[str, str]:
    rendered = [_sensor_element(e, ns) for e in elements]
    body = "sensorElementList" + "".join(sorted(b for b, _ in rendered))
    strays = "".join(sorted(s for _, s in rendered if s))
    return body, ("sensorElementList" + strays if strays else "")


# Each standard field's place in the canonical order (eventType is first, always) and how it is written:
# one pass over the event's own keys, rather than a lookup of every standard name in every event.
# A writer may add strays (fields inside readPoint, bizLocation or a sensor element that the reference
# lists after the standard fields) to the rest, which is sorted.
_Writer = Callable[[str, Any, Namespaces, list[str]], str]


def _time_field(name: str, value: Any, ns: Namespaces, rest: list[str]) -> str:
    return f"{name}={canonical_time(_text(value))}"


def _text_field(name: str, value: Any, ns: Namespaces, rest: list[str]) -> str:
    return f"{name}={_text(value)}"


def _value_field(name: str, value: Any, ns: Namespaces, rest: list[str]) -> str:
    return _field(name, value, ns)


def _biz_step_field(name: str, value: Any, ns: Namespaces, rest: list[str]) -> str:
    return _field(name, value, ns, BIZ_STEP)


def _disposition_field(name: str, value: Any, ns: Namespaces, rest: list[str]) -> str:
    return _field(name, value, ns, DISPOSITION)


def _persistent_field(name: str, value: Any, ns: Namespaces, rest: list[str]) -> str:
    return name + "".join(_field(k, value[k], ns, DISPOSITION) for k in ("set", "unset") if k in value)


def _epc_field(name: str, value: Any, ns: Namespaces, rest: list[str]) -> str:
    return _epcs(name, value, ns)


def _quantity_field(name: str, value: Any, ns: Namespaces, rest: list[str]) -> str:
    return _quantities(name, value or [], ns)


def _location_field(name: str, value: Any, ns: Namespaces, rest: list[str]) -> str:
    body, stray = _location(name, value, ns)
    if stray:
        rest.append(stray)
    return body


def _sensor_field(name: str, value: Any, ns: Namespaces, rest: list[str]) -> str:
    if not value:
        return ""
    body, stray = _sensor_elements(value, ns)
    if stray:
        rest.append(stray)
    return body


# Fields whose value a document repeats from event to event (vocabulary, offset, locations): each is
# written once per value and remembered with the Namespaces. Their writers add no strays for such a
# value (a string, or a location that is just its id), so the remembered text is the whole answer.
_REPEATING = frozenset(
    {"eventTimeZoneOffset", "action", "bizStep", "disposition", "readPoint", "bizLocation", "certificationInfo"}
)
_STANDARD: dict[str, tuple[int, _Writer, bool]] = {
    name: (slot, writer, name in _REPEATING)
    for slot, (name, writer) in enumerate(
        [
            ("eventTime", _time_field),
            ("eventTimeZoneOffset", _text_field),
            ("certificationInfo", _value_field),
            ("parentID", _value_field),
            *((name, _epc_field) for name in _EPC_LISTS),
            *((name, _quantity_field) for name in _QUANTITY_LISTS),
            ("outputEPCList", _epc_field),
            ("outputQuantityList", _quantity_field),
            ("action", _value_field),
            ("transformationID", _value_field),
            ("bizStep", _biz_step_field),
            ("disposition", _disposition_field),
            ("persistentDisposition", _persistent_field),
            ("readPoint", _location_field),
            ("bizLocation", _location_field),
            ("sensorElementList", _sensor_field),
        ],
        start=1,
    )
}


def _repeat_key(name: str, value: Any) -> tuple[str, ...] | None:
    """The key a repeating field is remembered by, None for a value that is not remembered. Only exact
    strings: 1, 1.0 and True are equal keys but written apart."""
    if type(value) is str:
        return (name, value)
    if type(value) is dict and len(value) == 1 and type(location := value.get("id")) is str:
        return (name, location, "id")  # a location that is just its id (three items: never a string's key)
    return None


def pre_hash_string(event: Mapping[str, Any], context: Any = None) -> str:
    """The CBV 2.0 §8.9 pre-hash string of one EPCIS 2.0 JSON-LD event (`context`: the document's
    `@context`, for the prefixes of its extensions). For diagnostics; `event_hash_id` hashes it."""
    ns = namespaces(context)
    ordered = [""] * (len(_STANDARD) + 1)
    ordered[0] = f"eventType={_text(event.get('type', ''))}"
    rest: list[str] = []
    for name, value in event.items():
        standard = _STANDARD.get(name)
        if standard is not None:
            slot, write, repeating = standard
            key = _repeat_key(name, value) if repeating else None
            if key is None:
                ordered[slot] = write(name, value, ns, rest)
            elif (written := ns.fields.get(key)) is not None:
                ordered[slot] = written
            else:
                ordered[slot] = ns.remember_field(key, write(name, value, ns, rest))
        elif name in _TYPED_LISTS:
            if value:
                rest.append(_typed(name, value, ns))
        elif name not in _NOT_IDENTITY and not name.startswith("rdfs:"):  # comments are not identity
            rest.extend(_generic(name, value, ns))
    rest.sort()
    return "".join(ordered) + "".join(rest)


def event_hash_id(event: Mapping[str, Any], context: Any = None) -> str:
    """`ni:///sha-256;<hex>?ver=CBV2.0` (RFC 6920) of one EPCIS 2.0 JSON-LD event."""
    return _hash_id(event, namespaces(context))


def _hash_id(event: Mapping[str, Any], ns: Namespaces) -> str:
    digest = hashlib.sha256(pre_hash_string(event, ns).encode()).hexdigest()
    return f"ni:///sha-256;{digest}?ver={VERSION}"


# --- a document over the machine's cores ------------------------------------------------------------
# One core's cost of an event and of each EPC in it (bench/event_hash.py on the shared documents,
# rounded up), to tell a document worth forking for from one that is not. Forking and collecting a
# child costs a few ms, more as this process grows (its page tables are copied), and both processes
# then pay copy-on-write faults on every page they write: on the 2-vCPU bench machine, two processes
# were slower than one for 2,000 one-EPC events (about 20 ms of work) and 1.2-1.4 times faster for
# 2,000 events of 100 EPCs (about 85 ms). Below _MIN_SHARE_MS a share is not worth a process.
_EVENT_US, _EPC_US, _MIN_SHARE_MS = 10.0, 0.4, 25.0
_SAMPLE = 32  # events whose sizes stand for the document's


def event_hash_ids(
    events: Sequence[Mapping[str, Any]], context: Any = None, *, processes: int | None = None
) -> list[str]:
    """The Event Hash ID of every event of one document, in order: `event_hash_id` of each.

    A large document is spread over the CPUs this process may use: it forks `processes - 1` children,
    child k hashing events k, k + processes, k + 2 * processes… (every share gets its part of each
    kind of event), reading them from the memory the fork shares (nothing is pickled), and hashes
    share 0 itself. `processes=None` decides: one process unless the document is big enough for a
    fork to pay, the CPUs are there, and this process runs no other thread (fork copies only the
    calling thread, and a lock another thread holds stays taken in the child). Pass `processes`
    explicitly to fork anyway, or 1 never to fork."""
    ns = namespaces(context)
    count = _processes(events, processes)
    if count == 1:
        return [_hash_id(event, ns) for event in events]
    return _in_parallel(events, ns, count)


def _processes(events: Sequence[Mapping[str, Any]], requested: int | None) -> int:
    if not hasattr(os, "fork"):
        return 1
    if requested is None:
        if threading.active_count() > 1:
            return 1
        requested = min(_usable_cpus(), int(_estimated_ms(events) // _MIN_SHARE_MS))
    return max(1, min(requested, len(events)))


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):  # the CPUs this process may run on, not the machine's
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _estimated_ms(events: Sequence[Mapping[str, Any]]) -> float:
    """One core's time for the whole document, from the sizes of a few of its events spread over it."""
    if not events:
        return 0.0
    sample = events[:: max(1, len(events) // _SAMPLE)]
    epcs = sum(_epc_count(event) for event in sample)
    return len(events) * (_EVENT_US + _EPC_US * epcs / len(sample)) / 1000


def _epc_count(event: Any) -> int:
    if not isinstance(event, Mapping):
        return 0
    return sum(len(epcs) for name in _EPC_FIELDS if isinstance(epcs := event.get(name), list))


_EPC_FIELDS = (*_EPC_LISTS, "outputEPCList")


def _in_parallel(events: Sequence[Mapping[str, Any]], ns: Namespaces, processes: int) -> list[str]:
    ids: list[str] = [""] * len(events)
    children: dict[int, tuple[int, int]] = {}  # share → the child's pid and the read end of its pipe
    try:
        for share in range(1, processes):
            children[share] = _fork_share(events[share::processes], ns)
        ids[::processes] = [_hash_id(event, ns) for event in events[::processes]]
        for share in range(1, processes):
            answer = _collect(*children.pop(share))
            # A child that failed: its share again here, to raise what it raised, with its traceback.
            ids[share::processes] = answer or [_hash_id(event, ns) for event in events[share::processes]]
    finally:
        for pid, pipe in children.values():  # this process failed first: stop and reap the rest
            os.close(pipe)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return ids


def _fork_share(share: Sequence[Mapping[str, Any]], ns: Namespaces) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:
        _hash_share_and_exit(share, ns, read_end, write_end)
    os.close(write_end)  # else this process would hold the pipe open and never read its end
    return pid, read_end


def _hash_share_and_exit(share: Sequence[Mapping[str, Any]], ns: Namespaces, read_end: int, write_end: int) -> NoReturn:
    """In the child: the share's ids, one a line, into the pipe; then out at once, without the
    parent's atexit handlers, buffers to flush or objects to clean up."""
    status = 1
    try:
        os.close(read_end)
        gc.disable()  # short-lived: a collection would only touch, and so copy, the parent's pages
        payload = "\n".join([_hash_id(event, ns) for event in share]).encode()
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        status = 0
    finally:
        os._exit(status)


def _collect(pid: int, pipe: int) -> list[str] | None:
    """A child's ids, None if it failed."""
    try:
        with os.fdopen(pipe, "rb") as reader:
            payload = reader.read()
    finally:
        status = os.waitpid(pid, 0)[1]
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    return payload.decode().split("\n")
