"""The client's address: the peer's, or the one a trusted reverse proxy says it relayed."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from quart import request

from fedicity.web.app import state

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def _parse(text: str) -> Address | None:
    try:
        address = ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def resolve_client_ip(
    peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]
) -> str:
    """The client's address for `peer`: X-Forwarded-For hops are read from the right (the
    nearest proxy's entry) only while the hop that wrote them is a trusted proxy, so a client
    cannot choose its address by sending the header itself."""
    address = _parse(peer or "")
    if address is None:
        return (peer or "unknown")[:64]
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    while any(address in network for network in trusted) and hops:
        relayed = _parse(hops.pop())
        if relayed is None:
            break
        address = relayed
    return str(address)


def client_ip() -> str:
    """This request's client address."""
    return resolve_client_ip(
        request.remote_addr,
        request.headers.getlist("X-Forwarded-For"),
        state().settings.trusted_proxies,
    )
