"""Read side: answers from the serial-status read model (views in `serial_issuance_rm`)
and, for single aggregates, straight from their streams."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from serialtrail_kit.access.resources import EXISTS
from serialtrail_kit.db import Pool
from serialtrail_kit.errors import NotFound

from serial_issuance.application.loading import Loader
from serial_issuance.domain import counter_bitmap, product
from serial_issuance.domain.generation import counters_of
from serial_issuance.domain.keys import SerialKeyring
from serial_issuance.domain.rules import ISSUED_FOR_GTIN
from serial_issuance.projections import decommissions

RM = "serial_issuance_rm"


class SerialQueries:
    def __init__(self, pool: Pool, loader: Loader, keyring: SerialKeyring) -> None:
        self.pool = pool
        self.load = loader
        self.keyring = keyring

    async def serial_request(self, request_id: UUID) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(f"SELECT * FROM {RM}.serial_requests WHERE request_id = $1", request_id)
        if row is None:
            raise NotFound(
                f"no serial request {request_id}",
                [EXISTS.at("request_id", "unknown serial request")],
            )
        return dict(row)

    async def sscc_request(self, request_id: UUID) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(f"SELECT * FROM {RM}.sscc_requests WHERE request_id = $1", request_id)
        if row is None:
            raise NotFound(f"no SSCC request {request_id}", [EXISTS.at("request_id", "unknown SSCC request")])
        return dict(row)

    async def batch_counts(self, gtin: str, lot: str) -> dict[str, int]:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT issued, imported, commissioned FROM {RM}.batch_counts WHERE gtin = $1 AND lot = $2",
                gtin,
                lot,
            )
        return {"issued": 0, "imported": 0, "commissioned": 0} if row is None else dict(row)

    async def serial(self, gtin: str, serial: str) -> dict[str, Any]:
        registered = await self.load.product(gtin, missing=NotFound)
        fmt = product.serial_format(registered)
        async with self.pool.acquire() as conn:
            commissioned = await self._commissioned(conn, gtin, serial, fmt)
            issued = await self._issued_by(conn, registered.gtin, serial, fmt)
        if issued is None:
            raise NotFound(
                f"serial {serial} was not issued or imported for GTIN {gtin}",
                [ISSUED_FOR_GTIN.at("serial", "unknown serial for this GTIN")],
            )
        history = [issued]
        out = False
        if commissioned is not None:
            history.append(
                {
                    "event": "commissioned",
                    "commissioning_id": str(commissioned["commissioning_id"]),
                    "lot": commissioned["lot"],
                    "expiry": commissioned["expiry"].isoformat(),
                    "line_id": commissioned["line_id"],
                    "read_point": commissioned["read_point"],
                    "biz_location": commissioned["biz_location"],
                    "event_time": commissioned["event_time_as_sent"],
                    "recorded_at": commissioned["recorded_at"],
                    "by": commissioned["commissioned_by"]["principal_id"],
                    "record": commissioned["commissioned_by"],
                }
            )
            async with self.pool.acquire() as conn:
                told, out = await decommissions.history(conn, gtin, serial)  # by line exceptions
                history += told + await _rework_links(conn, gtin, serial)
        history.sort(key=lambda entry: entry["recorded_at"])  # as recorded (stable)
        status = "decommissioned" if out else "commissioned" if commissioned else "issued"
        return {"gtin": gtin, "serial": serial, "status": status, "history": history}

    async def _commissioned(self, conn: Any, gtin: str, serial: str, fmt: Any) -> Any:
        if not fmt.fits(serial):
            return await conn.fetchrow(
                f"SELECT c.* FROM {RM}.commissioned_unpooled u JOIN {RM}.commissionings c USING (commissioning_id) "
                "WHERE u.gtin = $1 AND u.serial = $2",
                gtin,
                serial,
            )
        (counter,) = counters_of(self.keyring.cipher(gtin, fmt), fmt, [serial]).tolist()
        rows = await conn.fetch(
            f"SELECT c.*, k.bits FROM {RM}.commissioned_chunks k JOIN {RM}.commissionings c USING (commissioning_id) "
            "WHERE k.gtin = $1 AND k.chunk = $2",
            gtin,
            int(counter) // counter_bitmap.CHUNK_BITS,
        )
        return next((r for r in rows if counter_bitmap.contains(bytes(r["bits"]), int(counter))), None)

    async def _issued_by(self, conn: Any, gtin: str, serial: str, fmt: Any) -> dict[str, Any] | None:
        if fmt.fits(serial):
            (counter,) = counters_of(self.keyring.cipher(gtin, fmt), fmt, [serial]).tolist()
            row = await conn.fetchrow(
                f"SELECT * FROM {RM}.serial_requests WHERE gtin = $1 AND first_counter <= $2 AND $2 < end_counter "
                "AND NOT ($2 = ANY(skipped_counters))",
                gtin,
                int(counter),
            )
            if row is not None:
                return {
                    "event": "issued",
                    "request_id": str(row["request_id"]),
                    "lot": row["lot"],
                    "recorded_at": row["requested_at"],
                    "by": row["requested_by"]["principal_id"],
                    "record": row["requested_by"],
                }
        row = await conn.fetchrow(
            f"SELECT i.* FROM {RM}.imported_serials s JOIN {RM}.serial_imports i USING (import_id) "
            "WHERE s.gtin = $1 AND s.serial = $2",
            gtin,
            serial,
        )
        if row is None:
            return None
        return {
            "event": "imported",
            "import_id": str(row["import_id"]),
            "source": row["source"],
            "lot": row["lot"],
            "recorded_at": row["imported_at"],
            "by": row["imported_by"]["principal_id"],
            "record": row["imported_by"],
        }


async def _rework_links(conn: Any, gtin: str, serial: str) -> list[dict[str, Any]]:
    """Rework seen from either side: `replaced` on the serial relabelled (naming its
    replacement), `replaces` on the replacement (naming the serial it stands in for)."""
    rows = await conn.fetch(
        f"SELECT serial, replacement_serial, exception_id::text AS exception_id, line_id, event_time, recorded_at, "
        f"recorded_by FROM {RM}.replacements WHERE gtin = $1 AND (serial = $2 OR replacement_serial = $2)",
        gtin,
        serial,
    )
    return [
        {
            "event": "replaced" if row["serial"] == serial else "replaces",
            "serial": row["replacement_serial"] if row["serial"] == serial else row["serial"],
            "exception_id": row["exception_id"],
            "line_id": row["line_id"],
            "event_time": row["event_time"],
            "recorded_at": row["recorded_at"],
            "record": row["recorded_by"],
        }
        for row in rows
    ]
