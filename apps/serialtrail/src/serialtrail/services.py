"""The services this distribution composes."""

from __future__ import annotations

import importlib.metadata

from aggregation import bootstrap as aggregation
from aggregation.projections.decommissions import DecommissionsProjection
from aggregation.projections.hierarchy import HierarchyProjection
from aggregation.projections.knowledge import KnowledgeProjection
from serial_issuance import bootstrap as serial_issuance
from serial_issuance.projections.serial_status import SerialStatusProjection
from serialtrail_kit.composition import Builder
from serialtrail_kit.http.context import SoftwareIdentity
from serialtrail_kit.readers.projection import Projection
from serialtrail_kit.settings import Settings

BUILDERS: dict[str, Builder] = {serial_issuance.NAME: serial_issuance.build, aggregation.NAME: aggregation.build}

# Projections by the name `serialtrail replay` takes: "<service>.<projection>".
PROJECTIONS: dict[str, tuple[str, Projection]] = {
    "serial_issuance.serial_status": (serial_issuance.NAME, SerialStatusProjection()),
    "aggregation.hierarchy": (aggregation.NAME, HierarchyProjection()),
    "aggregation.knowledge": (aggregation.NAME, KnowledgeProjection()),
    "aggregation.decommissions": (aggregation.NAME, DecommissionsProjection()),
}


def software_identity(settings: Settings) -> SoftwareIdentity:
    return SoftwareIdentity(version=importlib.metadata.version("serialtrail"), config_digest=settings.config_digest())
