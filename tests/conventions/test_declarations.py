"""Every service is one declaration (DESIGN.md §2), checked on what it declares, not only on
its folder names: it is collected by the app, its read models are its own projections, its
permissions are declared beside its routes, and every route it serves requires one of them."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from serialtrail.services import BY_NAME
from serialtrail_kit.access.authz import Requirement, requirement_of, requires
from serialtrail_kit.access.permissions import Permission, permission
from serialtrail_kit.access.resources import Resource
from serialtrail_kit.composition import module_of
from serialtrail_kit.db import Pool
from serialtrail_kit.declaration import Service
from serialtrail_kit.testing.harness import TEST_SOFTWARE, make_settings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())


def declaration(service: str) -> Service[Any]:
    declared = importlib.import_module(f"{service}.bootstrap").SERVICE
    assert isinstance(declared, Service), f"{service}.bootstrap.SERVICE is not a Service declaration"
    return declared


def unguarded(router: APIRouter, allowed: set[Permission]) -> list[str]:
    """Routes that require no permission, one their service did not declare, or that name no
    resource (whose owner the kit checks)."""
    problems = []
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        required = [r for d in route.dependant.dependencies if (r := requirement_of(d.call)) is not None]
        if len(required) != 1 or not _sound(required[0], allowed):
            problems.append(f"{sorted(route.methods or ())} {route.path}")
    return problems


def _sound(requirement: Requirement, allowed: set[Permission]) -> bool:
    resource = requirement.resource
    return requirement.permission in allowed and isinstance(resource, Resource) and bool(resource.kind)


def router_of(service: Service[Any]) -> APIRouter:
    # Routes are built without touching the database: the pool is only kept for later.
    module = module_of(service, service.settings.for_tests(), make_settings(), cast(Pool, None), TEST_SOFTWARE)
    return module.router


def test_every_service_folder_is_collected_by_the_app() -> None:
    assert SERVICES, "no services found"
    assert sorted(BY_NAME) == SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_the_declaration_is_named_after_its_folder(service: str) -> None:
    assert declaration(service).name == service
    assert BY_NAME[service] is declaration(service)


@pytest.mark.parametrize("service", SERVICES)
def test_read_models_are_the_services_own_projections(service: str) -> None:
    declared = declaration(service)
    for projection in declared.read_models:
        assert type(projection).__module__.startswith(f"{service}.projections."), projection
        assert projection.tables, f"{service}.{projection.name} declares no tables"


@pytest.mark.parametrize("service", SERVICES)
def test_permissions_are_declared_beside_the_routes(service: str) -> None:
    declared = declaration(service)
    module = importlib.import_module(f"{service}.entrypoints.permissions")
    assert tuple(declared.permissions) == tuple(module.ALL)
    assert len({p.name for p in declared.permissions}) == len(declared.permissions)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_requires_a_permission_its_service_declares(service: str) -> None:
    declared = declaration(service)
    router = router_of(declared)
    assert [r for r in router.routes if isinstance(r, APIRoute)], f"{service} serves no routes"
    assert unguarded(router, set(declared.permissions)) == []


def test_an_unguarded_or_undeclared_route_is_found() -> None:
    mine, foreign = permission("planted:read"), permission("elsewhere:read")
    thing = Resource("planted")
    router = APIRouter()

    @router.get("/guarded", dependencies=[requires(mine, thing)])
    async def guarded() -> None: ...

    @router.get("/open")
    async def open_route() -> None: ...

    @router.get("/foreign", dependencies=[requires(foreign, thing)])
    async def foreign_route() -> None: ...

    @router.get("/nameless", dependencies=[requires(mine, Resource(""))])
    async def nameless_route() -> None: ...

    expected = ["['GET'] /open", "['GET'] /foreign", "['GET'] /nameless"]
    assert unguarded(router, {mine}) == expected
