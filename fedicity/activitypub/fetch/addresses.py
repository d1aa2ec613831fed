"""The address policy: which addresses we never connect to, resolving a host and checking every
address it has. Pinned connections (pinned.py) and the pre-flight check of each hop use it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Final

from fedicity.activitypub.fetch.models import FetchError, FetchFailure, IPAddress, Resolver

# Shared address space (RFC 6598): carrier-grade NAT, not reachable from the public Internet.
# Older Pythons do not count it as private, so it is listed explicitly.
_CGNAT: Final = ipaddress.IPv4Network("100.64.0.0/10")
# The NAT64 well-known prefix (RFC 6052): a NAT64 gateway forwards it to the IPv4 address in the
# low 32 bits. IPv6-only hosts behind DNS64 reach every IPv4-only server this way, so it is judged
# by the embedded address rather than blocked whole (Python calls it reserved: it is inside ::/8).
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
# The local-use NAT64 prefix (RFC 8215) only makes sense inside one network.
_NAT64_LOCAL: Final = ipaddress.IPv6Network("64:ff9b:1::/48")


def is_blocked_address(address: IPAddress) -> bool:
    """Whether an address is off limits for outbound fetches.

    Blocked: private, loopback, link-local, multicast, reserved, unspecified, shared (CGNAT) and
    every other non-global range, for IPv4 and IPv6, and IPv6 addresses that embed a blocked IPv4
    address (IPv4-mapped, 6to4, Teredo, NAT64), since those reach the IPv4 host they embed.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            # The socket layer connects to the IPv4 address itself: judge that address alone.
            return is_blocked_address(address.ipv4_mapped)
        if address in _NAT64:
            return is_blocked_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address in _NAT64_LOCAL:
            return True
        if any(is_blocked_address(embedded) for embedded in _embedded_ipv4(address)):
            return True
        if address.is_site_local:
            return True
    elif address in _CGNAT:
        return True
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        # is_global is the allow-list view; checking it too catches ranges (documentation,
        # benchmarking, IETF protocol assignments) whose flags differ between Python versions.
        or not address.is_global
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses that 6to4 or Teredo would route this IPv6 address to."""
    embedded = []
    if address.sixtofour is not None:
        embedded.append(address.sixtofour)
    if address.teredo is not None:
        embedded.extend(address.teredo)
    return embedded


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Resolve a host name with the event loop's getaddrinfo (raises socket.gaierror)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            addresses.append(ipaddress.ip_address(str(sockaddr[0])))
    return addresses


def ip_literal(host: str) -> IPAddress | None:
    """The address a host names literally (IPv4 dotted quad or IPv6), or None for a name."""
    try:
        # A zone id (fe80::1%eth0, percent-encoded in URLs) only picks an interface.
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


async def checked_addresses(
    host: str, port: int, allow_private_addresses: bool, resolve: Resolver
) -> list[IPAddress] | FetchError:
    """The addresses of `host` (resolved once), or why none may be used.

    Refused when any address is blocked, not just the first: a connector may pick any of them.
    """
    literal = ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = await resolve(host, port)
        except (socket.gaierror, UnicodeError) as error:
            return FetchError(FetchFailure.DNS_FAILURE, f"cannot resolve {host}: {error}")
        if not addresses:
            return FetchError(FetchFailure.DNS_FAILURE, f"{host} has no address")
    if allow_private_addresses:
        return addresses
    blocked = [address for address in addresses if is_blocked_address(address)]
    if blocked:
        return FetchError(FetchFailure.BLOCKED_ADDRESS, f"{host} is or resolves to {blocked[0]}")
    return addresses
