"""Connections that go only to checked addresses: resolve once, check all, connect to one.

Build the HTTP client on a PinnedTransport, so a name cannot resolve to a public address for
the check and a private one for the connection (DNS rebinding).
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterable

import httpcore
import httpx

from fedicity.activitypub.fetch.addresses import checked_addresses, ip_literal, resolve_host
from fedicity.activitypub.fetch.models import FetchError, FetchFailure, IPAddress, Resolver

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class RefusedAddress(httpcore.ConnectError):
    """A connection not made: the host is, or resolves to, an address the policy blocks."""

    def __init__(self, failure: FetchError) -> None:
        super().__init__(failure.detail)
        self.failure = failure


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses it has just checked: resolve once, check all, connect to one.

    httpcore hands the backend the host name; connecting to the checked address (rather than
    letting the socket layer resolve the name a second time) closes the DNS-rebinding window.
    TLS still verifies the certificate for the name and sends it as SNI, and the Host header
    is untouched: httpcore sets both from the URL, not from the address connected to. The
    connection pool stays keyed by name, so no connection is shared between names.
    """

    def __init__(
        self,
        *,
        allow_private_addresses: bool,
        resolve: Resolver = resolve_host,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allow_private = allow_private_addresses
        self._resolve = resolve
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Open a TCP connection to a checked address of `host`, trying each in turn."""
        checked = await checked_addresses(host, port, self._allow_private, self._resolve)
        if isinstance(checked, FetchError):
            if checked.reason is FetchFailure.BLOCKED_ADDRESS:
                raise RefusedAddress(checked)
            raise httpcore.ConnectError(checked.detail)
        failures: list[Exception] = []
        for address in checked:
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failures.append(error)
        raise failures[-1]

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never used: fetches and deliveries only go to TCP hosts."""
        raise httpcore.ConnectError("unix sockets are not used for federation")

    async def sleep(self, seconds: float) -> None:
        """Sleep as the wrapped backend does."""
        await self._backend.sleep(seconds)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for the process: loading the CA bundle takes tens of ms, and
    every client built two (httpx's transport and the pool below); a new bundle needs a restart."""
    return httpx.create_ssl_context(trust_env=False)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, whose connections go through a PinnedBackend.

    httpx builds its httpcore pool itself and takes no network backend, so the pool is built
    again here with the same settings and ours; everything else (requests, streams, error
    mapping) stays httpx's.
    """

    def __init__(
        self, *, limits: httpx.Limits, allow_private_addresses: bool, resolve: Resolver
    ) -> None:
        super().__init__(verify=_tls_context(), limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_tls_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(
                allow_private_addresses=allow_private_addresses, resolve=resolve
            ),
        )


def peer_address(response: httpx.Response) -> IPAddress | None:
    """The address the response actually came from, when the transport exposes it."""
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    peer = stream.get_extra_info("server_addr")
    if not isinstance(peer, tuple) or not peer:
        return None
    return ip_literal(str(peer[0]))
