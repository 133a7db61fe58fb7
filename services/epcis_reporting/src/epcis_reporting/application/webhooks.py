"""A subscriber's webhook is called only where it resolves to the public internet: a name that
resolves (now, or after a DNS change) to this server's own networks is refused for good, so a
subscription cannot make the server call what only it can reach."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import urlsplit

from serialtrail_kit.errors import InvalidInput
from serialtrail_kit.outbound import Permanent, Retryable
from serialtrail_kit.outbound.declared import Send
from serialtrail_kit.outbound.jobs import Attempt, Outcome

from epcis_reporting.domain.subscriptions import DESTINATION

# IPv6 prefixes whose low 32 bits are an IPv4 address a router or host reaches: NAT64 (well-known
# and local-use), IPv4-translated (SIIT), and IPv4-compatible (deprecated, still routed by some stacks).
_EMBEDDING = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::ffff:0:0:0/96", "::/96"))
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_MOST_HOST = 253  # a DNS name's longest


def check_destination(dest: str, allow_private: bool) -> str:
    """Refused: what is not an absolute http(s) URL with a host a resolver can read, plain http and
    this server's own networks unless allowed (a subscription must not make the server call what
    only it can reach)."""
    problem = _malformed(dest)
    if problem is None and not allow_private:
        parts = urlsplit(dest)
        if parts.scheme == "http" or _private(parts.hostname or ""):
            problem = "is plain http or a host of this server's own network (not allowed here)"
    if problem is not None:
        message = f"{dest[:100]!r} {problem}"
        raise InvalidInput(message, [DESTINATION.at("dest", message)])
    return dest


def _malformed(dest: str) -> str | None:
    if any(c.isspace() or not c.isprintable() for c in dest):  # the URL parser drops them; the caller would not
        return "holds a space or a control character"
    try:
        parts = urlsplit(dest)
        if parts.port == 0:  # read for its check too: a port beyond 65535 or not a number raises
            return "names port 0, which no server listens on"
    except ValueError as error:
        return f"is not a URL ({error})"
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        return "is not an absolute http(s) URL"
    if literal_address(host) is None and (len(host) > _MOST_HOST or not _HOST_NAME.fullmatch(host)):
        return "names no host a resolver reads (letters, digits and hyphens in dot-separated labels, at most 253)"
    return None


def _private(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name in ("localhost", "localhost.localdomain") or name.endswith(".localhost") or name in ("0", ""):
        return True
    address = literal_address(name)
    if address is None:
        return False  # a name: where it resolves is checked again each time it is called (`not_global`)
    return not_global(address)


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host written as one means, in every form a resolver reads: dotted, and the
    legacy forms `127.1`, `2130706433`, `0x7f000001` (inet_aton's, which connect() accepts too)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def not_global(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Not on the public internet: loopback, private, link-local, or an IPv6 form of such an IPv4
    address (mapped, NAT64, IPv4-translated or -compatible, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
        if any(address in network for network in _EMBEDDING):
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(e is not None and not_global(e) for e in embedded):
            return True
    return not address.is_global or address.is_multicast


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
