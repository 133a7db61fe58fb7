"""`make bench`: every benchmark, one JSON line per figure. `python -m bench NAME ...` runs only the
named ones (in their usual order), e.g. `.venv/bin/python -m bench capture`; `--list` names them."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence

from serialtrail.served import running_process

from bench.aggregation import packing_throughput
from bench.capture import capture_throughput
from bench.epcis_query import epcis_query_benchmark
from bench.event_hash import event_hash_throughput
from bench.exceptions import exceptions_benchmark
from bench.fmd_upload import fmd_upload_benchmark
from bench.hostile import hostile_input_benchmark
from bench.log import log_throughput
from bench.replay import replay_throughput
from bench.report import print_summary, watching
from bench.revocation import revocation_benchmark
from bench.scan import scan_throughput
from bench.serials import allocate_and_stream, commissioning_throughput
from bench.transport import transport_benchmarks

# Before any server runs (scan first: on a quiet machine).
ALONE_FIRST: dict[str, Callable[[], None]] = {"scan": scan_throughput, "event-hash": event_hash_throughput}
# Against one served Serialtrail, started only when one of them is chosen.
SERVED: dict[str, Callable[[str, str], None]] = {
    "serials": lambda base, key: asyncio.run(allocate_and_stream(base, key)),
    "commissioning": lambda base, key: asyncio.run(commissioning_throughput(base, key)),
    "packing": lambda base, key: asyncio.run(packing_throughput(base, key)),
    "capture": capture_throughput,
}
ALONE_AFTER: dict[str, Callable[[], None]] = {
    "exceptions": exceptions_benchmark,
    "log": log_throughput,
    # Its own PostgreSQL: aggregation's knowledge rebuilt from 500,000 events of serial issuance's log.
    "replay": replay_throughput,
    "transport": transport_benchmarks,
    "revocation": revocation_benchmark,
    "hostile": hostile_input_benchmark,
    # Its own server: its database is built first, its peak RSS is the queries'.
    "epcis-query": epcis_query_benchmark,
    # The EU FMD hub service as its own process (`serialtrail serve fmd_hub`, with PostgreSQL, a broker
    # and the hub simulator): a 1,000,000-pack batch uploaded, then one uploaded through a crash.
    "fmd-upload": fmd_upload_benchmark,
}
NAMES = [*ALONE_FIRST, *SERVED, *ALONE_AFTER]
SERVER = "the serialtrail run process (PostgreSQL's are its own)"


def main(argv: Sequence[str] = ()) -> None:
    if {"-h", "--help", "--list"} & set(argv):
        print("\n".join(NAMES) if "--list" in argv else f"{__doc__}\n\nBenchmarks: {', '.join(NAMES)}")
        return
    unknown = [name for name in argv if name not in NAMES]
    if unknown:
        raise SystemExit(f"no benchmark {', '.join(unknown)}; there are: {', '.join(NAMES)}")
    chosen = set(argv or NAMES)
    for name, benchmark in ALONE_FIRST.items():
        if name in chosen:
            benchmark()
    if chosen & set(SERVED):
        with running_process() as (base, key, process), watching(process.pid, SERVER):
            for name, served in SERVED.items():
                if name in chosen:
                    served(base, key)
    for name, benchmark in ALONE_AFTER.items():
        if name in chosen:
            benchmark()
    print_summary()


if __name__ == "__main__":
    main(sys.argv[1:])
