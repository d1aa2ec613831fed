"""Fetching remote ActivityPub documents: the one module that GETs objects from other servers.

Everything a remote server controls is treated as hostile: the URL (it may point inside our
network), each redirect, the status, the media type, the size and the JSON. Every failure comes
back as a `FetchError` value carrying a `FetchFailure` reason, so callers decide per reason (a GONE
object is deleted, a TIMEOUT is retried later) instead of catching exceptions.

The HTTP client, the signer and the resolver are arguments, so the module holds no state and tests
drive it against real servers on 127.0.0.1. The client must connect directly, without a proxy
(build it with trust_env=False): behind a proxy the address checks would judge our resolver's
answer while the proxy resolves on its own, and the peer-address check would see the proxy.
Build it on a PinnedTransport, which checks the addresses it connects to and connects to those
very addresses, so a name cannot resolve to a public address for the check and a private one for
the connection.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urldefrag

import httpcore
import httpx

from fedicity import SOFTWARE_NAME, __version__
from fedicity.activitypub.safejson import JsonFailure, load_json

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Signer = Callable[[str, str, dict[str, str]], dict[str, str]]
"""sign(method, url, headers) -> headers to add; the caller binds the instance actor's key."""

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
"""resolve(host, port) -> the addresses a connection to host may use."""

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)

DEFAULT_ACCEPT: Final = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
DEFAULT_USER_AGENT: Final = f"{SOFTWARE_NAME}/{__version__}"

# application/json is accepted too: some servers (older Pleroma, static hosts) label AP documents
# with it, and the JSON-object and id-origin checks below apply whatever the label.
ACCEPTED_MEDIA_TYPES: Final = frozenset(
    {"application/activity+json", "application/ld+json", "application/json"}
)
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})

# Shared address space (RFC 6598): carrier-grade NAT, not reachable from the public Internet.
# Older Pythons do not count it as private, so it is listed explicitly.
_CGNAT: Final = ipaddress.IPv4Network("100.64.0.0/10")
# The NAT64 well-known prefix (RFC 6052): a NAT64 gateway forwards it to the IPv4 address in the
# low 32 bits. IPv6-only hosts behind DNS64 reach every IPv4-only server this way, so it is judged
# by the embedded address rather than blocked whole (Python calls it reserved: it is inside ::/8).
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
# The local-use NAT64 prefix (RFC 8215) only makes sense inside one network.
_NAT64_LOCAL: Final = ipaddress.IPv6Network("64:ff9b:1::/48")


class FetchFailure(enum.StrEnum):
    """Why a fetch failed; callers branch on this, never on the detail text."""

    BAD_URL = "bad_url"
    BLOCKED_ADDRESS = "blocked_address"
    DNS_FAILURE = "dns_failure"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    TOO_LARGE = "too_large"
    HTTP_ERROR = "http_error"
    GONE = "gone"
    UNAUTHORIZED = "unauthorized"
    BAD_CONTENT_TYPE = "bad_content_type"
    BAD_JSON = "bad_json"
    ID_MISMATCH = "id_mismatch"
    REFUSED_BY_POLICY = "refused_by_policy"
    LOCAL = "local"


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one fetch. allow_private_addresses is for tests and closed networks only."""

    allow_private_addresses: bool = False
    timeout: float = 10.0
    max_bytes: int = 1_048_576
    max_redirects: int = 3

    def __post_init__(self) -> None:
        """Refuse limits that would disable a check by accident."""
        if self.timeout <= 0 or self.max_bytes <= 0 or self.max_redirects < 0:
            raise ValueError(f"invalid fetch policy: {self!r}")


@dataclass(frozen=True)
class Fetched:
    """A JSON object fetched from `url` (the final URL after redirects), with its HTTP status."""

    document: dict[str, Any]
    url: str
    status: int


@dataclass(frozen=True)
class FetchError:
    """A failed fetch, as a value: the reason, a human-readable detail, the HTTP status if any."""

    reason: FetchFailure
    detail: str
    status: int | None = None


def user_agent_for(base_url: str) -> str:
    """The User-Agent fedicity sends: `fedicity/<version> (+<base url>)`, so admins can reach us."""
    return f"{SOFTWARE_NAME}/{__version__} (+{base_url})"


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


async def fetch_document(
    client: httpx.AsyncClient,
    url: str,
    *,
    policy: FetchPolicy,
    sign: Signer | None = None,
    accept: str = DEFAULT_ACCEPT,
    user_agent: str = DEFAULT_USER_AGENT,
    resolve: Resolver = resolve_host,
    content_types: frozenset[str] = ACCEPTED_MEDIA_TYPES,
    check_origin: bool = True,
) -> Fetched | FetchError:
    """GET one ActivityPub document and check it, following redirects hop by hop.

    Each hop's URL and addresses are checked against the policy before anything is sent, and each
    hop is signed afresh when `sign` is given (a signature covers one URL). The whole fetch, all
    hops and the body included, must finish within policy.timeout: per-read timeouts alone would
    let a server drip one byte at a time forever. The document must be a JSON object whose `id`
    has the origin (scheme, host and port) of the final URL, so neither a redirect nor another
    port of the same host name can vouch for an object.

    Documents that are not ActivityStreams objects, such as WebFinger's JRD, pass their own
    `content_types` and check_origin=False (a JRD has no `id`); every other check still applies.
    """
    try:
        async with asyncio.timeout(policy.timeout):
            return await _fetch_following_redirects(
                client,
                url,
                policy=policy,
                sign=sign,
                accept=accept,
                user_agent=user_agent,
                resolve=resolve,
                expect=_Expectation(content_types, check_origin),
            )
    except TimeoutError:
        return FetchError(FetchFailure.TIMEOUT, f"no complete answer within {policy.timeout}s")


async def fetch_key_owner(
    client: httpx.AsyncClient,
    key_id: str,
    *,
    policy: FetchPolicy,
    sign: Signer | None,
    accept: str = DEFAULT_ACCEPT,
    user_agent: str = DEFAULT_USER_AGENT,
    resolve: Resolver = resolve_host,
) -> Fetched | FetchError:
    """Fetch the document behind a signature's keyId, unsigned first, signed only on 401/403.

    Key ids come as `https://h/users/a#main-key` (the fragment is dropped: the actor document
    holds the key) or as GoToSocial's `https://h/users/a/main-key`, which serves a key stub with an
    `owner`; either way this returns what was fetched and the caller resolves the owner.

    Unsigned first, because a signed fetch makes the remote server fetch *our* key to verify it: if
    both servers signed their key fetches and required signatures, each verification would start
    another fetch in the other direction, forever. The unsigned attempt needs no verification, and
    servers in "authorized fetch" mode still serve keys unsigned (Mastodon does) or answer 401;
    only then do we sign.
    """
    url, _fragment = urldefrag(key_id)
    unsigned = await fetch_document(
        client,
        url,
        policy=policy,
        sign=None,
        accept=accept,
        user_agent=user_agent,
        resolve=resolve,
    )
    if sign is None or not (
        isinstance(unsigned, FetchError) and unsigned.reason is FetchFailure.UNAUTHORIZED
    ):
        return unsigned
    return await fetch_document(
        client,
        url,
        policy=policy,
        sign=sign,
        accept=accept,
        user_agent=user_agent,
        resolve=resolve,
    )


@dataclass(frozen=True)
class _Expectation:
    """What the document must look like: its media types, and whether its id must match."""

    content_types: frozenset[str]
    check_origin: bool


async def _fetch_following_redirects(
    client: httpx.AsyncClient,
    url: str,
    *,
    policy: FetchPolicy,
    sign: Signer | None,
    accept: str,
    user_agent: str,
    resolve: Resolver,
    expect: _Expectation,
) -> Fetched | FetchError:
    """The hop loop of fetch_document, run under its overall deadline."""
    current = url
    for redirects in range(policy.max_redirects + 1):
        target = _parse_url(current)
        if isinstance(target, FetchError):
            return target
        refused = await _check_destination(target, policy, resolve)
        if refused is not None:
            return refused
        headers = {"Accept": accept, "User-Agent": user_agent}
        if sign is not None:
            headers.update(sign("GET", str(target), dict(headers)))
        outcome = await _get_one(client, target, headers, policy, expect)
        if not isinstance(outcome, httpx.URL):
            return outcome
        if redirects == policy.max_redirects:
            break
        current = str(outcome)
    return FetchError(
        FetchFailure.TOO_MANY_REDIRECTS, f"more than {policy.max_redirects} redirects from {url}"
    )


def _parse_url(url: str) -> httpx.URL | FetchError:
    """Parse a URL we are about to request, refusing anything but plain http(s) with a host."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        return FetchError(FetchFailure.BAD_URL, f"unparsable URL {url!r}: {error}")
    if parsed.scheme not in ("http", "https"):
        return FetchError(FetchFailure.BAD_URL, f"scheme {parsed.scheme!r} is not http(s)")
    if not parsed.raw_host:
        return FetchError(FetchFailure.BAD_URL, f"no host in {url!r}")
    if parsed.userinfo:
        # Credentials in an object URL are never legitimate and would be sent to the server.
        return FetchError(FetchFailure.BAD_URL, "credentials in URL")
    # Fragments are never sent; dropping them keeps the URL we sign equal to the one we request.
    return parsed.copy_with(fragment=None)


def _host_of(url: httpx.URL) -> str:
    """The ASCII (IDNA) host of a URL, lower case, without a DNS root dot, for comparisons."""
    return url.raw_host.decode("ascii", errors="replace").lower().rstrip(".")


def _ip_literal(host: str) -> IPAddress | None:
    """The address a host names literally (IPv4 dotted quad or IPv6), or None for a name."""
    try:
        # A zone id (fe80::1%eth0, percent-encoded in URLs) only picks an interface.
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


async def _check_destination(
    url: httpx.URL, policy: FetchPolicy, resolve: Resolver
) -> FetchError | None:
    """Resolve the URL's host and refuse it when any address is blocked, before any request.

    This gives a precise reason early (deliveries use it to give up at once). It is not what
    keeps us off a private address: the name is resolved again when the connection is made,
    and a hostile name server with a zero TTL can answer a public address here and a private
    one there (DNS rebinding). The clients new_http_client builds check that second answer too
    and connect to the very address they checked (PinnedTransport).
    """
    host = _host_of(url)
    port = url.port or (443 if url.scheme == "https" else 80)
    checked = await checked_addresses(host, port, policy.allow_private_addresses, resolve)
    return checked if isinstance(checked, FetchError) else None


async def checked_addresses(
    host: str, port: int, allow_private_addresses: bool, resolve: Resolver
) -> list[IPAddress] | FetchError:
    """The addresses of `host` (resolved once), or why none may be used.

    Refused when any address is blocked, not just the first: a connector may pick any of them.
    """
    literal = _ip_literal(host)
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


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, whose connections go through a PinnedBackend.

    httpx builds its httpcore pool itself and takes no network backend, so the pool is built
    again here with the same settings and ours; everything else (requests, streams, error
    mapping) stays httpx's.
    """

    def __init__(
        self, *, limits: httpx.Limits, allow_private_addresses: bool, resolve: Resolver
    ) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(
                allow_private_addresses=allow_private_addresses, resolve=resolve
            ),
        )


def _peer_address(response: httpx.Response) -> IPAddress | None:
    """The address the response actually came from, when the transport exposes it."""
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    peer = stream.get_extra_info("server_addr")
    if not isinstance(peer, tuple) or not peer:
        return None
    return _ip_literal(str(peer[0]))


async def _get_one(
    client: httpx.AsyncClient,
    url: httpx.URL,
    headers: dict[str, str],
    policy: FetchPolicy,
    expect: _Expectation,
) -> Fetched | FetchError | httpx.URL:
    """One GET: the checked document, a failure, or the URL a redirect points to."""
    try:
        # follow_redirects=False per request, whatever the client's default: each hop must pass
        # _check_destination and be signed for its own URL.
        async with client.stream(
            "GET", url, headers=headers, follow_redirects=False, timeout=policy.timeout
        ) as response:
            return await _handle_response(response, url, policy, expect)
    except httpx.TimeoutException as error:
        return FetchError(FetchFailure.TIMEOUT, f"{type(error).__name__} from {url}")
    except TimeoutError as error:
        # A socket-level timeout that escaped httpx's own mapping.
        return FetchError(FetchFailure.TIMEOUT, f"{error} from {url}")
    except httpx.DecodingError as error:
        return FetchError(FetchFailure.BAD_JSON, f"undecodable body from {url}: {error}")
    except httpx.ConnectError as error:
        if isinstance(error.__cause__, RefusedAddress):
            # The name re-resolved to a blocked address when connecting (DNS rebinding).
            return error.__cause__.failure
        return FetchError(FetchFailure.CONNECTION_ERROR, f"{type(error).__name__}: {error}")
    except (httpx.TransportError, OSError) as error:
        return FetchError(FetchFailure.CONNECTION_ERROR, f"{type(error).__name__}: {error}")


async def _handle_response(
    response: httpx.Response, url: httpx.URL, policy: FetchPolicy, expect: _Expectation
) -> Fetched | FetchError | httpx.URL:
    """Judge a response whose headers have arrived, reading the body only once it is wanted."""
    status = response.status_code
    peer = _peer_address(response)
    if not policy.allow_private_addresses and peer is not None and is_blocked_address(peer):
        # The name was re-resolved to a blocked address after our check (DNS rebinding):
        # whatever that server said stays unread.
        return FetchError(FetchFailure.BLOCKED_ADDRESS, f"{url.host} connected to {peer}", status)
    if status in _REDIRECT_STATUSES:
        location = response.headers.get("location")
        if not location:
            return FetchError(
                FetchFailure.HTTP_ERROR, f"redirect without Location at {url}", status
            )
        try:
            return url.join(location).copy_with(fragment=None)
        except httpx.InvalidURL as error:
            return FetchError(FetchFailure.BAD_URL, f"bad redirect {location!r}: {error}", status)
    if status == 410:
        return FetchError(FetchFailure.GONE, f"{url} is gone", status)
    if status in (401, 403):
        return FetchError(FetchFailure.UNAUTHORIZED, f"{url} refused us ({status})", status)
    if not 200 <= status < 300:
        return FetchError(FetchFailure.HTTP_ERROR, f"{url} answered {status}", status)

    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in expect.content_types:
        return FetchError(
            FetchFailure.BAD_CONTENT_TYPE, f"{url} sent {content_type or 'no type'!r}", status
        )

    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > policy.max_bytes:
        return FetchError(
            FetchFailure.TOO_LARGE, f"Content-Length {declared} > {policy.max_bytes}", status
        )
    body = bytearray()
    # Count decoded bytes, which is what we hold in memory; the limit is checked per chunk so a
    # body without Content-Length (or lying about it) is cut off as soon as it is too big.
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > policy.max_bytes:
            return FetchError(
                FetchFailure.TOO_LARGE, f"body from {url} exceeds {policy.max_bytes} bytes", status
            )

    parsed = load_json(bytes(body))
    if isinstance(parsed, JsonFailure):
        return FetchError(
            FetchFailure.BAD_JSON, f"{url} sent refused JSON: {parsed.detail}", status
        )
    document = parsed.value
    if not isinstance(document, dict):
        return FetchError(FetchFailure.BAD_JSON, f"{url} sent JSON that is not an object", status)
    mismatch = _origin_mismatch(document, url) if expect.check_origin else None
    if mismatch is not None:
        return FetchError(FetchFailure.ID_MISMATCH, mismatch, status)
    return Fetched(document=document, url=str(url), status=status)


def origin_of(url: str | httpx.URL) -> str | None:
    """The origin of an http(s) URL as `scheme://host:port`, the default port written out.

    None for anything else (another scheme, no host, unparsable). Two URLs are same-origin when
    these strings are equal.
    """
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    host = _host_of(parsed)
    return f"{parsed.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def _origin_mismatch(document: dict[str, Any], final_url: httpx.URL) -> str | None:
    """Why the document's id does not belong to the origin that served it, or None when it does.

    Scheme, host and port are compared (the web's same-origin rule, default ports normalised).
    Hosts alone are not enough: whatever answers on another port of our host name (another
    service, another tenant) could otherwise serve a document with the id of one of our posts.
    """
    object_id = document.get("id")
    if not isinstance(object_id, str) or not object_id:
        return f"document from {final_url} has no id"
    id_origin = origin_of(object_id)
    if id_origin is None:
        return f"document id {object_id!r} is not an http(s) URL"
    served_by = origin_of(final_url)
    if id_origin != served_by:
        return f"document id {object_id} is not on {served_by}, which served it"
    return None


async def check_destination(
    url: str, policy: FetchPolicy, resolve: Resolver = resolve_host
) -> FetchError | None:
    """Whether we may send anything to this URL (deliveries use it too): None, or why not."""
    parsed = _parse_url(url)
    if isinstance(parsed, FetchError):
        return parsed
    return await _check_destination(parsed, policy, resolve)
