"""The client's address: X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network

import pytest

from fedicity.accounts.throttle import address_subject
from fedicity.settings import SettingsError, load_settings
from fedicity.web.clientip import resolve_client_ip

PROXY = (ip_network("10.0.0.0/8"), ip_network("::1/128"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # No trusted proxy: the header is whatever the client wrote, so it is ignored
        ("203.0.113.5", ["198.51.100.1"], (), "203.0.113.5"),
        # A trusted proxy's entry (the rightmost) names the client
        ("10.0.0.2", ["198.51.100.1"], PROXY, "198.51.100.1"),
        # A client's forged entries stand left of the proxy's: only the proxy's counts
        ("10.0.0.2", ["1.1.1.1, 198.51.100.1"], PROXY, "198.51.100.1"),
        ("10.0.0.2", ["1.1.1.1", "198.51.100.1"], PROXY, "198.51.100.1"),
        # A chain of trusted proxies is walked through
        ("10.0.0.2", ["198.51.100.1, 10.0.0.9"], PROXY, "198.51.100.1"),
        # Garbage stops the walk at the last address known
        ("10.0.0.2", ["garbage"], PROXY, "10.0.0.2"),
        ("10.0.0.2", [], PROXY, "10.0.0.2"),
        ("::1", [" 2001:db8::7 "], PROXY, "2001:db8::7"),
        ("::ffff:203.0.113.5", [], (), "203.0.113.5"),
        ("<local>", ["1.2.3.4"], PROXY, "<local>"),
        (None, [], PROXY, "unknown"),
    ],
)
def test_client_address(
    peer: str | None,
    forwarded: list[str],
    trusted: tuple[IPv4Network | IPv6Network, ...],
    expected: str,
) -> None:
    assert resolve_client_ip(peer, forwarded, trusted) == expected


def test_ipv6_clients_are_limited_per_64() -> None:
    assert address_subject("2001:db8:1:2:aaaa::1") == address_subject("2001:db8:1:2:bbbb::9")
    assert address_subject("2001:db8:1:3::1") != address_subject("2001:db8:1:2::1")
    assert address_subject("203.0.113.5") == "203.0.113.5"


def test_trusted_proxies_setting_reads_addresses_and_networks() -> None:
    settings = load_settings(
        {"FEDICITY_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8 ::1"}, persist_secret=False
    )
    assert settings.trusted_proxies == (
        ip_network("127.0.0.1/32"),
        ip_network("10.0.0.0/8"),
        ip_network("::1/128"),
    )
    assert load_settings({}, persist_secret=False).trusted_proxies == ()


def test_a_bad_trusted_proxy_is_refused_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match=r"FEDICITY_TRUSTED_PROXIES.*'10\.0\.0\.300'"):
        load_settings({"FEDICITY_TRUSTED_PROXIES": "10.0.0.300"}, persist_secret=False)
