"""Property-based fuzzing of every operation of the OpenAPI document (issue 10, item 6), with
schemathesis against a real `serialtrail run` (embedded PostgreSQL): valid and invalid
requests alike get no 5xx, and every answer is one the document describes (its status and
its body's schema). Examples are bounded and derandomised so the suite stays fast and the
same on every run; `SERIALTRAIL_FUZZ_EXAMPLES` raises the count for a longer hunt."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from serialtrail.served import running_server
from serialtrail_kit.http.problems import MEDIA_TYPE
from serialtrail_kit.http.refusals import undocumented_in

EXAMPLES = int(os.environ.get("SERIALTRAIL_FUZZ_EXAMPLES", "15"))


def problems_as_declared(_ctx: Any, response: Any, case: Any) -> None:
    """A problem's type and rules are among those its operation declares (not only its status)."""
    if not any(v.startswith(MEDIA_TYPE) for v in response.headers.get("content-type", [])):
        return
    found = undocumented_in(case.operation.definition.raw, case.operation.label, response.status_code, response.json())
    assert not found, found


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, problems_as_declared]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, str]]:
    with running_server() as served:
        yield served


def _operations(base: str) -> list[Any]:
    """Every operation the document describes; one it describes wrongly fails here."""
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        found.append(result.ok())
    return found


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_operation_answers_5xx_or_outside_its_document(server: tuple[str, str], mode: GenerationMode) -> None:
    base, key = server
    operations = [op for op in _operations(base) if op.path.startswith("/v1/")]
    assert len(operations) >= 25
    auth = {"Authorization": f"Bearer {key}"}
    nothing_to_break = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode, headers=auth))
        def call(case: Any) -> None:
            case.call_and_validate(base_url=base, checks=CHECKS, timeout=30)

        try:
            call()
        except Unsatisfiable:
            # Negative cases need something to break: a parameter or a body.
            assert mode is GenerationMode.NEGATIVE, operation.label
            nothing_to_break.append(operation.label)
    assert all(_has_no_inputs(op) for op in operations if op.label in nothing_to_break), nothing_to_break


def _has_no_inputs(operation: Any) -> bool:
    raw = operation.definition.raw
    return not raw.get("parameters") and "requestBody" not in raw
