"""The exact build: a code change changes the identity even when the version does not."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serialtrail_kit.build import COMMIT_VARIABLE, build_identity, code_digest

PACKAGE = "buildprobe_pkg"


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "src" / PACKAGE
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("VALUE = 1\n")
    (root / "rules.sql").write_text("SELECT 1;\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    monkeypatch.delenv(COMMIT_VARIABLE, raising=False)
    yield root
    sys.modules.pop(PACKAGE, None)


def test_any_change_to_the_code_changes_the_digest_and_compiled_files_do_not(package: Path) -> None:
    before = code_digest([PACKAGE])
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"compiled")
    assert code_digest([PACKAGE]) == before
    (package / "rules.sql").write_text("SELECT 2;\n")
    assert code_digest([PACKAGE]) != before


def test_identity_without_a_commit_is_the_version_and_the_digest(package: Path) -> None:
    identity = build_identity("0.1.0", [PACKAGE])
    assert identity == f"0.1.0+c{code_digest([PACKAGE])[:12]}"


def test_a_commit_stamped_at_build_time_is_named(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COMMIT_VARIABLE, "g0123abcd")
    assert build_identity("0.1.0", [PACKAGE]).startswith("0.1.0+g0123abcd.c")


def test_a_checkout_names_its_commit_and_local_changes(package: Path) -> None:
    repo = package.parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
        return done.stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "first")
    commit = git("rev-parse", "--short=8", "HEAD")
    clean = build_identity("0.1.0", [PACKAGE])
    assert clean.startswith(f"0.1.0+g{commit}.c")
    (package / "__init__.py").write_text("VALUE = 2\n")
    changed = build_identity("0.1.0", [PACKAGE])
    assert changed.startswith(f"0.1.0+g{commit}.dirty.c")
    assert changed.rsplit(".c", 1)[1] != clean.rsplit(".c", 1)[1]
