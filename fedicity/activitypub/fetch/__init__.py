"""Fetching remote ActivityPub documents: the one package that GETs objects from other servers.

Everything a remote server controls is treated as hostile: the URL (it may point inside our
network), each redirect, the status, the media type, the size and the JSON. Every failure comes
back as a `FetchError` value carrying a `FetchFailure` reason, so callers decide per reason (a GONE
object is deleted, a TIMEOUT is retried later) instead of catching exceptions.

The HTTP client, the signer and the resolver are arguments, so the package holds no state and
tests drive it against real servers on 127.0.0.1. The client must connect directly, without a
proxy (build it with trust_env=False): behind a proxy the address checks would judge our
resolver's answer while the proxy resolves on its own, and the peer-address check would see the
proxy. Build it on a PinnedTransport, which checks the addresses it connects to and connects to
those very addresses, so a name cannot resolve to a public address for the check and a private
one for the connection.

The modules: models (policy, outcomes, reasons, what we send), addresses (the address policy),
pinned (the transport that connects only to checked addresses), origin (the same-origin rule
for ids), document (fetch_document, fetch_key_owner, check_destination), poster (the aiohttp
client deliveries POST with, whose resolver hands its connector only checked addresses). This
package re-exports what callers use.
"""

from fedicity.activitypub.fetch.addresses import (
    checked_addresses,
    is_blocked_address,
    resolve_host,
)
from fedicity.activitypub.fetch.document import (
    check_destination,
    fetch_document,
    fetch_key_owner,
    fetch_text,
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
    IPAddress,
    RefuseHost,
    Resolver,
    Signer,
    user_agent_for,
)
from fedicity.activitypub.fetch.origin import origin_of
from fedicity.activitypub.fetch.pinned import PinnedBackend, PinnedTransport, RefusedAddress

__all__ = [
    "ACCEPTED_MEDIA_TYPES",
    "DEFAULT_ACCEPT",
    "DEFAULT_USER_AGENT",
    "FetchError",
    "FetchFailure",
    "FetchPolicy",
    "Fetched",
    "FetchedText",
    "IPAddress",
    "PinnedBackend",
    "PinnedTransport",
    "RefuseHost",
    "RefusedAddress",
    "Resolver",
    "Signer",
    "check_destination",
    "checked_addresses",
    "fetch_document",
    "fetch_key_owner",
    "fetch_text",
    "is_blocked_address",
    "origin_of",
    "resolve_host",
    "user_agent_for",
]
