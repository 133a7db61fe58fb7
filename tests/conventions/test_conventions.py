"""Architecture rules every service keeps (DESIGN.md §1-§2), checked on the source."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
IO_MODULES = {
    "asyncio",
    "asyncpg",
    "aiokafka",
    "fastapi",
    "starlette",
    "httpx",
    "requests",
    "uvicorn",
    "socket",
    "subprocess",
    "os",
    "pathlib",
    "sqlite3",
    "psycopg",
    "urllib.request",
    "serialtrail_kit.db",
    "serialtrail_kit.eventstore",
    "serialtrail_kit.readers",
    "serialtrail_kit.http",
    "serialtrail_kit.runtime",
}
SERVICE_LAYOUT = ("domain", "application", "projections", "entrypoints", "bootstrap.py")


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if ".venv" not in p.parts)


def test_there_is_at_least_one_service() -> None:
    assert "serial_issuance" in SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_inside(service: str) -> None:
    package = ROOT / "services" / service / "src" / service
    missing = [part for part in SERVICE_LAYOUT if not (package / part).exists()]
    assert not missing, f"{service} lacks {missing}"


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another(service: str) -> None:
    others = set(SERVICES) - {service}
    offending = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources(ROOT / "services" / service)
        for name in imports(path)
        if name.split(".")[0] in others
    ]
    assert not offending


@pytest.mark.parametrize("service", SERVICES)
def test_domain_modules_do_no_io(service: str) -> None:
    domain = ROOT / "services" / service / "src" / service / "domain"
    offending = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources(domain)
        for name in imports(path)
        if any(name == io or name.startswith(io + ".") for io in IO_MODULES)
    ]
    assert not offending


TRANSPORT_MODULES = ("aiokafka", "serialtrail_kit.transport", "serialtrail_kit.readers.delivery")


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_knows_which_transport_carries_its_events(service: str) -> None:
    """Embedded (logs read directly) or distributed (Kafka) is the runtime's choice, by settings."""
    offending = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources(ROOT / "services" / service / "src")
        for name in imports(path)
        if any(name == t or name.startswith(t + ".") for t in TRANSPORT_MODULES)
    ]
    assert not offending


@pytest.mark.parametrize("folder", ["libs", "contracts"])
def test_shared_code_knows_no_service(folder: str) -> None:
    offending = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources(ROOT / folder)
        for name in imports(path)
        if name.split(".")[0] in SERVICES or name.split(".")[0] == "serialtrail"
    ]
    assert not offending


def test_contracts_depend_on_nothing_but_pydantic() -> None:
    allowed = {
        "pydantic",
        "serialtrail_contracts",
        "__future__",
        "typing",
        "datetime",
        "enum",
        "uuid",
        "json",
        "pathlib",
        "dataclasses",
        "collections",
        "re",
    }
    offending = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources(ROOT / "contracts" / "src")
        for name in imports(path)
        if name.split(".")[0] not in allowed
    ]
    assert not offending
