"""The exact build that runs: the package version alone is the same for every build (a code
change without a version bump would record the same identity), so each record names the
version, the source commit where it is known, and a digest of the code actually installed.

    0.1.0+g457915f2.c5d41402abc4      a clean checkout of commit 457915f2
    0.1.0+g457915f2.dirty.c9e107d9d3  that commit with local changes (the digest tells them apart)
    0.1.0+c5d41402abc4                no commit known (a wheel installed from elsewhere)

The commit comes from the environment (`SERIALTRAIL_SOURCE_COMMIT`, stamped into an image at
build time) or else from git when the code runs from a checkout. The digest is computed at
every start from the files of the given packages, so it can never be stale."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

COMMIT_VARIABLE = "SERIALTRAIL_SOURCE_COMMIT"
_SKIPPED = {"__pycache__"}


def code_digest(packages: Iterable[str]) -> str:
    """SHA-256 over every file of the packages (paths and contents, in a fixed order)."""
    digest = hashlib.sha256()
    for package in sorted(set(packages)):
        for root in _roots(package):
            for path in sorted(_files(root)):
                digest.update(f"{package}/{path.relative_to(root).as_posix()}\0".encode())
                digest.update(path.read_bytes())
                digest.update(b"\0")
    return digest.hexdigest()


def build_identity(version: str, packages: Iterable[str]) -> str:
    """`<version>+g<commit>[.dirty].c<digest>`, or `<version>+c<digest>` without a commit."""
    packages = sorted(set(packages))
    code = "c" + code_digest(packages)[:12]
    commit = os.environ.get(COMMIT_VARIABLE, "").strip() or _git_commit(packages)
    return f"{version}+{commit}.{code}" if commit else f"{version}+{code}"


def _roots(package: str) -> list[Path]:
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise LookupError(f"package {package!r} is not installed")
    if spec.submodule_search_locations:
        return [Path(location) for location in spec.submodule_search_locations]
    return [Path(spec.origin).parent] if spec.origin else []


def _files(root: Path) -> Iterable[Path]:
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if name not in _SKIPPED]
        for name in files:
            if not name.endswith((".pyc", ".pyo")):
                yield Path(folder) / name


def _git_commit(packages: list[str]) -> str:
    """`g<short commit>[.dirty]` when the first package's code lies in a git checkout."""
    git = shutil.which("git")
    roots = _roots(packages[0]) if packages else []
    if git is None or not roots:
        return ""
    where = str(roots[0])
    commit = _git(git, where, "rev-parse", "--short=8", "HEAD")
    if not commit:
        return ""
    changed = _git(git, where, "status", "--porcelain", "--untracked-files=no")
    return f"g{commit}.dirty" if changed else f"g{commit}"


def _git(git: str, where: str, *args: str) -> str:
    try:
        result = subprocess.run(  # noqa: S603 - git, fixed arguments
            [git, "-C", where, *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""
