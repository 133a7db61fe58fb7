"""The authorization matrix, generated from the OpenAPI document: every operation x role x
{own, other company, other CMO, other line}, each asserting the exact answer.

What each operation needs comes from the document itself (`x-serialtrail-permission`, the
roles holding it, and `x-serialtrail-resource`: the kind of resource whose owner the kit
checks), so a new route is covered without editing this test. Requests are built from the
operation's own example body and path template, with the values of a *sample* of its
resource kind substituted: one sample per kind and ownership variant, below. A route whose
resource kind has no sample fails here, naming it.

The expected answer follows from the rules the product promises:
- a role without the permission: 403; a narrowed principal on a whole-log resource: 403;
- a principal no scope narrows, and a narrowed one on what it owns: success (2xx);
- a narrowed principal on another owner's resource: 403 when the request itself names what
  is out of scope (the other company's GTIN or SSCC, the other line, the other CMO), and
  otherwise exactly the answer for an unknown resource of that kind (existence never leaks).
"""

from __future__ import annotations

import copy
import itertools
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from eu_hub_simulator.testing import RunningSimulator, running_simulator
from fmd_hub.settings import FmdHubSettings
from issuance_helpers import batch, product, site
from pydantic import SecretStr
from serialtrail.services import SERVICES
from serialtrail_contracts.identity import Role, Scope
from serialtrail_gs1.keys import check_digit
from serialtrail_kit.testing.clock import moment
from serialtrail_kit.testing.harness import Harness, serve
from serialtrail_kit.testing.outbound import fast_settings
from serialtrail_kit.testing.waiting import until

GTIN_A, GTIN_B = "09506000134352", "04000001000012"
SITE_A, SITE_B = "9506000000008", "4000001000005"
SITE_O = "9506000000022"  # the CMO OTHER's, with its line OTHER-L1
OWN = Scope(
    company_prefixes=frozenset({"9506000"}),
    sites=frozenset({SITE_A}),
    lines=frozenset({"LINE-1"}),
    cmos=frozenset({"ACME"}),
)
OTHER_COMPANY = Scope(company_prefixes=frozenset({"4000001"}), sites=frozenset({SITE_B}), cmos=frozenset({"BCMO"}))
# What only the other owner's requests contain: a request naming it is refused outright (403).
DISTINCT = {"other-company": "4000001", "other-cmo": "OTHER", "other-line": "LINE-2"}
VARIANTS = ("own", *DISTINCT)
PRINCIPALS = [
    (Role.admin, None),
    (Role.qa, None),
    (Role.auditor, None),
    (Role.auditor, OWN),
    (Role.cmo, OWN),
    (Role.line, OWN),
    (Role.partner, OWN),
]


@dataclass
class Supply:
    """Fresh identifiers for commands that may each be used once."""

    serials: dict[str, list[str]] = field(default_factory=dict)  # by lot
    ssccs: dict[str, list[str]] = field(default_factory=dict)  # by company prefix

    def serial(self, lot: str) -> str:
        return self.serials[lot].pop()

    def sscc(self, prefix: str) -> str:
        return self.ssccs[prefix].pop()


@dataclass
class World:
    harness: Harness
    supply: Supply
    ids: dict[str, str]  # request ids, packed cases, commissioned serials, a signature
    open_cases: dict[str, list[str]] = field(default_factory=dict)  # by variant: to unpack or close
    keys: list[str] = field(default_factory=list)  # to revoke
    commissioned: dict[str, list[str]] = field(default_factory=dict)  # by lot: to take out of the supply chain
    records: dict[str, list[str]] = field(default_factory=dict)  # by variant: open exception records
    holds: dict[str, list[str]] = field(default_factory=dict)  # by variant: active holds
    deviations: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # by variant: open ones, a CAPA each
    taken_out: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # by variant: a record and its unit
    grants: dict[str, list[str]] = field(default_factory=dict)  # by variant: lots granted to PARTNER_GLN, to revoke
    own_queries: list[str] = field(default_factory=list)  # named queries of the principal under test
    own_subscriptions: list[tuple[str, str]] = field(default_factory=list)  # and subscriptions to them
    to_upload: set[str] = field(default_factory=set)  # lots an upload may have left nothing new in
    alerts: dict[str, list[str]] = field(default_factory=dict)  # by variant: new alerts of the hub's
    hub: RunningSimulator | None = None


# --- samples: per resource kind, per ownership variant, the values a request names ---------

Values = dict[str, Any]
Sample = Callable[[World, str], Values | None]  # None: the kind has no such variant

LOTS = {"own": "LOT-A1", "other-company": "LOT-B1", "other-cmo": "LOT-O1", "other-line": "LOT-A1"}
GTINS = {"own": GTIN_A, "other-company": GTIN_B, "other-cmo": GTIN_A, "other-line": GTIN_A}
PREFIXES = {"own": "9506000", "other-company": "4000001", "other-cmo": "9506000", "other-line": "9506000"}
LINES = {"own": "LINE-1", "other-company": "LINE-1", "other-cmo": "LINE-1", "other-line": "LINE-2"}
CMOS = {"own": "ACME", "other-company": "BCMO", "other-cmo": "OTHER", "other-line": "ACME"}
SITES = {"own": SITE_A, "other-company": SITE_B}
# Where each owner's units are commissioned: a CMO's line makes that CMO's batches only.
MADE_ON = {"own": "LINE-1", "other-company": "LINE-B", "other-cmo": "OTHER-L1", "other-line": "LINE-2"}
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


def _unit(gtin: str, serial: str) -> str:
    return f"(01){gtin}(21){serial}"


def _only(*variants: str) -> Callable[[Sample], Sample]:
    def narrowed(sample: Sample) -> Sample:
        return lambda world, variant: sample(world, variant) if variant in variants else None

    return narrowed


@_only("own", "other-company")
def _product(world: World, variant: str) -> Values:
    """A new product of the variant's company (registering is idempotent only for identical data)."""
    body = f"0{PREFIXES[variant]}{uuid.uuid4().int % 100_000:05d}"
    return {"gtin": GTINS[variant], "new_gtin": body + str(check_digit(body))}


@_only("own", "other-company", "other-cmo", "unknown")
def _batch(world: World, variant: str) -> Values:
    if variant == "unknown":
        return {"gtin": GTIN_A, "lot": "NO-SUCH-LOT"}
    fresh = f"NEW-{uuid.uuid4().hex[:8]}"
    site = {"other-company": SITE_B, "other-cmo": SITE_O}.get(variant, SITE_A)  # a CMO's site makes its batches
    return {"gtin": GTINS[variant], "lot": LOTS[variant], "new_lot": fresh, "cmo_id": CMOS[variant], "site_gln": site}


def _fresh_gln(prefix: str) -> str:
    body = f"{prefix}{uuid.uuid4().int % 10 ** (12 - len(prefix)):0{12 - len(prefix)}d}"
    return body + str(check_digit(body))


@_only("own", "other-company", "unknown")
def _site(world: World, variant: str) -> Values:
    """A site of the variant's company (another CMO's site would be named by a GLN outside the
    scope's sites: refused outright, which test_locations checks)."""
    if variant == "unknown":
        return {"gln": _fresh_gln("9506000")}
    return {"gln": SITES[variant], "new_gln": _fresh_gln(PREFIXES[variant]), "cmo_id": CMOS[variant]}


@_only("own", "other-company")
def _line(world: World, variant: str) -> Values:
    return {"gln": SITES[variant], "line_id": f"NEW-{uuid.uuid4().hex[:8]}", "extension": None}


@_only("own", "other-company", "other-cmo", "unknown")
def _serial_request(world: World, variant: str) -> Values:
    if variant == "unknown":
        return {"gtin": GTIN_A, "lot": "NO-SUCH-LOT", "request_id": UNKNOWN_UUID}
    return {"gtin": GTINS[variant], "lot": LOTS[variant], "request_id": world.ids[f"serials:{variant}"]}


@_only("own", "other-company", "other-cmo", "unknown")
def _serial_import(world: World, variant: str) -> Values:
    lot = "NO-SUCH-LOT" if variant == "unknown" else LOTS[variant]
    return {"gtin": GTINS.get(variant, GTIN_A), "lot": lot, "serials": [f"IMP{uuid.uuid4().hex[:9].upper()}"]}


@_only("own", "other-company", "unknown")
def _sscc_request(world: World, variant: str) -> Values:
    if variant == "unknown":
        return {"request_id": UNKNOWN_UUID, "company_prefix": "9506000"}
    return {"request_id": world.ids[f"ssccs:{variant}"], "company_prefix": PREFIXES[variant]}


@_only("own", "other-company", "other-cmo", "other-line", "unknown")
def _commissioning(world: World, variant: str) -> Values:
    lot = "NO-SUCH-LOT" if variant == "unknown" else LOTS[variant]
    serial = world.supply.serial(LOTS["own" if variant == "unknown" else variant])
    return {
        "gtin": GTINS.get(variant, GTIN_A),
        "lot": lot,
        "serials": [serial],
        "line_id": MADE_ON.get(variant, "LINE-1"),
    }


@_only("own", "other-company", "other-cmo", "unknown")
def _serial(world: World, variant: str) -> Values:
    if variant == "unknown":
        return {"gtin": GTIN_A, "serial": "NOSUCHSERIAL"}
    return {"gtin": GTINS[variant], "serial": world.ids[f"serial:{variant}"]}


@_only("own", "other-company", "other-cmo", "other-line")
def _packing(world: World, variant: str) -> Values:
    """Into a fresh SSCC of the owner's range; the other CMO's: into a case holding its units. The
    unit is not commissioned yet: its scan carries the owner's lot, which scopes it."""
    parent = world.ids["case:other-cmo"] if variant == "other-cmo" else world.supply.sscc(PREFIXES[variant])
    child = f"{_unit(GTINS[variant], f'U{uuid.uuid4().hex[:11].upper()}')}(10){LOTS[variant]}"
    return {"parent": parent, "children": [child], "line_id": LINES[variant], "packaging_level": "case"}


@_only("own", "other-company", "other-cmo", "unknown")
def _parent(world: World, variant: str) -> Values:
    """An open case holding units (packed just now, so each unpack or close finds it open)."""
    if variant == "unknown":
        return {"parent": world.supply.sscc("9506000"), "children": None, "line_id": "LINE-1"}
    return {"parent": world.open_cases[variant].pop(), "children": None, "line_id": LINES[variant], "expected_count": 1}


@_only("own", "other-company", "other-cmo", "other-line", "unknown")
def _tree(world: World, variant: str) -> Values:
    if variant == "unknown":
        return {"object_id": world.supply.sscc("9506000")}
    return {"object_id": world.ids[f"case:{variant}"]}


@_only("own", "other-company", "other-cmo", "unknown")
def _ancestry(world: World, variant: str) -> Values:
    if variant == "unknown":
        return {"object_id": _unit(GTIN_A, "NOSUCHSERIAL")}
    return {"object_id": _unit(GTINS[variant], world.ids[f"serial:{variant}"])}


@_only("own", "other-company", "other-cmo", "other-line", "unknown")
def _exception(world: World, variant: str) -> Values:
    """A record to make (a fresh commissioned unit of the variant's batch, on its line) and an
    open one of that owner to review or read."""
    if variant == "unknown":
        units = [_unit(GTIN_A, world.ids["serial:own"])]
        return {"gtin": GTIN_A, "lot": "NO-SUCH-LOT", "units": units, "line_id": "LINE-1", "exception_id": UNKNOWN_UUID}
    unit = _unit(GTINS[variant], world.commissioned[LOTS[variant]].pop())
    return {
        "gtin": GTINS[variant],
        "lot": LOTS[variant],
        "units": [unit],
        "line_id": LINES[variant],
        "exception_id": world.records[variant].pop(),
    }


@_only("own", "other-company", "other-cmo", "unknown")
def _hold(world: World, variant: str) -> Values:
    """A batch to hold, and an active hold of that owner to read or lift."""
    if variant == "unknown":
        return {
            "gtin": GTIN_A,
            "lot": "NO-SUCH-LOT",
            "hold_id": UNKNOWN_UUID,
            "units": [],
            "parents": [],
            "line_id": "LINE-1",
        }
    return {
        "gtin": GTINS[variant],
        "lot": LOTS[variant],
        "hold_id": world.holds[variant].pop(),
        "units": [_unit(GTINS[variant], world.ids[f"serial:{variant}"])],
        "parents": [],
        "line_id": LINES[variant],
    }


@_only("own", "other-company", "other-cmo", "other-line", "unknown")
def _decommission(world: World, variant: str) -> Values:
    """A record that took a unit out of the supply chain, the unit, and a line at its site."""
    if variant == "unknown":
        return {"exception_id": UNKNOWN_UUID, "units": [], "line_id": "LINE-1"}
    exception_id, unit = world.taken_out[variant].pop()
    return {"exception_id": exception_id, "units": [unit], "line_id": LINES[variant]}


@_only("own", "other-company", "other-cmo", "other-line", "unknown")
def _deviation(world: World, variant: str) -> Values:
    """A batch to open a deviation on, a record of it to group, and an open deviation of that
    owner (grouping a record of the owner's line), with its root cause and a CAPA, to read,
    change or close."""
    if variant == "unknown":
        deviation_id, capa_id, gtin, lot, grouped = UNKNOWN_UUID, UNKNOWN_UUID, GTIN_A, "NO-SUCH-LOT", []
    else:
        (deviation_id, capa_id), gtin, lot = world.deviations[variant].pop(), GTINS[variant], LOTS[variant]
        grouped = [world.records[variant].pop()]
    ids = {"deviation_id": deviation_id, "capa_id": capa_id}
    return {"gtin": gtin, "lot": lot, "exception_ids": grouped, "hold_ids": [], **ids}


@_only("own")
def _exceptions(world: World, variant: str) -> Values:
    return {}  # a list: narrowed to the caller's scope by the query


@_only("own", "other-company", "other-cmo", "unknown")
def _unit_exceptions(world: World, variant: str) -> Values | None:
    return _serial(world, variant)


@_only("own")
def _whole(world: World, variant: str) -> Values:
    return {"service": "serial_issuance", "global_position": 1, "signature_id": world.ids["signature"]}


@_only("own")
def _api_key(world: World, variant: str) -> Values:
    return {"key_id": world.keys.pop(), "role": "auditor", "scope": None}


@_only("own", "other-company")
def _epcis_document(world: World, variant: str) -> Values:
    """A document naming a fresh unit of the owner's product (an event is captured once)."""
    return {"epcList": [f"https://id.gs1.org/01/{GTINS[variant]}/21/E{uuid.uuid4().hex[:11].upper()}"]}


@_only("own", "other-company", "unknown")
def _capture_job(world: World, variant: str) -> Values:
    """A job captured by a key of the owner's party (the unknown: no job)."""
    return {"capture_id": UNKNOWN_UUID if variant == "unknown" else world.ids[f"job:{variant}"]}


@_only("own")
def _epc_events(world: World, variant: str) -> Values:
    """One object's events: a list narrowed to the caller's scope by the query, as /events is."""
    return {"epc": _unit(GTINS[variant], world.ids[f"serial:{variant}"])}


PARTNER_GLN = "0614141000005"


@_only("own", "other-company")
def _partner_grant(world: World, variant: str) -> Values:
    """A grant in force of the variant's product to a partner (granting it again: in force)."""
    return {"partner_gln": PARTNER_GLN, "gtin": GTINS[variant], "lot": world.grants[variant].pop()}


@_only("own", "unknown")
def _named_query(world: World, variant: str) -> Values:
    """One of the caller's own named queries (each principal names its own: another's is unknown to it)."""
    if variant == "unknown" or not world.own_queries:  # none: the principal may not define them (403 first)
        return {"queryName": "no-such-query"}
    return {"queryName": world.own_queries.pop()}


@_only("own", "unknown")
def _subscription(world: World, variant: str) -> Values:
    """One of the caller's subscriptions, to one of its queries."""
    if variant == "unknown" or not world.own_subscriptions:
        return {"queryName": "no-such-query", "subscriptionID": UNKNOWN_UUID}
    name, subscription_id = world.own_subscriptions.pop()
    return {"queryName": name, "subscriptionID": subscription_id}


@_only("own")
def _new_named_query(world: World, variant: str) -> Values:
    return {"name": f"matrix-{uuid.uuid4().hex[:12]}"}


@_only("own", "other-company", "unknown")
def _fmd_product(world: World, variant: str) -> Values:
    """A product known to the hub service (unknown: a GTIN with a valid check digit no one registered)."""
    return {"gtin": "09506000999992" if variant == "unknown" else GTINS[variant]}


@_only("own", "other-company", "other-cmo", "unknown")
def _fmd_batch(world: World, variant: str) -> Values:
    return (
        {"gtin": GTIN_A, "lot": "NO-SUCH-LOT"}
        if variant == "unknown"
        else {"gtin": GTINS[variant], "lot": LOTS[variant]}
    )


@_only("own", "other-company", "other-cmo", "unknown")
def _fmd_upload(world: World, variant: str) -> Values:
    """A batch with a unit commissioned since its last upload (one is commissioned before the next operation)."""
    lot = "NO-SUCH-LOT" if variant == "unknown" else LOTS[variant]
    world.to_upload.add(lot)
    return {"gtin": GTIN_A if variant == "unknown" else GTINS[variant], "lot": lot}


RECALL_LOTS = {"own": "REC-A1", "other-company": "REC-B1", "other-cmo": "REC-O1"}


@_only("own", "other-company", "other-cmo", "unknown")
def _fmd_recall(world: World, variant: str) -> Values:
    """A batch uploaded to the hub, kept for recalls (a recall stops its uploads; the same recall again is 200)."""
    return (
        {"gtin": GTIN_A, "lot": "NO-SUCH-LOT"}
        if variant == "unknown"
        else {
            "gtin": GTINS[variant],
            "lot": RECALL_LOTS[variant],
        }
    )


@_only("own", "other-company", "other-cmo", "unknown")
def _fmd_alert(world: World, variant: str) -> Values:
    """A new alert the hub raised for a pack of the variant's batch (unknown: an id the hub never gave)."""
    return {"alert_id": "no-such-alert" if variant == "unknown" else world.alerts[variant].pop()}


SAMPLES: dict[str, Sample] = {
    "product": _product,
    "batch": _batch,
    "site": _site,
    "line": _line,
    "serial-request": _serial_request,
    "serial-import": _serial_import,
    "sscc-request": _sscc_request,
    "commissioning": _commissioning,
    "serial": _serial,
    "packing": _packing,
    "parent": _parent,
    "hierarchy": _tree,
    "ancestry": _ancestry,
    "audit-trail": _whole,
    "signature": _whole,
    "access-audit": _whole,
    "api-key": _api_key,
    "exception": _exception,
    "exceptions": _exceptions,
    "unit-exceptions": _unit_exceptions,
    "batch-exceptions": _batch,
    "hold": _hold,
    "holds": _exceptions,
    "deviation": _deviation,
    "decommission": _decommission,
    "deviations": _exceptions,
    "epcis-document": _epcis_document,
    "capture-job": _capture_job,
    "capture-jobs": _exceptions,
    "epcis-events": _exceptions,
    "epc-events": _epc_events,
    "partner-grant": _partner_grant,
    "partner-grants": _exceptions,
    "named-query": _named_query,
    "named-queries": _new_named_query,
    "query-subscription": _subscription,
    "fmd-product": _fmd_product,
    "fmd-batch": _fmd_batch,
    "fmd-upload": _fmd_upload,
    "fmd-batch-state": _fmd_recall,
    "fmd-alert": _fmd_alert,
    "fmd-alerts": _exceptions,
}
# Refused event by event in the capture job, not by the request's status: a document naming
# another party's objects is accepted (202) and each such event refused in the job (403).
REFUSED_IN_JOB = frozenset({"epcis-document"})
# Packing into a parent that holds another CMO's units cannot be answered as for an unknown
# parent (that is accepted as pending): it is refused as a conflict naming the scope rule.
HIDDEN_WITHOUT_UNKNOWN = {"packing": 409}


# --- requests from the OpenAPI document -----------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    permission: str
    roles: frozenset[str]
    kind: str
    whole: bool
    example: Any  # the request body's example, or None
    fields: frozenset[str] = frozenset()  # the request body's top-level fields

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, op in item.items():
            assert "x-serialtrail-resource" in op, f"{method.upper()} {path} declares no resource"
            found.append(
                Operation(
                    method.upper(),
                    path,
                    op["x-serialtrail-permission"],
                    frozenset(op["x-serialtrail-roles"]),
                    op["x-serialtrail-resource"]["kind"],
                    op["x-serialtrail-resource"]["whole"],
                    *_body(op, schemas),
                )
            )
    return found


def _body(op: dict[str, Any], schemas: dict[str, Any]) -> tuple[Any, frozenset[str]]:
    body = op.get("requestBody")
    if body is None:
        return None, frozenset()
    if "application/json" not in body["content"]:  # a document, not a command: its example as it is
        return next(iter(body["content"].values()))["example"], frozenset()
    schema = body["content"]["application/json"]["schema"]
    ref = next(s["$ref"] for s in [schema, *schema.get("anyOf", [])] if "$ref" in s).rsplit("/", 1)[-1]
    return schemas[ref]["examples"][0], frozenset(schemas[ref].get("properties", {}))


def _substitute(example: Any, values: Values) -> Any:
    """The example with every field the sample names replaced, at any depth."""
    if isinstance(example, dict):
        named = {k: _field(k, example) for k in example}
        return {k: values[named[k]] if named[k] in values else _substitute(v, values) for k, v in example.items()}
    if isinstance(example, list):  # one entry of a list of entries: the sample names one thing
        return (
            [_substitute(item, values) for item in example[:1]] if example and isinstance(example[0], dict) else example
        )
    return example


def _field(key: str, body: dict[str, Any]) -> str:
    """The sample value a body field takes: a product, batch or site being registered takes a
    fresh GTIN, lot or GLN; everywhere else `gtin`, `lot` and `gln` name existing ones."""
    if key == "gtin" and "company_prefix_length" in body:
        return "new_gtin"
    if key == "gln" and "address" in body:
        return "new_gln"
    return "new_lot" if key == "lot" and "site_gln" in body else key


def request_of(operation: Operation, values: Values, token: str) -> tuple[str, Any]:
    path = re.sub(r"\{(\w+)(?::path)?\}", lambda m: str(values[m.group(1)]), operation.path)
    body = None if operation.example is None else _substitute(copy.deepcopy(operation.example), values)
    if isinstance(body, dict):  # what the sample names and the example leaves out (a batch's CMO)
        body |= {k: values[_field(k, body)] for k in operation.fields - body.keys() if _field(k, body) in values}
    for signing in (body, body.get("signature") if isinstance(body, dict) else None):
        if isinstance(signing, dict) and "credential" in signing:
            signing["credential"] = token  # signing re-authenticates with the caller's own credential
    if isinstance(body, dict) and "event_time" in body:
        body["event_time"] = moment()
    return path, body


# --- expectations --------------------------------------------------------------------------


def expected(operation: Operation, role: Role, scope: Scope | None, variant: str, sent: str) -> str:
    if role.value not in operation.roles:
        return "forbidden"
    if scope is None:
        return "allowed"
    if operation.whole:
        return "forbidden"
    if variant == "own":
        return "allowed"
    return "forbidden" if DISTINCT[variant] in sent else "hidden"


def _answer(response: httpx.Response) -> tuple[int, list[str]]:
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        return response.status_code, [e["rule"] for e in response.json().get("errors", [])]
    return response.status_code, []


# --- the world ------------------------------------------------------------------------------


async def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json() if "json" in response.headers.get("content-type", "") else response.text


async def _build(harness: Harness) -> World:
    client, supply, ids = harness.client, Supply(), {}
    for gtin, gln, lots in (
        (GTIN_A, SITE_A, {"LOT-A1": "ACME", "LOT-O1": "OTHER"}),
        (GTIN_B, SITE_B, {"LOT-B1": "BCMO"}),
    ):
        await product(client, gtin, target_markets=["DE", "FR"])
        for lot, cmo in lots.items():
            await batch(client, gtin, lot, site_gln=gln, cmo_id=cmo)
    await site(client, SITE_A, cmo_id="ACME", lines=("LINE-1", "LINE-2"))
    await site(client, SITE_B, cmo_id="BCMO", lines=("LINE-B",))
    await site(client, SITE_O, cmo_id="OTHER", lines=("OTHER-L1",))
    await harness.runner("aggregation", "knowledge").caught_up(timeout=30)  # it packs on these lines
    for variant, gtin, lot in (
        ("own", GTIN_A, "LOT-A1"),
        ("other-cmo", GTIN_A, "LOT-O1"),
        ("other-company", GTIN_B, "LOT-B1"),
    ):
        created = await _ok(await client.post("/v1/serial-requests", json={"gtin": gtin, "lot": lot, "quantity": 400}))
        ids[f"serials:{variant}"] = created["request_id"]
        supply.serials[lot] = (await _ok(await client.get(created["serials_url"]))).split()
    for variant, prefix in (("own", "9506000"), ("other-company", "4000001")):
        body = {"company_prefix": prefix, "extension_digit": 0, "quantity": 400}
        created = await _ok(await client.post("/v1/sscc-requests", json=body))
        ids[f"ssccs:{variant}"] = created["request_id"]
        listed = (await _ok(await client.get(created["ssccs_url"]))).split()
        supply.ssccs[prefix] = [f"https://id.gs1.org/00/{s}" for s in listed]
    world = World(harness, supply, ids)
    for variant in ("own", "other-cmo", "other-company", "other-line"):
        ids[f"case:{variant}"], ids[f"serial:{variant}"] = await _packed_case(world, variant)
    await _commission_more(world, 60)
    await harness.runner("line_exceptions", "knowledge").caught_up(timeout=30)
    await _hub_knows_master_data(harness)
    for variant, scope in (("own", OWN), ("other-company", OTHER_COMPANY)):
        ids[f"job:{variant}"] = await _captured_by(harness, scope, GTINS[variant])
    qa = await harness.token(Role.qa)
    async with harness.client_with(qa) as signer:
        body = {"meaning": "reviewed", "credential": qa}
        ids["signature"] = (await _ok(await signer.post("/v1/audit-trail/serial_issuance/1/signatures", json=body)))[
            "signature_id"
        ]
    return world


async def _captured_by(harness: Harness, scope: Scope, gtin: str) -> str:
    """A capture job of a CMO key of `scope` (a job is its capturer's party's)."""
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-30T09:15:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": [f"https://id.gs1.org/01/{gtin}/21/J{uuid.uuid4().hex[:11].upper()}"],
        "action": "OBSERVE",
        "readPoint": {"id": f"urn:epc:id:sgln:{gtin[1:8]}.00000.LINE-1"},  # its site, its line
    }
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-30T09:20:00.000+01:00",
        "epcisBody": {"eventList": [event]},
    }
    async with harness.client_with(await harness.token(Role.cmo, scope)) as capturer:
        job = await _ok(await capturer.post("/v1/epcis/capture", json=document))
    assert job["captured"] == 1, job
    return str(job["captureID"])


async def _packed_case(world: World, variant: str) -> tuple[str, str]:
    """A case of the variant's owner, holding one commissioned unit, packed on its line."""
    client, lot = world.harness.client, LOTS[variant]
    serial = world.supply.serial(lot)
    commissioning = {
        "gtin": GTINS[variant],
        "serials": [serial],
        "lot": lot,
        "line_id": MADE_ON[variant],
        "event_time": moment(),
    }
    await _ok(await client.post("/v1/commissioning", json=commissioning))
    case = world.supply.sscc(PREFIXES[variant])
    pack = {"parent": case, "packaging_level": "case", "children": [_unit(GTINS[variant], serial)]}
    await _ok(await client.post("/v1/pack", json={**pack, "line_id": LINES[variant], "event_time": moment()}))
    return case, serial


async def _commission_more(world: World, count: int) -> None:
    """Units commissioned into each batch, each to be taken out of the supply chain once."""
    for variant in ("own", "other-cmo", "other-company"):
        lot = LOTS[variant]
        serials = [world.supply.serial(lot) for _ in range(count)]
        body = {"gtin": GTINS[variant], "serials": serials, "lot": lot, "line_id": MADE_ON[variant]}
        await _ok(await world.harness.client.post("/v1/commissioning", json=body | {"event_time": moment()}))
        world.commissioned.setdefault(lot, []).extend(serials)


async def _taken_out(world: World, variant: str) -> tuple[str, str]:
    """A record of the variant's owner that took a fresh unit out of the supply chain."""
    unit = _unit(GTINS[variant], world.commissioned[LOTS[variant]].pop())
    body = {
        "type": "damaged",
        "batch": {"gtin": GTINS[variant], "lot": LOTS[variant]},
        "units": [unit],
        "line_id": LINES[variant],
        "event_time": moment(),
        "description": "matrix",
        "observed_by": "matrix",
    }
    return str((await _ok(await world.harness.client.post("/v1/exceptions", json=body)))["exception_id"]), unit


async def _open_record(world: World, variant: str) -> str:
    """An open record of the variant's owner that took nothing out (so it can also be cancelled)."""
    body = {
        "type": "unreadable",
        "batch": {"gtin": GTINS[variant], "lot": LOTS[variant]},
        "units": [_unit(GTINS[variant], world.ids[f"serial:{variant}"])],
        "line_id": LINES[variant],
        "event_time": moment(),
        "description": "matrix",
        "observed_by": "matrix",
    }
    return str((await _ok(await world.harness.client.post("/v1/exceptions", json=body)))["exception_id"])


async def _active_hold(world: World, variant: str) -> str:
    body = {
        "batch": {"gtin": GTINS[variant], "lot": LOTS[variant]},
        "units": [_unit(GTINS[variant], world.ids[f"serial:{variant}"])],
        "reason": "matrix",
        "event_time": moment(),
    }
    return str((await _ok(await world.harness.client.post("/v1/holds", json=body)))["hold_id"])


async def _open_deviation(world: World, variant: str) -> tuple[str, str]:
    client = world.harness.client
    body = {"batch": {"gtin": GTINS[variant], "lot": LOTS[variant]}, "title": "matrix", "description": "matrix"}
    body["exception_ids"] = [await _open_record(world, variant)]  # a deviation is the lines' of what it groups
    url = (await _ok(await client.post("/v1/deviations", json=body)))["deviation_url"]
    cause = {"category": "machine", "method": "5-why", "findings": "matrix"}
    await _ok(await client.post(f"{url}/root-cause", json=cause))
    capa = {"kind": "correction", "action": "m", "owner": "m", "due_date": "2027-01-01", "effectiveness_check": "m"}
    planned = await _ok(await client.post(f"{url}/capas", json=capa))
    return str(planned["deviation_id"]), str(planned["capa_id"])


async def _restock(world: World, cases: int, keys: int) -> None:
    """Enough open cases, keys and open records for the next operation (samples are taken
    synchronously)."""
    owners, all_variants = ("own", "other-cmo", "other-company"), ("own", "other-cmo", "other-company", "other-line")
    await _topped_up(world, world.open_cases, owners, cases, lambda w, v: _first(_packed_case(w, v)))
    while len(world.keys) < keys:
        world.keys.append((await world.harness.issue_key(name="matrix victim", role=Role.auditor))[0])
    if min(len(units) for units in world.commissioned.values()) < 4 * cases:
        await _commission_more(world, 40)
        await world.harness.runner("line_exceptions", "knowledge").caught_up(timeout=30)
    await _topped_up(world, world.records, all_variants, cases, _open_record)
    await _topped_up(world, world.taken_out, all_variants, cases, _taken_out)
    await _topped_up(world, world.holds, owners, cases, _active_hold)
    await _topped_up(world, world.deviations, all_variants, cases, _open_deviation)
    await _topped_up(world, world.grants, ("own", "other-company"), cases, _granted)
    await _uploadable(world)
    await _topped_up(world, world.alerts, ("own", "other-cmo", "other-company"), cases, _new_alert)


async def _new_alert(world: World, variant: str) -> str:
    """A pharmacy scan the hub does not know in the variant's batch: an alert, once fetched."""
    assert world.hub is not None
    scan = {"product_code": GTINS[variant], "batch_id": LOTS[variant], "expiry": "301231", "market": "DE"}
    raised = await world.hub.verify(**scan, serial=f"NEVER{uuid.uuid4().hex[:10].upper()}", location="PHARMACY-1")
    alert_id = str(raised["alert"]["alert_id"])

    async def fetched() -> bool:
        return (await world.harness.client.get(f"/v1/fmd/alerts/{alert_id}")).status_code == 200

    await until(fetched, timeout=30)
    return alert_id


async def _uploadable(world: World) -> None:
    """A unit commissioned into each batch an upload was tried on, known to the hub service."""
    for variant in ("own", "other-cmo", "other-company"):
        lot = LOTS[variant]
        if lot in world.to_upload:
            serial = world.supply.serial(lot)
            body = {
                "gtin": GTINS[variant],
                "serials": [serial],
                "lot": lot,
                "line_id": MADE_ON[variant],
                "event_time": moment(),
            }
            await _ok(await world.harness.client.post("/v1/commissioning", json=body))
    if world.to_upload:
        world.to_upload.clear()
        await world.harness.runner("fmd_hub", "knowledge").caught_up(timeout=30)


async def _hub_knows_master_data(harness: Harness) -> None:
    """Each company's product's master data, acknowledged by the hub: its batches can be uploaded."""
    await harness.runner("fmd_hub", "knowledge").caught_up(timeout=30)
    for gtin in (GTIN_A, GTIN_B):
        url = f"/v1/fmd/products/{gtin}/master-data"
        body = {
            "name": "Paracetamol 500 mg tablets",
            "common_name": "paracetamol",
            "pharmaceutical_form": "tablet",
            "strength": "500 mg",
            "pack_type": "carton",
            "pack_size": 20,
            "markets": [{"market": "DE", "national_code": "01234567"}],
            "mah": {"name": "Example Pharma", "id": "9506000000008"},
        }
        await _ok(await harness.client.post(url, json=body))

        async def in_force(url: str = url) -> bool:
            return bool((await harness.client.get(url)).json()["in_force"])

        await until(in_force, timeout=60)
    await _uploaded_for_recalls(harness)


async def _uploaded_for_recalls(harness: Harness) -> None:
    """A batch of each owner's, uploaded to the hub once, for the recall samples."""
    client = harness.client
    for variant, lot in RECALL_LOTS.items():
        site_gln = {"other-company": SITE_B, "other-cmo": SITE_O}.get(variant, SITE_A)
        await batch(client, GTINS[variant], lot, site_gln=site_gln, cmo_id=CMOS[variant])
        body = {"gtin": GTINS[variant], "lot": lot, "quantity": 2}
        created = await _ok(await client.post("/v1/serial-requests", json=body))
        serials = (await _ok(await client.get(created["serials_url"]))).split()
        body = {"gtin": GTINS[variant], "serials": serials, "lot": lot, "line_id": MADE_ON[variant]}
        body["event_time"] = moment()
        await _ok(await client.post("/v1/commissioning", json=body))
    await harness.runner("fmd_hub", "knowledge").caught_up(timeout=30)
    for variant, lot in RECALL_LOTS.items():
        await _ok(await client.post(f"/v1/fmd/batches/{GTINS[variant]}/{lot}/uploads"))


async def _own_queries(client: httpx.AsyncClient, count: int) -> list[str]:
    """Named queries of the principal `client` speaks for (none if it may not define them)."""
    names = [f"matrix-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    for name in names:
        defined = await client.post("/v1/epcis/queries", json={"name": name, "query": {"EQ_bizStep": ["shipping"]}})
        if defined.status_code == 403:
            return []
        assert defined.status_code == 201, defined.text
    return names


async def _own_subscriptions(client: httpx.AsyncClient, queries: list[str]) -> list[tuple[str, str]]:
    found = []
    for name in queries:
        body = {"dest": "https://client.example.com/queryCallback", "stream": True}
        subscribed = await client.post(f"/v1/epcis/queries/{name}/subscriptions", json=body)
        assert subscribed.status_code == 201, subscribed.text
        found.append((name, subscribed.json()["subscriptionID"]))
    return found


async def _granted(world: World, variant: str) -> str:
    lot = f"G{uuid.uuid4().hex[:8].upper()}"
    body = {"partner_gln": PARTNER_GLN, "gtin": GTINS[variant], "lot": lot, "reason": "matrix"}
    await _ok(await world.harness.client.post("/v1/epcis/grants", json=body))
    return lot


async def _first(made: Awaitable[tuple[str, str]]) -> str:
    return (await made)[0]


async def _topped_up(
    world: World,
    stock: dict[str, list[Any]],
    variants: tuple[str, ...],
    cases: int,
    make: Callable[[World, str], Awaitable[Any]],
) -> None:
    for variant in variants:
        made = stock.setdefault(variant, [])
        while len(made) < cases:
            made.append(await make(world, variant))


@pytest.fixture(scope="module")
async def world(module_database_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with running_simulator(tmp_path_factory.mktemp("hub")) as hub:
        token = SecretStr(hub.token)
        own = FmdHubSettings(hub_url=hub.url, hub_token=token, hub=fast_settings(), alerts_every_seconds=0.1)
        async with serve(module_database_dsn, SERVICES, own_settings={"fmd_hub": own}) as harness:
            built = await _build(harness)
            built.hub = hub
            yield built


@pytest.fixture(scope="module")
async def document(world: World) -> dict[str, Any]:
    response = await world.harness.client.get("/openapi.json")
    return dict(response.json())


# --- the tests ------------------------------------------------------------------------------


async def test_every_operation_has_a_sample_for_its_resource_kind(document: dict[str, Any]) -> None:
    found = operations(document)
    assert len(found) >= 25
    missing = sorted({f"{o.kind} ({o})" for o in found if o.kind not in SAMPLES})
    assert missing == [], f"add a sample to SAMPLES for: {missing}"


async def test_without_credentials_every_operation_is_401(world: World, document: dict[str, Any]) -> None:
    async with world.harness.client_with(None) as anonymous:
        for operation in operations(document):
            await _restock(world, 1, 1)
            values = SAMPLES[operation.kind](world, "own")
            assert values is not None
            path, body = request_of(operation, values, "")
            response = await anonymous.request(operation.method, path, json=body)
            assert response.status_code == 401, f"{operation}: {response.text}"
            assert response.headers["www-authenticate"].startswith("Bearer")


def _principal_id(principal: tuple[Role, Scope | None]) -> str:
    role, scope = principal
    return f"{role.value}-{'narrowed' if scope else 'unrestricted'}"


@pytest.mark.parametrize("principal", PRINCIPALS, ids=_principal_id)
async def test_the_matrix(world: World, document: dict[str, Any], principal: tuple[Role, Scope | None]) -> None:
    role, scope = principal
    token = await world.harness.token(role, scope)
    checked = 0
    async with world.harness.client_with(token) as client:
        world.own_queries = await _own_queries(client, 12)
        world.own_subscriptions = await _own_subscriptions(client, world.own_queries[:4])
        for operation, variant in itertools.product(operations(document), VARIANTS):
            await _restock(world, 2, 2)
            values = SAMPLES[operation.kind](world, variant)
            if values is None:
                continue
            path, body = request_of(operation, values, token)
            response = await client.request(operation.method, path, json=body)
            sent = path + ("" if body is None else repr(body))
            want = expected(operation, role, scope, variant, sent)
            where = f"{role.value} {operation} [{variant}]"
            checked += 1
            if want == "forbidden" and operation.kind in REFUSED_IN_JOB and role.value in operation.roles:
                job = response.json()
                assert response.status_code == 202, f"{where}: {response.text}"
                assert job["captured"] == 0, f"{where}: {response.text}"
                assert {(p["status"], e["rule"]) for p in job["errors"] for e in p["errors"]} == {(403, "in-scope")}
            elif want == "allowed":
                assert 200 <= response.status_code < 300, f"{where}: {response.text}"
                if operation.kind in REFUSED_IN_JOB:  # accepted is not enough: its event was captured
                    job = response.json()  # (or, routed to the service that owns it, awaits its decision)
                    assert job["errors"] == [], f"{where}: {response.text}"
                    assert job["captured"] == 1 or job["running"], f"{where}: {response.text}"
            elif want == "forbidden":
                assert response.status_code == 403, f"{where}: {response.text}"
            else:
                assert _answer(response) == await _unknown_answer(client, operation, world, token), where
    assert checked >= len(operations(document))


async def _unknown_answer(
    client: httpx.AsyncClient, operation: Operation, world: World, token: str
) -> tuple[int, list[str]]:
    if operation.kind in HIDDEN_WITHOUT_UNKNOWN:
        return HIDDEN_WITHOUT_UNKNOWN[operation.kind], ["in-scope"]
    values = SAMPLES[operation.kind](world, "unknown")
    assert values is not None, f"{operation.kind}: a hidden answer needs an 'unknown' sample"
    path, body = request_of(operation, values, token)
    return _answer(await client.request(operation.method, path, json=body))
