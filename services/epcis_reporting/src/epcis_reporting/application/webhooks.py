"""A subscriber's webhook is called only where it resolves to the public internet: a name that
resolves (now, or after a DNS change) to this server's own networks is refused for good, so a
subscription cannot make the server call what only it can reach."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import urlsplit

from serialtrail_kit.outbound import Permanent, Retryable
from serialtrail_kit.outbound.declared import Send
from serialtrail_kit.outbound.jobs import Attempt, Outcome

from epcis_reporting.domain.subscriptions import literal_address, not_global


def only_public(send: Send) -> Send:
    async def checked(attempt: Attempt) -> Outcome:
        host = urlsplit(str(attempt.job.payload["dest"])).hostname or ""
        try:
            addresses = await _addresses(host)
        except OSError as error:
            return Retryable(f"{host!r} does not resolve: {error}")
        private = sorted(str(a) for a in addresses if not_global(a))
        if private or not addresses:
            return Permanent(f"{host!r} resolves to this server's own networks ({', '.join(private)}): not called")
        return await send(attempt)

    return checked


async def _addresses(host: str) -> list[IPv4Address | IPv6Address]:
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [a for info in found if (a := literal_address(str(info[4][0]))) is not None]
