"""Fetching one document: each hop checked and signed, the status, media type, size, JSON and
origin of the answer judged, the whole under one deadline."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final
from urllib.parse import urldefrag

import httpx

from fedicity.activitypub.fetch.addresses import (
    checked_addresses,
    is_blocked_address,
    resolve_host,
)
from fedicity.activitypub.fetch.models import (
    ACCEPTED_MEDIA_TYPES,
    DEFAULT_ACCEPT,
    DEFAULT_USER_AGENT,
    Fetched,
    FetchedText,
    FetchError,
    FetchFailure,
    FetchPolicy,
    RefuseHost,
    Resolver,
    Signer,
)
from fedicity.activitypub.fetch.origin import host_of, origin_mismatch
from fedicity.activitypub.fetch.pinned import RefusedAddress, peer_address
from fedicity.activitypub.safejson import JsonFailure, load_json

_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})


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
    refuse_host: RefuseHost | None = None,
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
    `refuse_host` (the federation policy) is asked for every hop's host, so a redirect cannot
    take a fetch to a domain the policy refuses.
    """
    result = await _fetch(
        client,
        url,
        policy=policy,
        sign=sign,
        accept=accept,
        user_agent=user_agent,
        resolve=resolve,
        expect=_Expectation(content_types, check_origin),
        refuse_host=refuse_host,
    )
    assert not isinstance(result, FetchedText)  # only a text expectation reads text
    return result


async def fetch_text(
    client: httpx.AsyncClient,
    url: str,
    *,
    policy: FetchPolicy,
    content_types: frozenset[str],
    user_agent: str = DEFAULT_USER_AGENT,
    resolve: Resolver = resolve_host,
    refuse_host: RefuseHost | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchedText | FetchError:
    """GET a UTF-8 text document (a published CSV), unsigned, with fetch_document's checks:
    each hop's address and policy, the status, the media type, the size and the deadline.
    Given the validators of the last answer, the GET is conditional: a 304 comes back as a
    FetchedText of status 304 with no text."""
    conditional = {
        name: value
        for name, value in (("If-None-Match", etag), ("If-Modified-Since", last_modified))
        if value and _is_header_value(value)
    }
    result = await _fetch(
        client,
        url,
        policy=policy,
        sign=None,
        accept=", ".join(sorted(content_types)),
        user_agent=user_agent,
        resolve=resolve,
        expect=_Expectation(content_types, check_origin=False, text=True, conditional=conditional),
        refuse_host=refuse_host,
    )
    assert not isinstance(result, Fetched)  # a text expectation never parses JSON
    return result


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    policy: FetchPolicy,
    sign: Signer | None,
    accept: str,
    user_agent: str,
    resolve: Resolver,
    expect: _Expectation,
    refuse_host: RefuseHost | None,
) -> Fetched | FetchedText | FetchError:
    """The hop loop under the fetch's overall deadline."""
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
                expect=expect,
                refuse_host=refuse_host,
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
    refuse_host: RefuseHost | None = None,
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
        refuse_host=refuse_host,
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
        refuse_host=refuse_host,
    )


async def check_destination(
    url: str, policy: FetchPolicy, resolve: Resolver = resolve_host
) -> FetchError | None:
    """Whether we may send anything to this URL (deliveries use it too): None, or why not."""
    parsed = _parse_url(url)
    if isinstance(parsed, FetchError):
        return parsed
    return await _check_destination(parsed, policy, resolve)


@dataclass(frozen=True)
class _Expectation:
    """What the document must look like: its media types, and whether its id must match."""

    content_types: frozenset[str]
    check_origin: bool
    # Read the body as UTF-8 text instead of a JSON object.
    text: bool = False
    # Conditional request headers (If-None-Match, If-Modified-Since) of a text fetch.
    conditional: dict[str, str] | None = None


def _is_header_value(value: str) -> bool:
    """Whether a stored validator can be sent back as a header (a server's ETag is its text)."""
    return len(value) <= 1000 and value.isprintable() and value.isascii()


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
    refuse_host: RefuseHost | None,
) -> Fetched | FetchedText | FetchError:
    """The hop loop of fetch_document, run under its overall deadline."""
    current = url
    for redirects in range(policy.max_redirects + 1):
        target = _parse_url(current)
        if isinstance(target, FetchError):
            return target
        if refuse_host is not None:
            reason = await refuse_host(host_of(target))
            if reason is not None:
                return FetchError(FetchFailure.REFUSED_BY_POLICY, reason)
        refused = await _check_destination(target, policy, resolve)
        if refused is not None:
            return refused
        headers = {"Accept": accept, "User-Agent": user_agent, **(expect.conditional or {})}
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
    host = host_of(url)
    port = url.port or (443 if url.scheme == "https" else 80)
    checked = await checked_addresses(host, port, policy.allow_private_addresses, resolve)
    return checked if isinstance(checked, FetchError) else None


async def _get_one(
    client: httpx.AsyncClient,
    url: httpx.URL,
    headers: dict[str, str],
    policy: FetchPolicy,
    expect: _Expectation,
) -> Fetched | FetchedText | FetchError | httpx.URL:
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
) -> Fetched | FetchedText | FetchError | httpx.URL:
    """Judge a response whose headers have arrived, reading the body only once it is wanted."""
    status = response.status_code
    peer = peer_address(response)
    if not policy.allow_private_addresses and peer is not None and is_blocked_address(peer):
        # The name was re-resolved to a blocked address after our check (DNS rebinding):
        # whatever that server said stays unread.
        return FetchError(FetchFailure.BLOCKED_ADDRESS, f"{url.host} connected to {peer}", status)
    if status == 304 and expect.conditional:
        return FetchedText("", str(url), status, *_validators(response, expect))
    judged = _judge_status(response, url)
    if judged is not None:
        return judged
    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in expect.content_types:
        return FetchError(
            FetchFailure.BAD_CONTENT_TYPE, f"{url} sent {content_type or 'no type'!r}", status
        )
    body = await _read_capped_body(response, url, policy)
    if isinstance(body, FetchError):
        return body
    if expect.text:
        try:
            text = body.decode("utf-8")
            return FetchedText(text, str(url), status, *_validators(response, expect))
        except UnicodeDecodeError as error:
            return FetchError(
                FetchFailure.BAD_CONTENT_TYPE, f"{url} sent no UTF-8: {error}", status
            )
    return _checked_document(body, url, status, expect)


def _validators(response: httpx.Response, expect: _Expectation) -> tuple[str | None, str | None]:
    """The ETag and Last-Modified of a text answer worth keeping (a conditional fetch's)."""
    if expect.conditional is None:
        return None, None
    found = (response.headers.get("etag"), response.headers.get("last-modified"))
    etag, modified = (v if v and _is_header_value(v) else None for v in found)
    return etag, modified


def _judge_status(response: httpx.Response, url: httpx.URL) -> FetchError | httpx.URL | None:
    """A redirect's target, a failure for any other status but 2xx, or None to read on."""
    status = response.status_code
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
    return None


async def _read_capped_body(
    response: httpx.Response, url: httpx.URL, policy: FetchPolicy
) -> bytes | FetchError:
    """The body, or TOO_LARGE as soon as it is declared or grows past policy.max_bytes."""
    status = response.status_code
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
    return bytes(body)


def _checked_document(
    body: bytes, url: httpx.URL, status: int, expect: _Expectation
) -> Fetched | FetchError:
    """The body as a JSON object whose id passes the origin rule (when expected), or why not."""
    parsed = load_json(body)
    if isinstance(parsed, JsonFailure):
        return FetchError(
            FetchFailure.BAD_JSON, f"{url} sent refused JSON: {parsed.detail}", status
        )
    document = parsed.value
    if not isinstance(document, dict):
        return FetchError(FetchFailure.BAD_JSON, f"{url} sent JSON that is not an object", status)
    mismatch = origin_mismatch(document, url) if expect.check_origin else None
    if mismatch is not None:
        return FetchError(FetchFailure.ID_MISMATCH, mismatch, status)
    return Fetched(document=document, url=str(url), status=status)
