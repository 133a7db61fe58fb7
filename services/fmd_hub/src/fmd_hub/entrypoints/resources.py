"""What each route of the hub service touches, and who owns it. The kit checks it before the
endpoint runs (`serialtrail_kit.access.resources`).

A product's master data is its GTIN's. A batch's uploads are its GTIN's and its CMO's: the
batch is looked up (from what serial issuance published), and one outside the caller's scope
is answered exactly like an unknown one."""

from __future__ import annotations

from fastapi import Request
from serialtrail_contracts.identity import NO_CMO, Target
from serialtrail_gs1.paths import GTIN_IN_PATH, gtin_in_path
from serialtrail_kit.access.resources import Resource
from serialtrail_kit.db import Pool
from serialtrail_kit.errors import DomainError, NotFound

from fmd_hub.domain import rules
from fmd_hub.projections import knowledge


def _no_product(request: Request) -> DomainError:
    gtin = request.path_params["gtin"]
    message = f"no product {gtin} is known (a product registered moments ago may not have reached the hub service yet)"
    return NotFound(message, [rules.KNOWN_PRODUCT.at("gtin", message)])


def _no_batch(request: Request) -> DomainError:
    gtin, lot = request.path_params["gtin"], request.path_params["lot"]
    message = f"no batch {lot!r} is known for GTIN {gtin}"
    return NotFound(message, [rules.KNOWN_BATCH.at("lot", message)])


class Resources:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.product = Resource(
            "fmd-product",
            named=gtin_in_path(),
            owner=self._product,
            unknown=_no_product,
            description="a product's master data for the hub: its GTIN's",
            refuses={NotFound: (rules.KNOWN_PRODUCT,), **GTIN_IN_PATH},
        )
        self.batch = Resource(
            "fmd-batch",
            named=gtin_in_path(),
            owner=self._batch,
            unknown=_no_batch,
            description="what the hub was sent of a batch: its product's and its CMO's",
            refuses={NotFound: (rules.KNOWN_BATCH,), **GTIN_IN_PATH},
        )
        self.hub_state = Resource(
            "fmd-batch-state",
            named=gtin_in_path(),
            owner=self._batch,
            unknown=_no_batch,
            description="a batch's state at the hub (recalled, withdrawn): its product's and its CMO's",
            refuses={NotFound: (rules.KNOWN_BATCH,), **GTIN_IN_PATH},
        )
        self.upload = Resource(
            "fmd-upload",
            named=gtin_in_path(),
            owner=self._batch,
            unknown=_no_batch,
            description="a batch's pack data to upload to the hub: its product's and its CMO's",
            refuses={NotFound: (rules.KNOWN_BATCH,), **GTIN_IN_PATH},
        )

    async def _product(self, request: Request) -> Target:
        async with self.pool.acquire() as conn:
            found = await knowledge.product(conn, request.path_params["gtin"])
        if found is None:
            raise _no_product(request)
        request.state.product = found
        return Target(gtins=frozenset({found.gtin}))

    async def _batch(self, request: Request) -> Target:
        async with self.pool.acquire() as conn:
            found = await knowledge.batch(conn, request.path_params["gtin"], request.path_params["lot"])
        if found is None:
            raise _no_batch(request)
        request.state.batch = found
        site = Target(sites=frozenset({found.site_gln})) if found.site_gln else Target()
        return Target(cmos=frozenset({found.cmo_id or NO_CMO})) | site
