"""Child process for the crash test: commissions batches of serials and prints the id of
each one the API acknowledged, until it is killed."""

from __future__ import annotations

import asyncio
import sys

from issuance_helpers import batch, commission, product, serials, site
from serial_issuance.settings import SerialIssuanceSettings
from serialtrail.services import SERVICES
from serialtrail_kit.testing.harness import serve


async def main(dsn: str, key: str) -> None:
    async with serve(
        dsn, SERVICES, own_settings={"serial_issuance": SerialIssuanceSettings(serial_key=key)}
    ) as service:
        await product(service.client)
        await batch(service.client)
        await site(service.client)
        issued = await serials(service.client, 50_000)
        for start in range(0, len(issued), 500):
            response = await commission(service.client, issued[start : start + 500])
            assert response.status_code == 201, response.text
            print(response.json()["commissioning_id"], flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
