"""The composition root of serial issuance: the one place that wires adapters to handlers."""

from __future__ import annotations

from serialtrail_kit.db import Pool
from serialtrail_kit.errors import Unavailable
from serialtrail_kit.eventstore.postgres import PostgresEventStore
from serialtrail_kit.readers.projection import ProjectionRunner
from serialtrail_kit.service import ServiceModule
from serialtrail_kit.settings import Settings

from serial_issuance.application import registry
from serial_issuance.application.handlers import SerialIssuanceHandlers
from serial_issuance.application.queries import SerialQueries
from serial_issuance.domain.keys import SerialKeyring
from serial_issuance.entrypoints.http import build_router
from serial_issuance.projections.serial_status import SerialStatusProjection

NAME = "serial_issuance"


def build(settings: Settings, app_pool: Pool) -> ServiceModule:
    if settings.serial_key is None:
        raise ValueError("serial issuance needs SERIALTRAIL_SERIAL_KEY (64 hex characters)")
    store = PostgresEventStore(app_pool, NAME)
    keyring = SerialKeyring(bytes.fromhex(settings.serial_key.get_secret_value()))
    handlers = SerialIssuanceHandlers(store, keyring)
    queries = SerialQueries(app_pool, handlers.load, keyring)
    projection = SerialStatusProjection()
    runners: dict[str, ProjectionRunner] = {}  # filled by the runtime before the app serves

    async def consistent() -> None:
        """Read-your-writes: wait until the read model has applied everything appended so far."""
        try:
            await runners[projection.name].wait_for(await store.head(), timeout=settings.read_your_writes_timeout)
        except TimeoutError as error:
            raise Unavailable(
                f"the {projection.name} read model is still catching up with the log; retry shortly"
            ) from error

    return ServiceModule(
        name=NAME,
        router=build_router(handlers, queries, consistent, settings.digital_link_base),
        projections=[projection],
        install_write_side=registry.install,
        runners=runners,
    )
