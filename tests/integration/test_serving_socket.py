"""The servers' own listening socket (bound before anything starts, to name a busy port at once)
must not cost every answer a delayed ACK: connections accepted from it send without delay."""

from __future__ import annotations

import asyncio
import socket

from serialtrail.cli import tcp_server


async def _nodelay_of_accepted(listening: socket.socket) -> int:
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=listening)
    async with server:
        _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
        try:
            return await asyncio.wait_for(accepted, 10)
        finally:
            writer.close()


async def test_connections_accepted_from_the_servers_socket_send_without_delay() -> None:
    assert await _nodelay_of_accepted(tcp_server("127.0.0.1", 0)) != 0
    # What the servers used before: asyncio leaves Nagle's algorithm on for it (the check can fail).
    assert await _nodelay_of_accepted(socket.create_server(("127.0.0.1", 0))) == 0
