"""What each route of serial issuance touches, and who owns it. The kit checks it before the
endpoint runs (`serialtrail_kit.access.resources`); resolvers keep what they loaded on
`request.state` so the endpoint does not load it again.

Owners: a product is its GTIN's (company prefix, GTIN); a batch is also its CMO's and its
site's; a serial request, a serial import and a serial belong to their batch (none named: only
principals not narrowed to CMOs reach them); an SSCC request is its company prefix's. A site
is its GLN's and its CMO's (none: the company's own); a line is its id's and its site's. A
command names the line it was recorded on: that line, its site and its CMO are what the
command names, so a CMO's key cannot record on another party's line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from fastapi import Request
from serialtrail_contracts.identity import NO_CMO, Target
from serialtrail_contracts.serials import BatchRegistered, LineRegistered, SiteRegistered
from serialtrail_gs1.identity import IdentifierError
from serialtrail_gs1.keys import parse_sgtin_uri
from serialtrail_gs1.rules import GLN, GTIN
from serialtrail_gs1.scan import parse_object_id
from serialtrail_kit.access.authz import body_target, path_target, request_body
from serialtrail_kit.access.resources import EXISTS, Refusals, Resource
from serialtrail_kit.errors import DomainError, InvalidInput, NotFound

from serial_issuance.application.handlers import SerialIssuanceHandlers
from serial_issuance.domain.owners import batch_owner, line_owner, site_owner
from serial_issuance.domain.rules import (
    ISSUED_FOR_GTIN,
    REGISTERED_BATCH,
    REGISTERED_LINE,
    REGISTERED_PRODUCT,
    REGISTERED_SITE,
    UUID_FORMAT,
)
from serial_issuance.entrypoints.schemas import MAX_SCANS
from serial_issuance.projections.serial_status.queries import SerialQueries

Consistent = Callable[[], Awaitable[None]]


async def new_site(request: Request) -> Target:
    body = await request_body(request)
    return Target(
        sites=frozenset({str(body["gln"])}) if body.get("gln") else frozenset(),
        cmos=frozenset({str(body.get("cmo_id") or NO_CMO)}),
    )


def unregistered_batch(request: Request) -> DomainError:
    """What a command naming an unknown batch is told (so another CMO's batch is told the same)."""
    gtins = sorted(getattr(request.state, "target", Target()).gtins)
    lot = getattr(request.state, "lot", None)
    message = f"no batch {lot!r} is registered for GTIN {gtins[0] if gtins else '?'}"
    return InvalidInput(message, [REGISTERED_BATCH.at("lot", message)])


# What an unknown resource of each kind is answered (so one out of scope is answered the same).


def _no_batch(request: Request) -> DomainError:
    gtin, lot = request.path_params["gtin"], request.path_params["lot"]
    message = f"no batch {lot!r} is registered for GTIN {gtin}"
    return NotFound(message, [REGISTERED_BATCH.at("lot", message)])


def _no_request(what: str) -> Callable[[Request], DomainError]:
    def unknown(request: Request) -> DomainError:
        message = f"no {what} request {request.path_params['request_id']}"
        return NotFound(message, [EXISTS.at("request_id", f"unknown {what} request")])

    return unknown


def _no_site(request: Request) -> DomainError:
    message = f"no site is registered with GLN {request.path_params['gln']}"
    return NotFound(message, [REGISTERED_SITE.at("gln", message)])


def _no_serial(request: Request) -> DomainError:
    gtin, serial = request.path_params["gtin"], request.path_params["serial"]
    message = f"serial {serial} was not issued or imported for GTIN {gtin}"
    return NotFound(message, [ISSUED_FOR_GTIN.at("serial", "unknown serial for this GTIN")])


# What the lookups below refuse with, for the OpenAPI document: a resolver that loads by a GS1
# key checks the key first (the path's own pattern is checked only after the resolvers ran).
# Resolvers of what a command names by body fields swallow "unknown": the handler names it.
BATCH_IN_PATH: Refusals = {InvalidInput: (GTIN,), NotFound: (REGISTERED_PRODUCT, REGISTERED_BATCH)}
BATCH_IN_BODY: Refusals = {InvalidInput: (REGISTERED_BATCH,)}  # `unregistered_batch`, when out of scope
REQUEST_BY_ID: Refusals = {InvalidInput: (UUID_FORMAT,), NotFound: (EXISTS,)}
SITE_BY_GLN: Refusals = {InvalidInput: (GLN,), NotFound: (REGISTERED_SITE,)}
SERIAL_OF_GTIN: Refusals = {InvalidInput: (GTIN,), NotFound: (REGISTERED_PRODUCT, ISSUED_FOR_GTIN)}
# A commissioning's line is looked up while its target is named, before any scope check.
LINE_AND_BATCH: Refusals = {InvalidInput: (REGISTERED_LINE, REGISTERED_BATCH)}


class Resources:
    def __init__(self, handlers: SerialIssuanceHandlers, queries: SerialQueries, consistent: Consistent) -> None:
        self.handlers, self.queries, self.consistent = handlers, queries, consistent
        self.new_product = Resource("product", named=body_target(gtins="gtin"))
        self.product = Resource("product", named=path_target(gtins="gtin"))
        self.new_batch = Resource("batch", named=self._new_batch)
        self.batch = Resource(
            "batch",
            named=path_target(gtins="gtin"),
            owner=self._batch_in_path,
            unknown=_no_batch,
            refuses=BATCH_IN_PATH,
        )
        self.new_serials = Resource(
            "serial-request",
            named=body_target(gtins="gtin"),
            owner=self._batch_in_body,
            unknown=unregistered_batch,
            refuses=BATCH_IN_BODY,
        )
        self.serial_request = Resource(
            "serial-request", owner=self._serial_request, unknown=_no_request("serial"), refuses=REQUEST_BY_ID
        )
        self.new_import = Resource(
            "serial-import",
            named=body_target(gtins="gtin"),
            owner=self._batch_in_body,
            unknown=unregistered_batch,
            refuses=BATCH_IN_BODY,
        )
        self.new_ssccs = Resource("sscc-request", named=body_target(company_prefixes="company_prefix"))
        self.sscc_request = Resource(
            "sscc-request", owner=self._sscc_request, unknown=_no_request("SSCC"), refuses=REQUEST_BY_ID
        )
        self.commissioning = Resource(
            "commissioning",
            named=self._commissioning_named,
            owner=self._batch_in_body,
            unknown=unregistered_batch,
            refuses=LINE_AND_BATCH,
        )
        self.new_site = Resource("site", named=new_site)
        self.site = Resource(
            "site", named=path_target(sites="gln"), owner=self._site, unknown=_no_site, refuses=SITE_BY_GLN
        )
        self.new_line = Resource(
            "line", named=self._line_named, owner=self._site, unknown=_no_site, refuses=SITE_BY_GLN
        )
        self.serial = Resource(
            "serial", named=path_target(gtins="gtin"), owner=self._serial, unknown=_no_serial, refuses=SERIAL_OF_GTIN
        )

    async def _new_batch(self, request: Request) -> Target:
        """A batch being registered: its GTIN, its site, and its CMO (none is a value too). A site
        registered as a CMO's is that CMO's too: no other party's batch is recorded as made there."""
        body = await request_body(request)
        site_gln = body.get("site_gln")
        cmos = {str(body.get("cmo_id") or NO_CMO)}
        if isinstance(site_gln, str) and (site := await self._registered_site(site_gln)) and site.cmo_id:
            cmos.add(site.cmo_id)
        return Target(
            gtins=frozenset({str(body["gtin"])}) if body.get("gtin") else frozenset(),
            sites=frozenset({str(site_gln)}) if site_gln else frozenset(),
            cmos=frozenset(cmos),
        )

    async def _registered_site(self, gln: str) -> SiteRegistered | None:
        """The site registered with this GLN; none for an unregistered one or a malformed GLN
        (validation names the field)."""
        try:
            return await self.handlers.load.site(gln, "site_gln")
        except InvalidInput:
            return None

    async def _commissioning_named(self, request: Request) -> Target:
        """The GTINs (given, or inside SGTIN EPCs) and the line a commissioning names."""
        body = await request_body(request)
        gtins = {str(body["gtin"])} if body.get("gtin") else set()
        epcs = body.get("epcs")
        if isinstance(epcs, list):
            gtins |= {parsed[0] for epc in epcs if isinstance(epc, str) and (parsed := parse_sgtin_uri(epc))}
        scans = body.get("scans")
        if isinstance(scans, list) and len(scans) <= MAX_SCANS:  # more: validation refuses the body
            gtins |= await asyncio.to_thread(_gtins_scanned, scans)
        return Target(gtins=frozenset(gtins)) | await self.line_named(request, body)

    async def line_named(self, request: Request, body: dict[str, Any]) -> Target:
        """The line a line-side command names (by id or SGLN), its site and its CMO. An
        unregistered one is refused here, before anything else is looked up."""
        named = body.get("line_id")
        if not isinstance(named, str) or not named:
            return Target()  # validation names the missing field
        request.state.line = line = await self.handlers.load.line(named)  # the endpoint records it
        return line_owner(line)

    async def _line_named(self, request: Request) -> Target:
        body = await request_body(request)
        line_id = body.get("line_id")
        lines = frozenset({line_id}) if isinstance(line_id, str) and line_id else frozenset()
        return Target(sites=frozenset({str(request.path_params["gln"])}), lines=lines)

    async def _site(self, request: Request) -> Target:
        request.state.site = site = await self.handlers.load.site(request.path_params["gln"], missing=NotFound)
        return site_owner(site)

    async def lines_of(self, gln: str) -> list[LineRegistered]:
        return [await self.handlers.load.line(line_id) for line_id in await self.handlers.load.directory.lines_of(gln)]

    async def _batch(self, gtin: str, lot: str | None, missing: type[DomainError]) -> BatchRegistered | None:
        if lot is None:
            return None
        await self.handlers.load.product(gtin, missing=missing)
        return await self.handlers.load.batch(gtin, lot, missing=missing)

    async def _batch_in_path(self, request: Request) -> Target:
        """A batch addressed by path: unknown product, unknown batch and another CMO's batch
        all answer 404 alike."""
        params = request.path_params
        request.state.batch = await self._batch(params["gtin"], params["lot"], NotFound)
        return batch_owner(request.state.batch)

    async def _batch_in_body(self, request: Request) -> Target | None:
        """The batch a command names by `lot` (with its GTIN); unknown ones the command reports."""
        body = await request_body(request)
        lot = body.get("lot")
        request.state.lot = lot if isinstance(lot, str) else None
        owners = Target()
        for gtin in request.state.target.gtins:
            try:
                found = batch_owner(await self._batch(gtin, request.state.lot, InvalidInput))
            except DomainError:
                return None  # unknown: the handler says so, in its words
            owners |= found
        return owners

    async def _serial_request(self, request: Request) -> Target:
        await self.consistent()
        row = await self.queries.serial_request(_uuid(request.path_params["request_id"]))
        request.state.serial_request = row
        return Target(gtins=frozenset({row["gtin"]})) | await self._owner_of_lot(row["gtin"], row["lot"])

    async def _sscc_request(self, request: Request) -> Target:
        await self.consistent()
        row = await self.queries.sscc_request(_uuid(request.path_params["request_id"]))
        request.state.sscc_request = row
        return Target(company_prefixes=frozenset({row["company_prefix"]}))

    async def _serial(self, request: Request) -> Target:
        """A serial is its batch's: the one it was commissioned into, else the one it was issued for."""
        await self.consistent()
        found: dict[str, Any] = await self.queries.serial(request.path_params["gtin"], request.path_params["serial"])
        request.state.serial = found
        lots = [entry.get("lot") for entry in reversed(found["history"])]
        return await self._owner_of_lot(found["gtin"], next((lot for lot in lots if lot), None))

    async def _owner_of_lot(self, gtin: str, lot: str | None) -> Target:
        try:
            return batch_owner(await self._batch(gtin, lot, NotFound))
        except DomainError:
            return batch_owner(None)


def _gtins_scanned(scans: list[Any]) -> set[str]:
    """The GTINs scans name (an unreadable one is named by the handler, with its rule)."""
    found = set()
    for text in scans:
        try:
            gtin = parse_object_id(text).gtin if isinstance(text, str) else None
        except IdentifierError:
            gtin = None
        if gtin is not None:
            found.add(gtin)
    return found


def _uuid(value: Any) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError as error:
        message = f"{value!r} is not a UUID"
        raise InvalidInput(message, [UUID_FORMAT.at("request_id", message)]) from error
