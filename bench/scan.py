"""Reading what lines send (serialtrail_gs1.scan), on one core: the common GS1 DataMatrix shape
(`]d2 01 17 10 <GS> 21`, the fast path), the same data in another AI order (the full parser,
on biip), and the HRI a pallet's thousands of children arrive in."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from serialtrail_gs1.scan import GS, parse_object_id, parse_scan

from bench.report import emit

GTIN = "09506000134352"
COUNT, RUNS = 100_000, 5


def _serials(count: int) -> list[str]:
    rng = random.Random(11)  # deterministic: the same inputs on every run and machine
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return ["".join(rng.choices(alphabet, k=12)) for _ in range(count)]


def _per_second(parse: Callable[[str], object], texts: list[str]) -> list[float]:
    runs = []
    for _ in range(RUNS):
        started = time.perf_counter()
        for text in texts:
            parse(text)
        runs.append(len(texts) / (time.perf_counter() - started))
    return runs


def scan_throughput() -> None:
    serials = _serials(COUNT)
    lots = [f"LOT{i % 20:02d}" for i in range(COUNT)]  # a line scans few batches at a time
    common = [f"]d201{GTIN}17271231" + f"10{lot}{GS}21{s}" for lot, s in zip(lots, serials, strict=True)]
    reordered = [f"]d201{GTIN}{GS}21{s}{GS}17271231" + f"10{lot}" for lot, s in zip(lots, serials, strict=True)]
    hri = [f"(01){GTIN}(21){s}" for s in serials]
    emit(
        "parse raw GS1 DataMatrix scans (]d2 01 17 10 21), one core",
        _per_second(parse_scan, common),
        "identifiers/s",
        ">= 500,000 identifiers/s",
        identifiers=COUNT,
    )
    emit(
        "parse raw GS1 DataMatrix scans in another AI order (full parser, biip), one core",
        _per_second(parse_scan, reordered[: COUNT // 10]),
        "identifiers/s",
        "none (the uncommon shape; shown for comparison)",
        identifiers=COUNT // 10,
    )
    emit(
        "parse HRI (01)…(21)… object ids, as a pallet's children arrive, one core",
        _per_second(parse_object_id, hri),
        "identifiers/s",
        ">= 500,000 identifiers/s",
        identifiers=COUNT,
    )


if __name__ == "__main__":
    scan_throughput()
