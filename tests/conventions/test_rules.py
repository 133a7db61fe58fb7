"""Every rule a request can break is a named `Rule`, declared once where it is enforced: a
`Violation` spelled by hand (a rule name typed as a string at the place it is raised) could
reach clients without the OpenAPI document ever naming it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THE_ONE_PLACE = ROOT / "libs" / "kit" / "src" / "serialtrail_kit" / "errors.py"  # Rule.at builds them


def violations_built_by_hand(source: str, name: str = "<source>") -> list[str]:
    """Where a `Violation(…)` is constructed directly, as `file:line`."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Call):
            called = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if called == "Violation":
                found.append(f"{name}:{node.lineno}")
    return found


def production_sources() -> list[Path]:
    folders = [*ROOT.glob("services/*/src"), *ROOT.glob("libs/*/src"), ROOT / "apps", ROOT / "contracts"]
    return sorted(p for folder in folders for p in folder.rglob("*.py") if ".venv" not in p.parts)


def test_no_violation_is_built_from_a_typed_rule_name() -> None:
    sources = production_sources()
    assert len(sources) > 50
    assert THE_ONE_PLACE in sources
    offending = [
        where
        for path in sources
        if path != THE_ONE_PLACE
        for where in violations_built_by_hand(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not offending, f"build violations with a declared Rule (RULE.at(field, message)): {offending}"


def test_the_check_finds_a_planted_violation() -> None:
    planted = 'from serialtrail_kit.errors import Violation\nraise X([Violation("lot", "my-rule", "m")])\n'
    also = 'import serialtrail_kit.errors as e\nproblem = e.Violation("lot", "my-rule", "m")\n'
    assert violations_built_by_hand(planted) == ["<source>:2"]
    assert violations_built_by_hand(also) == ["<source>:2"]
    assert violations_built_by_hand('problem = MY_RULE.at("lot", "m")\n') == []
