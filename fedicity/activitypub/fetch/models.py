"""What fetching deals in: the policy, the outcome values, the failure reasons, the types of the
injected resolver and signer, and what we send with every request."""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from fedicity import SOFTWARE_NAME, __version__

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Signer = Callable[[str, str, dict[str, str]], dict[str, str]]
"""sign(method, url, headers) -> headers to add; the caller binds the instance actor's key."""

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
"""resolve(host, port) -> the addresses a connection to host may use."""

RefuseHost = Callable[[str], Awaitable[str | None]]
"""refuse_host(host) -> why the federation policy refuses to talk to host, or None."""

DEFAULT_ACCEPT: Final = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
DEFAULT_USER_AGENT: Final = f"{SOFTWARE_NAME}/{__version__}"

# application/json is accepted too: some servers (older Pleroma, static hosts) label AP documents
# with it, and the JSON-object and id-origin checks apply whatever the label.
ACCEPTED_MEDIA_TYPES: Final = frozenset(
    {"application/activity+json", "application/ld+json", "application/json"}
)


def user_agent_for(base_url: str) -> str:
    """The User-Agent fedicity sends: `fedicity/<version> (+<base url>)`, so admins can reach us."""
    return f"{SOFTWARE_NAME}/{__version__} (+{base_url})"


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
class FetchedText:
    """A text document (not ActivityStreams: a published block list) fetched from `url`."""

    text: str
    url: str
    status: int
    # The validators the server sent, for a conditional GET next time (a followed feed). A 304
    # answer to such a GET is a FetchedText with status 304 and no text.
    etag: str | None = None
    last_modified: str | None = None


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
