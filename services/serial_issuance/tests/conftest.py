from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from serial_issuance import bootstrap
from serialtrail_kit.testing.harness import Harness, serve


@pytest.fixture
async def service(database_dsn: str) -> AsyncIterator[Harness]:
    async with serve(database_dsn, [bootstrap.SERVICE]) as harness:
        yield harness
