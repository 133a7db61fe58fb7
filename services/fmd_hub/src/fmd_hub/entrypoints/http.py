"""HTTP routes of the EU FMD hub service: parse → command → handler. No decisions here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response, status
from serialtrail_contracts.fmd import MarketCode, Party
from serialtrail_gs1.paths import GtinPath, LotPath
from serialtrail_kit.access.authz import requires
from serialtrail_kit.errors import Conflict, InvalidInput, Unavailable
from serialtrail_kit.http.answers import ok
from serialtrail_kit.http.context import record_metadata
from serialtrail_kit.http.problems import JsonResponse
from serialtrail_kit.http.refusals import refuses
from serialtrail_kit.http.signing import SIGNS, signer_of

from fmd_hub.application.handlers import HubHandlers
from fmd_hub.domain import rules
from fmd_hub.domain.master_data import MasterData
from fmd_hub.domain.uploads import Batch
from fmd_hub.entrypoints import permissions as allowed
from fmd_hub.entrypoints.resources import Resources
from fmd_hub.entrypoints.schemas import (
    BATCH_STATE_EXAMPLE,
    MASTER_DATA_EXAMPLE,
    BatchStateIn,
    BatchStateOut,
    BatchStatus,
    MasterDataIn,
    MasterDataOut,
    ProductStatus,
    UploadAccepted,
)
from fmd_hub.entrypoints.status import batch_status, product_status
from fmd_hub.projections.knowledge import Product

Consistent = Callable[[], Awaitable[None]]

_SUBMITS = refuses({InvalidInput: (rules.EU_MARKET,)})
_UPLOADS = refuses(
    {
        Unavailable: (),
        InvalidInput: (rules.HUB_BATCH_ID, rules.HUB_EXPIRY, rules.HUB_SERIAL),
        Conflict: (rules.MASTER_DATA_FIRST, rules.NOTHING_TO_UPLOAD, rules.NOT_RECALLED),
    }
)
_CHANGES_STATE = refuses({Conflict: (rules.BATCH_UPLOADED, rules.BATCH_STATE_FINAL), **SIGNS})


def build_router(handlers: HubHandlers, consistent: Consistent) -> APIRouter:
    router = APIRouter(prefix="/v1/fmd", tags=["EU FMD hub"])
    resources = Resources(handlers.pool)

    @router.post(
        "/products/{gtin}/master-data",
        status_code=status.HTTP_201_CREATED,
        dependencies=[requires(allowed.MANAGE, resources.product)],
        openapi_extra=_SUBMITS,
        responses={200: {"model": MasterDataOut, "description": "the latest version again: nothing changed"}},
    )
    async def submit_master_data(
        gtin: GtinPath,
        body: Annotated[
            MasterDataIn, Body(openapi_examples={"a product for DE and FR": {"value": MASTER_DATA_EXAMPLE}})
        ],
        request: Request,
        response: Response,
    ) -> MasterDataOut:
        """Send the product's master data to the EU FMD hub: a new version when it differs from the
        latest (201), nothing when it is the latest again (200). Each market must be one of the
        product's target markets that uses the hub, with its national code. A batch is uploaded
        under the version the hub acknowledged last; a new version never changes an uploaded one's."""
        product: Product = request.state.product
        submitted = MasterData(
            gtin=product.gtin,
            name=body.name,
            common_name=body.common_name,
            pharmaceutical_form=body.pharmaceutical_form,
            strength=body.strength,
            pack_type=body.pack_type,
            pack_size=body.pack_size,
            markets=tuple(MarketCode(market=m.market, national_code=m.national_code) for m in body.markets),
            mah=Party(name=body.mah.name, id=body.mah.id),
            wholesalers=tuple(Party(name=w.name, id=w.id) for w in body.wholesalers),
        )
        versioned = await handlers.submit_master_data(product, submitted, record_metadata(request))
        if not versioned.changed:
            response.status_code = status.HTTP_200_OK
        return MasterDataOut(
            gtin=product.gtin,
            version=versioned.version.version,
            changed=versioned.changed,
            status_url=f"/v1/fmd/products/{product.gtin}/master-data",
        )

    @router.get(
        "/products/{gtin}/master-data",
        dependencies=[requires(allowed.READ, resources.product)],
        responses=ok(ProductStatus, "the product's master data versions and the hub's answers"),
    )
    async def read_master_data(gtin: GtinPath) -> JsonResponse:
        """The product's master data versions sent to the hub, each with the hub's answer, and the
        version in force (the one the hub acknowledged last)."""
        await consistent()
        return JsonResponse(await product_status(handlers.pool, gtin))

    @router.post(
        "/batches/{gtin}/{lot}/uploads",
        status_code=status.HTTP_202_ACCEPTED,
        dependencies=[requires(allowed.MANAGE, resources.upload)],
        openapi_extra=_UPLOADS,
    )
    async def upload_batch(gtin: GtinPath, lot: LotPath, request: Request) -> UploadAccepted:
        """Upload the batch's pack data to the EU FMD hub: its commissioned serials not uploaded
        before, in chunks of at most 250,000, sent by the outbound worker (retried until the hub
        answers; `serialtrail jobs` lists what is stuck). Serials taken out before upload as line
        rejects or destroyed are left out; samples, stolen and locked packs are uploaded and their
        state follows. When every chunk is acknowledged the hub's count of the batch is
        reconciled with what was planned. Progress: `GET /v1/fmd/batches/{gtin}/{lot}`."""
        batch: Batch = request.state.batch
        plan = await handlers.upload(batch, record_metadata(request))
        planned = plan.planned
        return UploadAccepted(
            upload_id=planned.upload_id,
            packs=sum(chunk.packs for chunk in planned.chunks),
            chunks=len(planned.chunks),
            left_out=planned.left_out,
            states_after_upload=planned.states_after_upload,
            status_url=f"/v1/fmd/batches/{gtin}/{lot}",
        )

    @router.post(
        "/batches/{gtin}/{lot}/hub-state",
        status_code=status.HTTP_201_CREATED,
        dependencies=[requires(allowed.MANAGE, resources.hub_state)],
        openapi_extra=_CHANGES_STATE,
        responses={
            200: {"model": BatchStateOut, "description": "the batch was in that state already: nothing changed"}
        },
    )
    async def change_hub_state(
        gtin: GtinPath,
        lot: LotPath,
        body: Annotated[BatchStateIn, Body(openapi_examples={"a recall": {"value": BATCH_STATE_EXAMPLE}})],
        request: Request,
        response: Response,
    ) -> BatchStateOut:
        """Recall or withdraw the batch at the EU FMD hub: irreversible, so signed (the requester
        re-authenticates with `signature.credential`; the signature is recorded with the request,
        bound to its hash). Once recalled or withdrawn, no more of the batch is uploaded and no undo
        of a pack's state is sent. The same state again changes nothing (200)."""
        batch: Batch = request.state.batch
        signer = await signer_of(request, body.signature)
        assert signer is not None  # the body requires a signature
        done = await handlers.change_batch_state(batch, body.state, body.reason, signer, record_metadata(request))
        if done is None:
            response.status_code = status.HTTP_200_OK
        return BatchStateOut(
            gtin=gtin,
            lot=lot,
            state=body.state,
            changed=done is not None,
            signature_id=None if done is None else done[1]["signature_id"],
            status_url=f"/v1/fmd/batches/{gtin}/{lot}",
        )

    @router.get(
        "/batches/{gtin}/{lot}",
        dependencies=[requires(allowed.READ, resources.batch)],
        responses=ok(BatchStatus, "what the hub was sent of the batch and what it answered"),
    )
    async def read_batch(gtin: GtinPath, lot: LotPath) -> JsonResponse:
        """The hub part of a QA release review: each upload of the batch (chunks, packs the hub
        acknowledged, packs left out and why, the reconciliation of the hub's count), and the
        product's master data versions with the hub's answers."""
        await consistent()
        return JsonResponse(await batch_status(handlers.pool, gtin, lot))

    return router
