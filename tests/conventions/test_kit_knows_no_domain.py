"""The kit is shared plumbing: no word of any service's domain, in code, strings or comments
(DESIGN.md §2). Domain vocabulary lives in contracts/ and in the services."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "libs" / "kit" / "src"
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())

# The track-and-trace vocabulary; every service's name is added to it.
GLOSSARY = frozenset(
    {
        "aggregation",
        "cmo",
        "cmos",
        "commission",
        "commissioned",
        "commissioning",
        "decommission",
        "decommissioned",
        "epc",
        "epcis",
        "fmd",
        "gln",
        "gtin",
        "gtins",
        "lot",
        "lots",
        "nhrn",
        "pack",
        "packed",
        "packing",
        "packs",
        "pallet",
        "serial",
        "serials",
        "sgln",
        "sgtin",
        "sscc",
        "ssccs",
    }
)
# Words of service names that are also everyday plumbing words stay allowed ("identity" also
# names where the kit's principals come from: the identity contract, the published language;
# "line" is a line of text or of a log as often as a packaging line).
GENERIC = {"exceptions", "hub", "identity", "line"}
VOCABULARY = GLOSSARY | {word for service in SERVICES for word in service.split("_")} - GENERIC
WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def domain_words(text: str) -> set[str]:
    """Domain words in `text`, however written: snake_case, CamelCase, in strings or comments."""
    return {word.lower() for word in WORD.findall(text)} & VOCABULARY


def offences(folder: Path) -> dict[str, set[str]]:
    """Each module under `folder` (by its path there) that uses a domain word, with the words."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        words = domain_words(path.read_text())
        if words:
            found[str(path.relative_to(folder))] = words
    return found


def test_the_kit_contains_no_domain_word() -> None:
    assert len(list(KIT.rglob("*.py"))) > 30  # it did look at the kit
    assert offences(KIT) == {}


def test_a_planted_domain_word_is_found(tmp_path: Path) -> None:
    (tmp_path / "clean.py").write_text('def relay_batch(events):\n    """Publish a batch of events."""\n')
    (tmp_path / "planted.py").write_text("def sgtinOf(uri):  # parse the serial\n    return uri\n")
    (tmp_path / "snake.py").write_text("REPORT = {'aggregation_report': 1}\n")
    assert offences(tmp_path) == {"planted.py": {"sgtin", "serial"}, "snake.py": {"aggregation"}}
