"""The documentation stands on its own: every relative link in the README and in docs/ leads to a
file of this repository (a clone has nothing outside it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def broken_links(document: Path) -> list[str]:
    broken = []
    for target in _LINK.findall(document.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: …
            continue
        resolved = (document.parent / target).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
    return broken


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def test_every_relative_link_leads_into_the_repository() -> None:
    assert len(documents()) >= 2
    for document in documents():
        assert broken_links(document) == [], document


def test_a_link_outside_the_repository_is_found(tmp_path: Path) -> None:
    planted = tmp_path / "planted.md"
    planted.write_text("See [the design](../../shared/DESIGN.md) and [a page](https://example.org/x).\n")
    assert broken_links(planted) == ["../../shared/DESIGN.md"]
