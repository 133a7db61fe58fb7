"""Standard vocabulary as EPCIS XML writes it. JSON-LD names a CBV term by its bare word
(`"bizStep": "shipping"`); XML by its URN (`urn:epcglobal:cbv:bizstep:shipping`), the one form
both EPCIS 1.2 and 2.0 read (CBV 2.0 §6: the URN and the web URI name the same term; every
official XML example writes URNs). Sensor vocabulary has no URN: it is written as its full web
URI (`https://gs1.org/voc/Temperature`) rather than as a CURIE that only some readers resolve.

The word lists are the hash's (`serialtrail_gs1.event_hash`): one list of CBV terms, so a word
the hash knows is a word the writer knows."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from serialtrail_gs1.epcis_xml_out.errors import NotWritable
from serialtrail_gs1.epcis_xml_out.names import XmlNames
from serialtrail_gs1.event_hash import (
    BIZ_STEP,
    BIZ_TRANSACTION_TYPE,
    CBV,
    COMPONENT,
    DISPOSITION,
    GS1_VOC,
    MEASUREMENT_TYPE,
    SENSOR_EXCEPTION,
    SOURCE_DESTINATION_TYPE,
)


@dataclass(frozen=True)
class Cbv:
    """One CBV vocabulary: the URN's type (`bizstep`) and the web URI's prefix (`BizStep-`)."""

    urn_type: str
    web_prefix: str
    words: frozenset[str]

    def urn(self, value: str, where: str) -> str:
        """A bare word, a CBV web URI or CURIE (`cbv:BizStep-shipping`) as the term's URN; a
        URN or any user vocabulary URI as given; anything else refused."""
        if value in self.words:
            return f"urn:epcglobal:cbv:{self.urn_type}:{value}"
        for form in (CBV + self.web_prefix, "cbv:" + self.web_prefix):
            if value.startswith(form) and value[len(form) :] in self.words:
                return f"urn:epcglobal:cbv:{self.urn_type}:{value[len(form) :]}"
        if ":" in value:  # a URI: the CBV's own URN, or a user vocabulary (CBV 2.0 §6.1)
            return value
        raise NotWritable(where, f"{value!r} is neither a CBV 2.0 term nor a URI")


BIZ_STEPS = Cbv("bizstep", "BizStep-", frozenset(BIZ_STEP))
DISPOSITIONS = Cbv("disp", "Disp-", frozenset(DISPOSITION))
BIZ_TRANSACTION_TYPES = Cbv("btt", "BTT-", frozenset(BIZ_TRANSACTION_TYPE))
SOURCE_DESTINATION_TYPES = Cbv("sdt", "SDT-", frozenset(SOURCE_DESTINATION_TYPE))
ERROR_REASONS = Cbv("er", "ER-", frozenset({"did_not_occur", "incorrect_data"}))

# Sensor vocabulary, bare word → web URI (the JSON-LD context scopes these words to a field).
MEASUREMENT_TYPES: Mapping[str, str] = MEASUREMENT_TYPE
COMPONENTS: Mapping[str, str] = COMPONENT
SENSOR_EXCEPTIONS: Mapping[str, str] = SENSOR_EXCEPTION
_STANDARD_CURIES = {"gs1:": GS1_VOC, "cbv:": CBV}


def sensor_term(value: str, terms: Mapping[str, str], names: XmlNames) -> str:
    """A sensor field's vocabulary value as a full URI: its bare word, a `gs1:`/`cbv:` CURIE,
    or a CURIE of the document's own prefixes; any other URI as given."""
    if value in terms:
        return terms[value]
    expanded = names.expand(value)
    if expanded != value:
        return expanded
    for curie, namespace in _STANDARD_CURIES.items():
        if value.startswith(curie):
            return namespace + value[len(curie) :]
    return value


# The XSD's DateTimeStamp (EPCIS 2.0): a date-time with its offset, which EPCIS requires.
_DATE_TIME_STAMP = re.compile(
    r"\d{4}-(?:1[0-2]|0[1-9])-(?:3[01]|0[1-9]|[12]\d)T(?:2[0-3]|[01]\d):[0-5]\d:[0-5]\d(?:\.\d+)?"
    r"(?:Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))"
)
_OFFSET = re.compile(r"[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00)")


def date_time_stamp(value: object, where: str) -> str:
    """A time as given, refused unless it carries an offset (`Z` or `±hh:mm`)."""
    if not isinstance(value, str) or _DATE_TIME_STAMP.fullmatch(value) is None:
        raise NotWritable(where, f"{value!r} is not a date-time with a time zone offset (e.g. 2026-03-01T08:00:00Z)")
    return value


def time_zone_offset(value: object, where: str) -> str:
    if not isinstance(value, str) or _OFFSET.fullmatch(value) is None:
        raise NotWritable(where, f"{value!r} is not a time zone offset (±hh:mm)")
    return value
