"""HTTP routes of serial issuance: parse → command → handler. No decisions here."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse
from serialtrail_contracts.serials import BatchRegistered, LineRegistered, OutputForm, ProductRegistered
from serialtrail_gs1 import rules as gs1
from serialtrail_gs1.keys import sscc
from serialtrail_gs1.paths import GlnPath, GtinPath, LotPath, SerialPath
from serialtrail_kit.access.authz import requires
from serialtrail_kit.declaration import NOT_IN_FUTURE, NotAhead
from serialtrail_kit.errors import Conflict, InvalidInput, NotFound
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.refusals import refuses

from serial_issuance.application.commands import Commission, ImportSerials, RequestSerials, RequestSsccs
from serial_issuance.application.handlers import SerialIssuanceHandlers
from serial_issuance.domain import location, product, rules
from serial_issuance.domain.generation import line_parts, render_counters
from serial_issuance.entrypoints import permissions as allowed
from serial_issuance.entrypoints.resources import Resources
from serial_issuance.entrypoints.schemas import (
    BatchIn,
    CommissioningIn,
    CommissioningOut,
    LineIn,
    ProductIn,
    SerialImportIn,
    SerialImportOut,
    SerialRequestIn,
    SerialRequestOut,
    SerialSummaryOut,
    SiteIn,
    SiteOut,
    SsccRequestIn,
    SsccRequestOut,
)
from serial_issuance.projections.serial_status.queries import SerialQueries

Consistent = Callable[[], Awaitable[None]]
StreamFormat = Literal["text", "ndjson"]
MEDIA = {"text": "text/plain; charset=utf-8", "ndjson": "application/x-ndjson"}
# What a commissioning's input can break, in the order it is checked: the event time, which
# serials (gtin + serials, EPCs or scans), the batch, then each serial against what was issued.
COMMISSIONING_INPUT = (
    NOT_IN_FUTURE,
    rules.ONE_OF,
    rules.REQUIRED,
    rules.SIZE,
    gs1.GTIN,
    rules.SGTIN_URI,
    *gs1.SCAN_RULES,
    rules.SGTIN,
    rules.SINGLE_GTIN,
    rules.REGISTERED_PRODUCT,
    rules.REGISTERED_BATCH,
    rules.MATCHES_BATCH,
    rules.LABEL_MATCHES_BATCH,
    rules.MADE_ON_CMOS_LINE,
    rules.AFTER_BATCH_REGISTERED,
    rules.BEFORE_EXPIRY,
    rules.DUPLICATE,
    rules.ISSUED_FOR_GTIN,
)


def build_router(
    handlers: SerialIssuanceHandlers,
    queries: SerialQueries,
    consistent: Consistent,
    digital_link_base: str,
    not_ahead: NotAhead,
) -> APIRouter:
    router = APIRouter(prefix="/v1")
    resources = Resources(handlers, queries, consistent)
    _master_data_routes(router, handlers, resources)
    _location_routes(router, handlers, resources)
    _serial_request_routes(router, handlers, resources, digital_link_base)
    _sscc_routes(router, handlers, resources)
    _commissioning_routes(router, handlers, queries, resources, not_ahead)
    return router


def _master_data_routes(router: APIRouter, handlers: SerialIssuanceHandlers, resources: Resources) -> None:
    @router.post(
        "/products",
        status_code=status.HTTP_201_CREATED,
        tags=["products"],
        response_model=ProductRegistered,
        dependencies=[requires(allowed.MASTER_DATA_WRITE, resources.new_product)],
        openapi_extra=refuses(
            {InvalidInput: (gs1.GTIN, rules.SERIAL_RANDOMISATION, rules.NDC_IN_GTIN), Conflict: (rules.UNIQUE,)}
        ),
    )
    async def register_product(body: ProductIn, request: Request) -> ProductRegistered:
        """Register a product's master data and the shape of its serials. Idempotent for identical data."""
        proposed = ProductRegistered(**body.model_dump())
        return await handlers.register_product(proposed, record_metadata(request))

    @router.get(
        "/products/{gtin}",
        tags=["products"],
        response_model=ProductRegistered,
        dependencies=[requires(allowed.MASTER_DATA_READ, resources.product)],
        openapi_extra=refuses({InvalidInput: (gs1.GTIN,), NotFound: (rules.REGISTERED_PRODUCT,)}),
    )
    async def get_product(gtin: GtinPath) -> ProductRegistered:
        """A product's master data."""
        return await handlers.load.product(gtin, missing=NotFound)

    @router.post(
        "/batches",
        status_code=status.HTTP_201_CREATED,
        tags=["batches"],
        response_model=BatchRegistered,
        dependencies=[requires(allowed.BATCHES_WRITE, resources.new_batch)],
        openapi_extra=refuses(
            {
                InvalidInput: (
                    gs1.GTIN,
                    rules.REGISTERED_PRODUCT,
                    gs1.LOT,
                    gs1.GLN,
                    rules.AFTER_MANUFACTURE,
                    rules.WITHIN_SHELF_LIFE,
                    rules.MADE_BY_SITES_CMO,
                ),
                Conflict: (rules.UNIQUE,),
            }
        ),
    )
    async def register_batch(body: BatchIn, request: Request) -> BatchRegistered:
        """Register a batch (lot and expiry) of a registered product."""
        proposed = BatchRegistered(**body.model_dump())
        return await handlers.register_batch(proposed, record_metadata(request))

    @router.get(
        "/batches/{gtin}/{lot}",
        tags=["batches"],
        response_model=BatchRegistered,
        dependencies=[requires(allowed.MASTER_DATA_READ, resources.batch)],
    )
    async def get_batch(gtin: GtinPath, lot: LotPath, request: Request) -> BatchRegistered:
        """A batch's lot, expiry and manufacturing site."""
        found: BatchRegistered = request.state.batch  # loaded by the ownership check
        return found


def _location_routes(router: APIRouter, handlers: SerialIssuanceHandlers, resources: Resources) -> None:
    @router.post(
        "/sites",
        status_code=status.HTTP_201_CREATED,
        tags=["locations"],
        response_model=SiteOut,
        dependencies=[requires(allowed.MASTER_DATA_WRITE, resources.new_site)],
        openapi_extra=refuses({InvalidInput: (gs1.GLN,), Conflict: (rules.UNIQUE,)}),
    )
    async def register_site(body: SiteIn, request: Request) -> SiteOut:
        """Register a site (GLN, address, the CMO operating it): the business location of what its
        lines record. Idempotent for identical data."""
        proposed = location.site(
            body.gln, body.company_prefix_length, body.name, body.address.model_dump(), body.cmo_id
        )
        site = await handlers.register_site(proposed, record_metadata(request))
        return SiteOut(**site.model_dump(), lines=await resources.lines_of(site.gln))

    @router.get(
        "/sites/{gln}",
        tags=["locations"],
        response_model=SiteOut,
        dependencies=[requires(allowed.MASTER_DATA_READ, resources.site)],
    )
    async def get_site(gln: GlnPath, request: Request) -> SiteOut:
        """A site and its lines, with their SGLNs (EPCIS business location and read points)."""
        site = request.state.site  # loaded by the ownership check
        return SiteOut(**site.model_dump(), lines=await resources.lines_of(site.gln))

    @router.post(
        "/sites/{gln}/lines",
        status_code=status.HTTP_201_CREATED,
        tags=["locations"],
        response_model=LineRegistered,
        dependencies=[requires(allowed.MASTER_DATA_WRITE, resources.new_line)],
        openapi_extra=refuses(
            {InvalidInput: (rules.LINE_ID, rules.GLN_EXTENSION), Conflict: (rules.UNIQUE, rules.UNIQUE_READ_POINT)}
        ),
    )
    async def register_line(gln: GlnPath, body: LineIn, request: Request) -> LineRegistered:
        """Register a packaging line of a site: its id (what line systems send) and its read point
        (the site's GLN with a GLN extension). Idempotent for identical data."""
        return await handlers.register_line(gln, body.line_id, body.name, body.extension, record_metadata(request))


def _serial_request_routes(
    router: APIRouter, handlers: SerialIssuanceHandlers, resources: Resources, digital_link_base: str
) -> None:
    @router.post(
        "/serial-requests",
        status_code=status.HTTP_201_CREATED,
        tags=["serials"],
        response_model=SerialRequestOut,
        dependencies=[requires(allowed.SERIALS_REQUEST, resources.new_serials)],
        openapi_extra=refuses(
            {
                InvalidInput: (
                    gs1.GTIN,
                    rules.REGISTERED_PRODUCT,
                    rules.REGISTERED_BATCH,
                    rules.RANGE,
                    rules.GUESS_PROBABILITY,
                ),
                Conflict: (rules.SERIAL_KEY,),
            }
        ),
    )
    async def request_serials(body: SerialRequestIn, request: Request) -> SerialRequestOut:
        """Allocate randomised serials (FF3-1 over a per-GTIN counter; EU FMD guessing odds enforced)."""
        command = RequestSerials(gtin=body.gtin, lot=body.lot, quantity=body.quantity, output_form=body.output_form)
        allocated = await handlers.request_serials(command, record_metadata(request))
        return SerialRequestOut(
            request_id=allocated.request_id,
            gtin=allocated.gtin,
            lot=allocated.lot,
            quantity=allocated.quantity,
            output_form=allocated.output_form,
            serials_url=f"/v1/serial-requests/{allocated.request_id}/serials",
        )

    @router.get(
        "/serial-requests/{request_id}/serials",
        tags=["serials"],
        response_class=StreamingResponse,
        responses={200: {"content": {MEDIA["text"]: {}, MEDIA["ndjson"]: {}}, "description": "one serial per line"}},
        dependencies=[requires(allowed.SERIALS_READ, resources.serial_request)],
    )
    async def stream_serials(
        request: Request,
        request_id: UUID,
        format: Annotated[
            StreamFormat, Query(description="text: one per line; ndjson: one JSON object per line")
        ] = "text",
        form: Annotated[OutputForm | None, Query(description="override the request's output form")] = None,
    ) -> StreamingResponse:
        """Stream the serials of a request, generated chunk by chunk (never the whole list in memory)."""
        row = request.state.serial_request  # loaded by the ownership check
        registered = await handlers.load.product(row["gtin"])
        fmt = product.serial_format(registered)
        parts = line_parts(
            form or OutputForm(row["output_form"]),
            row["gtin"],
            registered.company_prefix_length,
            digital_link_base,
            ndjson=format == "ndjson",
        )
        chunks = render_counters(
            handlers.keyring.cipher(row["gtin"], fmt),
            fmt,
            row["first_counter"],
            row["end_counter"],
            row["skipped_counters"],
            parts,
        )
        headers = {"X-Serial-Count": str(row["quantity"])}
        return StreamingResponse(chunks, media_type=MEDIA[format], headers=headers)

    @router.post(
        "/serial-imports",
        status_code=status.HTTP_201_CREATED,
        tags=["serials"],
        response_model=SerialImportOut,
        dependencies=[requires(allowed.SERIALS_IMPORT, resources.new_import)],
        openapi_extra=refuses(
            {
                InvalidInput: (
                    gs1.GTIN,
                    rules.REGISTERED_PRODUCT,
                    rules.REGISTERED_BATCH,
                    rules.SIZE,
                    rules.SERIAL,
                    rules.EU_ALPHANUMERIC,
                    rules.DUPLICATE,
                    rules.UNIQUE_FOR_GTIN,
                ),
                Conflict: (rules.SERIAL_KEY, rules.ALREADY_IMPORTED),
            }
        ),
    )
    async def import_serials(body: SerialImportIn, request: Request) -> SerialImportOut:
        """Import a CMO's or customer's own serial list; all-or-nothing with a per-serial reason list."""
        command = ImportSerials(gtin=body.gtin, lot=body.lot, source=body.source, serials=body.serials)
        imported = await handlers.import_serials(command, record_metadata(request))
        return SerialImportOut(
            import_id=imported.import_id, gtin=imported.gtin, lot=imported.lot, quantity=len(imported.serials)
        )


def _sscc_routes(router: APIRouter, handlers: SerialIssuanceHandlers, resources: Resources) -> None:
    @router.post(
        "/sscc-requests",
        status_code=status.HTTP_201_CREATED,
        tags=["sscc"],
        response_model=SsccRequestOut,
        dependencies=[requires(allowed.SSCC_REQUEST, resources.new_ssccs)],
        openapi_extra=refuses({InvalidInput: (rules.COMPANY_PREFIX, rules.RANGE, rules.SSCC_CAPACITY)}),
    )
    async def request_ssccs(body: SsccRequestIn, request: Request) -> SsccRequestOut:
        """Allocate a range of SSCCs (extension digit + company prefix + serial reference + check digit)."""
        command = RequestSsccs(
            company_prefix=body.company_prefix, extension_digit=body.extension_digit, quantity=body.quantity
        )
        e = await handlers.request_ssccs(command, record_metadata(request))
        return SsccRequestOut(
            request_id=e.request_id,
            quantity=e.quantity,
            first=sscc(e.extension_digit, e.company_prefix, e.first_reference),
            last=sscc(e.extension_digit, e.company_prefix, e.first_reference + e.quantity - 1),
            ssccs_url=f"/v1/sscc-requests/{e.request_id}/ssccs",
        )

    @router.get(
        "/sscc-requests/{request_id}/ssccs",
        tags=["sscc"],
        response_class=StreamingResponse,
        dependencies=[requires(allowed.SERIALS_READ, resources.sscc_request)],
    )
    async def stream_ssccs(request: Request, request_id: UUID) -> StreamingResponse:
        """The SSCCs of a request, one per line."""
        row = request.state.sscc_request  # loaded by the ownership check

        def lines() -> Iterator[bytes]:
            first = row["first_reference"]
            for start in range(first, first + row["quantity"], 10_000):
                stop = min(start + 10_000, first + row["quantity"])
                yield "".join(
                    sscc(row["extension_digit"], row["company_prefix"], ref) + "\n" for ref in range(start, stop)
                ).encode()

        return StreamingResponse(lines(), media_type=MEDIA["text"])


def _commissioning_routes(
    router: APIRouter,
    handlers: SerialIssuanceHandlers,
    queries: SerialQueries,
    resources: Resources,
    not_ahead: NotAhead,
) -> None:
    @router.post(
        "/commissioning",
        status_code=status.HTTP_201_CREATED,
        tags=["commissioning"],
        response_model=CommissioningOut,
        dependencies=[requires(allowed.SERIALS_COMMISSION, resources.commissioning)],
        openapi_extra=refuses({InvalidInput: COMMISSIONING_INPUT, Conflict: (rules.ALREADY_COMMISSIONED,)}),
    )
    async def commission(body: CommissioningIn, request: Request) -> CommissioningOut:
        """Commission issued or imported serials into a batch: all-or-nothing, per-serial reasons on rejection.
        The serials come as gtin + serials, SGTIN EPC URIs, or scans as the line read them (a lot or expiry on
        a label must be the batch's). The line is named by its id or its read point's SGLN. The event time needs
        an offset; it may not be ahead of the server's clock, before the batch was registered, or after its
        expiry (beyond the allowed clock skew)."""
        command = Commission(
            commissioning_id=uuid.uuid4(),
            gtin=body.gtin,
            serials=body.serials,
            epcs=body.epcs,
            scans=body.scans,
            lot=body.lot,
            expiry=body.expiry,
            line=request.state.line,  # resolved by the ownership check
            event_time=not_ahead(body.event_time, "event_time"),
        )
        e = await handlers.commission(command, record_metadata(request))
        return CommissioningOut(
            commissioning_id=e.commissioning_id,
            gtin=e.gtin,
            lot=e.lot,
            expiry=e.expiry,
            line_id=e.line_id,
            read_point=e.read_point,
            biz_location=e.biz_location,
            commissioned=len(e.serials),
        )

    @router.get(
        "/serials/{gtin}/{serial}",
        tags=["serials"],
        dependencies=[requires(allowed.SERIALS_READ, resources.serial)],
    )
    async def serial_status(gtin: GtinPath, serial: SerialPath, request: Request) -> dict[str, Any]:
        """Status and history of one serial: which request issued it, when and by whom it was commissioned."""
        found: dict[str, Any] = request.state.serial  # loaded by the ownership check
        return found

    @router.get(
        "/batches/{gtin}/{lot}/serial-summary",
        tags=["batches"],
        response_model=SerialSummaryOut,
        dependencies=[requires(allowed.SERIALS_READ, resources.batch)],
    )
    async def serial_summary(gtin: GtinPath, lot: LotPath, request: Request) -> SerialSummaryOut:
        """Counts of serials issued, imported and commissioned for a batch."""
        await resources.consistent()
        return SerialSummaryOut(gtin=gtin, lot=lot, **await queries.batch_counts(gtin, lot))
