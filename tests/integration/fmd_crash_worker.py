"""Child process for the EU hub crash test: the fmd_hub service alone, in a process of its own,
on the database and port it is given, its own settings read from the environment
(SERIALTRAIL_FMD_HUB_…) as a deployed service reads them. Serves its API over HTTP and prints
one line once it does, `ready <admin token>`; then runs until it is killed (or stopped with
SIGINT)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import uvicorn
from fmd_hub import bootstrap
from fmd_hub.settings import FmdHubSettings
from serialtrail_kit.testing.harness import make_settings, serve
from serialtrail_kit.testing.waiting import until


async def main(dsn: str, data_dir: str, port: int) -> None:
    settings = make_settings(data_dir=Path(data_dir))  # its checkpoints and their key: the same on every start
    own = {bootstrap.SERVICE.name: FmdHubSettings()}
    async with serve(dsn, [bootstrap.SERVICE], settings, own) as service:
        config = uvicorn.Config(
            service.composition.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        await until(lambda: server.started or serving.done(), timeout=60, interval=0.05)
        if serving.done():
            await serving  # it could not listen: say why
            raise SystemExit("the server stopped before it started")
        token = service.client.headers["Authorization"].removeprefix("Bearer ")
        print("ready", token, flush=True)
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the rest to the log: nobody reads the pipe now
        await serving


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT: stopped as an operator stops it, cleanly
        asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
