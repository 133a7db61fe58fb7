"""The services this distribution composes: every installed package that declares one under
the `serialtrail.services` entry point (its `bootstrap.SERVICE`). Adding a service to the
distribution is adding its package to this app's dependencies; nothing is listed here."""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Mapping
from typing import Any

from serialtrail_kit.access.principals import PrincipalsProjection
from serialtrail_kit.build import build_identity
from serialtrail_kit.declaration import Service
from serialtrail_kit.http.context import SoftwareIdentity
from serialtrail_kit.readers.projection import Projection
from serialtrail_kit.service_settings import ServiceSettings, digest
from serialtrail_kit.settings import Settings

ENTRY_POINTS = "serialtrail.services"


def _entry_points() -> importlib.metadata.EntryPoints:
    return importlib.metadata.entry_points(group=ENTRY_POINTS)


def _declared() -> tuple[Service[Any], ...]:
    found = []
    for entry in _entry_points():
        service = entry.load()
        if not isinstance(service, Service) or service.name != entry.name:
            raise TypeError(f"entry point {entry.value} must be the Service declaration named {entry.name!r}")
        found.append(service)
    return tuple(sorted(found, key=lambda s: s.name))


SERVICES: tuple[Service[Any], ...] = _declared()
BY_NAME: dict[str, Service[Any]] = {service.name: service for service in SERVICES}

# Read models by the name `serialtrail replay` takes: "<service>.<read model>" (with every
# service's copy of the keys, which the kit adds).
PROJECTIONS: dict[str, tuple[str, Projection]] = {
    f"{service.name}.{projection.name}": (service.name, projection)
    for service in SERVICES
    for projection in (*service.read_models, PrincipalsProjection())
}


@functools.cache
def build() -> str:
    """The exact build: the version, the source commit and a digest of this distribution's code
    (the app, the shared libraries and every service's package)."""
    packages = [*SHARED_PACKAGES, *(entry.module.partition(".")[0] for entry in _entry_points())]
    return build_identity(importlib.metadata.version("serialtrail"), packages)


SHARED_PACKAGES = ("serialtrail", "serialtrail_kit", "serialtrail_gs1", "serialtrail_contracts")


def software_identity(settings: Settings, own: Mapping[str, ServiceSettings]) -> SoftwareIdentity:
    config = digest(settings.public(), {name: values.public() for name, values in sorted(own.items())})
    return SoftwareIdentity(version=build(), config_digest=config)
