"""The other side of the hub: scans in pharmacies and at wholesalers (a /_sim control, since a
national system makes them, never the MAH), the alerts they raise, and the MAH's feed of them."""

from __future__ import annotations

import uuid
from typing import Any

from eu_hub_simulator.faults import Clock
from eu_hub_simulator.models import BAD_FIELD, Verify, parse
from eu_hub_simulator.rules import ACTIVE, FMD_MARKETS, Refused
from eu_hub_simulator.states import batch_usable, record
from eu_hub_simulator.store import Pack, Store

ALERT_COLUMNS = "alert_id, code, message, product_code, batch_id, serial, market, location, raised_at"
MAX_PAGE = 500


def raise_alert(store: Store, clock: Clock, scan: Verify, code: str, message: str) -> dict[str, Any]:
    alert = {
        "alert_id": str(uuid.uuid4()),  # unique across simulators too: a consumer may keep ids for good
        "code": code,
        "message": message,
        "product_code": scan.product_code,
        "batch_id": scan.batch_id,
        "serial": scan.serial,
        "market": scan.market,
        "location": scan.location,
        "raised_at": clock.iso(),
    }
    store.db.execute(f"INSERT INTO alerts ({ALERT_COLUMNS}) VALUES ({', '.join('?' * 9)})", tuple(alert.values()))
    return alert


def scanned_wrong(pack: Pack | None, scan: Verify) -> tuple[str, str] | None:
    """The alert a scan raises whatever it asks for, as (code, message), or None."""
    if pack is None:
        return "NMVS_NC_PCK_01", f"pack {scan.serial} is unknown"
    if scan.market not in pack.markets:
        return "NMVS_NC_PCK_01", f"pack {scan.serial} is unknown in market {scan.market} (not uploaded for it)"
    if scan.batch_id != pack.batch.batch_id:
        return "NMVS_FE_LOT_03", f"batch {scan.batch_id} is not the pack's"
    if scan.expiry != pack.batch.expiry:
        return "NMVS_FE_LOT_12", f"expiry {scan.expiry} is not the pack's"
    return None


def decommission_wrong(pack: Pack, state: str) -> tuple[str, str] | None:
    if pack.state == state:
        return "NMVS_NC_PCK_19", f"the pack is already {state}"
    if pack.state != ACTIVE:
        return "NMVS_NC_PCK_22", f"the pack is {pack.state}, not Active"
    return None


def verify(store: Store, clock: Clock, body: bytes) -> dict[str, Any]:
    scan = parse(Verify, body)
    if scan.market not in FMD_MARKETS:
        raise Refused(422, BAD_FIELD, f"invalid field market: {scan.market!r} is no EU FMD market")
    pid = store.product_id(scan.product_code)
    if pid is None:
        alert = raise_alert(store, clock, scan, "NMVS_NC_PC_02", f"product {scan.product_code} is unknown")
        return {"result": "ALERT", "state": None, "alert": alert}
    pack = store.pack(pid, scan.serial)
    wrong = scanned_wrong(pack, scan) or (
        decommission_wrong(pack, scan.decommission) if pack is not None and scan.decommission else None
    )
    if wrong is not None:
        state = pack.state if pack is not None else None
        return {"result": "ALERT", "state": state, "alert": raise_alert(store, clock, scan, *wrong)}
    assert pack is not None
    answer: dict[str, Any] = {"result": "OK", "state": pack.state, "alert": None, "batch_state": pack.batch.state}
    if scan.decommission:
        try:
            batch_usable(pack.batch, clock)
        except Refused as refused:
            # A recalled or expired pack is not supplied, but that is no alert for the MAH: the
            # pharmacist is told why, as here.
            return {**answer, "result": "REFUSED", "code": refused.code, "message": refused.message}
        record(store, pid, pack, scan.decommission, scan.location, clock.now(), False, "verify")
        answer["state"] = scan.decommission
    return answer


def alerts_page(store: Store, after: str | None, limit: str | None) -> dict[str, Any]:
    last = int(store.db.execute("SELECT coalesce(max(seq), 0) FROM alerts").fetchone()[0])
    if after is None:
        start = 0
    elif after.isascii() and after.isdigit() and int(after) <= last:
        start = int(after)
    else:
        raise Refused(422, "NMVS_FE_CURSOR_01", f"cursor {after!r} was never handed out")
    size = 100 if limit is None else int(limit) if limit.isascii() and limit.isdigit() else 0
    if not 1 <= size <= MAX_PAGE:
        raise Refused(422, BAD_FIELD, f"invalid field limit: 1 to {MAX_PAGE}")
    rows = store.db.execute(
        f"SELECT seq, {ALERT_COLUMNS} FROM alerts WHERE seq > ? ORDER BY seq LIMIT ?", (start, size)
    ).fetchall()
    keys = ALERT_COLUMNS.split(", ")
    alerts = [dict(zip(keys, row[1:], strict=True)) for row in rows]
    # `next` is where to read on from whenever this page held alerts (keep it even when the page is
    # short: it is where the next poll starts); null when nothing lies after `after` yet.
    return {"alerts": alerts, "next": str(rows[-1][0]) if rows else None}
