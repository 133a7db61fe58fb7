"""The hub status of a batch and of a product's master data, as the routes answer them: what
was recorded, with each upload's state derived from its chunks and its reconciliation."""

from __future__ import annotations

from typing import Any

from serialtrail_kit.db import Pool

from fmd_hub.projections.alerts import open_alerts_of
from fmd_hub.projections.hub_status import hub_states_of, uploads_of, versions_of


def _upload(row: dict[str, Any]) -> dict[str, Any]:
    chunks = [
        {
            key: chunk[key]
            for key in ("chunk", "packs", "status", "acknowledged", "hub_batch_packs", "reason", "attempts")
        }
        for chunk in row["chunks"]
    ]
    states = {chunk["status"] for chunk in chunks}
    reconciliation = row["reconciliation"]
    if "refused" in states:
        status = "refused"
    elif "sending" in states:
        status = "sending"
    elif reconciliation is None:
        status = "acknowledged"
    else:
        status = "reconciled" if reconciliation.get("matched") else "mismatch"
    return {
        "upload_id": str(row["upload_id"]),
        "planned_at": row["planned_at"],
        "master_data_version": row["master_data_version"],
        "markets": row["markets"],
        "commissioned": row["commissioned"],
        "uploaded_before": row["uploaded_before"],
        "left_out": row["left_out"],
        "states_after_upload": row["states_after_upload"],
        "packs": sum(chunk["packs"] for chunk in chunks),
        "acknowledged": sum(chunk["acknowledged"] or 0 for chunk in chunks),
        "status": status,
        "reconciliation": reconciliation,
        "chunks": chunks,
    }


async def batch_status(pool: Pool, gtin: str, lot: str) -> dict[str, Any]:
    uploads = [_upload(row) for row in await uploads_of(pool, gtin, lot)]
    hub_state, changes = await hub_states_of(pool, gtin, lot)
    return {
        "gtin": gtin,
        "lot": lot,
        "hub_state": None if hub_state is None else f"{hub_state['state']} ({hub_state['status']})",
        "pack_states": {status: changes.get(status, 0) for status in ("pending", "changed", "refused")}
        | {"not_sent": changes.get("not-sent", 0)},
        "status": uploads[-1]["status"] if uploads else "not-uploaded",
        "packs_planned": sum(upload["packs"] for upload in uploads),
        "packs_acknowledged": sum(upload["acknowledged"] for upload in uploads),
        "uploads": uploads,
        "open_alerts": await open_alerts_of(pool, gtin, lot),
        "master_data": await versions_of(pool, gtin),
    }


async def product_status(pool: Pool, gtin: str) -> dict[str, Any]:
    versions = await versions_of(pool, gtin)
    acknowledged = [v["version"] for v in versions if v["status"] == "acknowledged"]
    return {"gtin": gtin, "in_force": max(acknowledged) if acknowledged else None, "versions": versions}
