"""`make bench`: every benchmark, one JSON line per figure."""

from __future__ import annotations

import asyncio

from serialtrail.served import running_server

from bench.aggregation import packing_throughput
from bench.capture import capture_throughput
from bench.event_hash import event_hash_throughput
from bench.exceptions import exceptions_benchmark
from bench.hostile import hostile_input_benchmark
from bench.log import log_throughput
from bench.revocation import revocation_benchmark
from bench.scan import scan_throughput
from bench.serials import allocate_and_stream, commissioning_throughput
from bench.transport import transport_benchmarks


def main() -> None:
    scan_throughput()  # first: on a quiet machine, before any server runs
    event_hash_throughput()
    with running_server() as (base, key):
        asyncio.run(allocate_and_stream(base, key))
        asyncio.run(commissioning_throughput(base, key))
        asyncio.run(packing_throughput(base, key))
        capture_throughput(base, key)
    exceptions_benchmark()
    log_throughput()
    transport_benchmarks()
    revocation_benchmark()
    hostile_input_benchmark()


if __name__ == "__main__":
    main()
