"""The client deliveries POST with: aiohttp, built for fan-out to thousands of hosts.

httpx/httpcore spent a quarter of a delivery's CPU scanning its pool and resolved the host on
every POST; aiohttp keeps a pool per host, caches name lookups for a TTL and costs about 0.6x
the CPU per POST. The address policy is applied inside the connector: the resolver hands it
only addresses it has checked, so the connection goes to the very address that was judged
(no DNS rebinding between a check and a connect), and the DNS cache only ever holds checked
answers. IP literals never reach a resolver in aiohttp, so they are judged before each POST.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from fedicity.activitypub.fetch.addresses import (
    checked_addresses,
    ip_literal,
    is_blocked_address,
    resolve_host,
)
from fedicity.activitypub.fetch.models import FetchError, FetchFailure, Resolver

SNIPPET: Final = 500
# A dead host should free its slot quickly; a live one answers a TCP handshake in well under it.
CONNECT_TIMEOUT: Final = 5.0
DNS_TTL_SECONDS: Final = 300
DNS_CACHE_SIZE: Final = 20_000


class BlockedDestination(Exception):
    """Not connected: the host is, or resolves to, an address the policy blocks (final)."""

    def __init__(self, failure: FetchError) -> None:
        super().__init__(failure.detail)
        self.failure = failure


class CheckedResolver(AbstractResolver):
    """Resolves with `resolve`, checks every address, hands aiohttp only checked ones."""

    def __init__(self, *, allow_private_addresses: bool, resolve: Resolver) -> None:
        self._allow_private = allow_private_addresses
        self._resolve = resolve

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The checked addresses of `host`; raises BlockedDestination or OSError."""
        checked = await checked_addresses(host, port, self._allow_private, self._resolve)
        if isinstance(checked, FetchError):
            if checked.reason is FetchFailure.BLOCKED_ADDRESS:
                raise BlockedDestination(checked)
            raise OSError(checked.detail)
        return [
            {
                "hostname": host,
                "host": str(address),
                "port": port,
                "family": socket.AF_INET if address.version == 4 else socket.AF_INET6,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in checked
        ]

    async def close(self) -> None:
        """Nothing to release: lookups go through `resolve`."""


@dataclass(frozen=True)
class Posted:
    """The answer to one POST: status (None when none came), a snippet of the body or of the
    error, Retry-After, and whether the destination was refused by the address policy."""

    status: int | None
    detail: str
    retry_after: str | None = None
    refused: bool = False


class DeliveryClient:
    """POSTs over kept-alive connections, at most `per_host` at once to one host."""

    def __init__(
        self,
        *,
        allow_private_addresses: bool = False,
        resolve: Resolver = resolve_host,
        per_host: int = 4,
        dns_ttl: int = DNS_TTL_SECONDS,
    ) -> None:
        self._allow_private = allow_private_addresses
        self._per_host = per_host
        self._resolver = CheckedResolver(
            allow_private_addresses=allow_private_addresses, resolve=resolve
        )
        self._dns_ttl = dns_ttl
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Built lazily: a connector needs a running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=self._resolver,
                use_dns_cache=True,
                ttl_dns_cache=self._dns_ttl,
                dns_cache_max_size=DNS_CACHE_SIZE,
                # The scheduler bounds what is in flight; the connector bounds each host.
                limit=0,
                limit_per_host=self._per_host,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # Connect directly: through a proxy, the address checks would judge the proxy.
                trust_env=False,
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding",),
            )
        return self._session

    async def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        timeout: float,  # noqa: ASYNC109 -- a per-request limit
        keep_alive: bool = True,
    ) -> Posted:
        """POST `body` to `url` once (no redirect followed); every failure is a value.

        `keep_alive=False` closes the connection after the answer: a fan-out reaches thousands of
        hosts once each, and idle connections kept for all of them would run out of descriptors.
        """
        refused = self._refuse_literal(url)
        if not keep_alive:
            headers = {**headers, "Connection": "close"}
        if refused is not None:
            return Posted(None, refused.detail, refused=True)
        session = self._open()
        try:
            # As given, not re-quoted: the signature covers the path exactly as written.
            async with session.post(
                URL(url, encoded=True),
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=CONNECT_TIMEOUT),
            ) as response:
                text = (await response.content.read(SNIPPET)).decode("utf-8", "replace")
                return Posted(response.status, text, response.headers.get("Retry-After"))
        except BlockedDestination as blocked:
            return Posted(None, blocked.failure.detail, refused=True)
        except TimeoutError:
            return Posted(None, "timed out")
        except (aiohttp.ClientError, OSError, ValueError) as error:
            # ValueError: a URL aiohttp cannot send to (aiohttp raises InvalidURL, a ValueError).
            return Posted(None, f"{type(error).__name__}: {error}"[:SNIPPET])

    def _refuse_literal(self, url: str) -> FetchError | None:
        """Why a URL may not be POSTed to before any lookup: not http(s), or an IP literal the
        policy blocks (aiohttp connects to literals without asking the resolver)."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            return FetchError(FetchFailure.BAD_URL, f"not a URL: {url[:200]}")
        if parts.scheme not in ("http", "https") or not host:
            return FetchError(FetchFailure.BAD_URL, f"not an http(s) URL: {url[:200]}")
        literal = ip_literal(host)
        if literal is None and host.replace(".", "").isdigit():
            # 2130706433, 0177.0.0.1, 127.1: getaddrinfo reads them as IPv4 addresses, and aiohttp
            # passes all-digit hosts straight to it, past the resolver (newer releases refuse them
            # with an error we would retry for days). No inbox is named so: refused for good.
            return FetchError(FetchFailure.BAD_URL, f"not a canonical IPv4 address: {host}")
        if literal is None or self._allow_private:
            return None
        if is_blocked_address(literal):
            return FetchError(FetchFailure.BLOCKED_ADDRESS, f"{host} is or resolves to {literal}")
        return None

    async def aclose(self) -> None:
        """Close the connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> DeliveryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def new_delivery_client(
    *,
    allow_private_addresses: bool = False,
    resolve: Resolver = resolve_host,
    per_host: int = 4,
) -> DeliveryClient:
    """The client the delivery worker POSTs with; `allow_private_addresses` is for tests and
    closed networks only, `resolve` maps names to addresses (benchmarks map names to loopback)."""
    return DeliveryClient(
        allow_private_addresses=allow_private_addresses, resolve=resolve, per_host=per_host
    )
