"""`python -m eu_hub_simulator` / `serialtrail-hub-simulator`: serve the simulator.

The socket is bound and listening before the one line on stdout names its port, so a parent that
asked for port 0 can connect as soon as it has read the line (connections wait in the backlog
until the server is up)."""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from eu_hub_simulator.app import HubApp
from eu_hub_simulator.faults import Clock
from eu_hub_simulator.hub import Hub

TOKEN_VARIABLE = "EU_HUB_SIMULATOR_TOKEN"  # noqa: S105 (the variable's name, not a token)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="serialtrail-hub-simulator", description="EU FMD European Hub simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed on start)")
    parser.add_argument("--token", default=os.environ.get(TOKEN_VARIABLE), help=f"bearer token (or ${TOKEN_VARIABLE})")
    parser.add_argument("--data", type=Path, required=True, help="the SQLite file holding the hub's state")
    options = parser.parse_args(argv)
    if not options.token:
        parser.error(f"a bearer token is required: --token or ${TOKEN_VARIABLE}")
    return options


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # A restart on the same port must not wait for the old connections' TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def main(argv: Sequence[str] | None = None) -> None:
    options = arguments(argv)
    options.data.parent.mkdir(parents=True, exist_ok=True)
    app = HubApp(Hub(options.data, Clock()), options.token)
    sock = listening_socket(options.host, options.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"eu-hub-simulator listening on http://{shown}:{port}", flush=True)
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=3)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        # Ctrl-C in `make run` reaches the whole process group; uvicorn shuts down gracefully and
        # raises the signal again: the user asked to stop, which is no error to show a traceback for.
        pass
    finally:
        app.close()
        sock.close()


if __name__ == "__main__":
    main()
