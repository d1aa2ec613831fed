"""A Fetcher bundles what every remote fetch needs: the client, the limits and the signing key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

import httpx

from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.fetch import (
    Fetched,
    FetchedText,
    FetchError,
    FetchFailure,
    FetchPolicy,
    PinnedTransport,
    Resolver,
    fetch_document,
    fetch_key_owner,
    fetch_text,
    resolve_host,
)
from fedicity.activitypub.httpsig import SigningKey, sign_cavage
from fedicity.clock import Clock


@dataclass
class Fetcher:
    """Signed, limited GETs on behalf of the instance actor."""

    client: httpx.AsyncClient
    policy: FetchPolicy
    signing_key: SigningKey
    clock: Clock
    user_agent: str
    # The federation policy (suspended domains, allowlist): a reason to refuse a host, or None.
    refuse_host: Callable[[str], Awaitable[str | None]] | None = None
    # Our own base URL: nothing on our host (and port) is ever taken from the network.
    local_base: str | None = None
    # Key fetches run inside inbox requests: their own connections and a shorter deadline, so
    # slow or silent keyIds cannot take the connections object fetches and deliveries need
    # (nor the reverse). Both default to the client and policy above.
    key_client: httpx.AsyncClient | None = None
    key_policy: FetchPolicy | None = None

    def _is_local(self, uri: str) -> bool:
        return self.local_base is not None and host_of(uri) == host_of(self.local_base)

    async def _refused(self, url: str) -> FetchError | None:
        if self._is_local(url):
            return FetchError(FetchFailure.LOCAL, "local objects are read from the database")
        if self.refuse_host is None:
            return None
        reason = await self.refuse_host(host_of(url))
        return None if reason is None else FetchError(FetchFailure.REFUSED_BY_POLICY, reason)

    def _not_ours(self, result: Fetched | FetchError) -> Fetched | FetchError:
        """Refuse a document that claims to be ours, however it got here (a redirect to us)."""
        if isinstance(result, Fetched) and (
            self._is_local(result.url) or self._is_local(str(result.document.get("id") or ""))
        ):
            return FetchError(FetchFailure.LOCAL, f"{result.url} served a document of ours")
        return result

    def _sign(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        return sign_cavage(method, url, headers, None, self.signing_key, self.clock.now())

    async def document(self, url: str, *, signed: bool = True) -> Fetched | FetchError:
        """Fetch an ActivityStreams document (signed, so authorized-fetch servers answer)."""
        refused = await self._refused(url)
        if refused is not None:
            return refused
        return self._not_ours(
            await fetch_document(
                self.client,
                url,
                policy=self.policy,
                sign=self._sign if signed else None,
                user_agent=self.user_agent,
                refuse_host=self.refuse_host,
            )
        )

    async def key_document(self, url: str) -> Fetched | FetchError:
        """Fetch what a keyId names (or a key's owner): unsigned first, signed after a 401."""
        refused = await self._refused(url)
        if refused is not None:
            return refused
        return self._not_ours(
            await fetch_key_owner(
                self.key_client or self.client,
                url,
                policy=self.key_policy or self.policy,
                sign=self._sign,
                user_agent=self.user_agent,
                refuse_host=self.refuse_host,
            )
        )

    async def text(
        self,
        url: str,
        *,
        content_types: frozenset[str],
        max_bytes: int,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchedText | FetchError:
        """Fetch a published text document (a block list, a calendar), unsigned, under the same
        policy; conditional when given the last answer's validators."""
        refused = await self._refused(url)
        if refused is not None:
            return refused
        return await fetch_text(
            self.client,
            url,
            policy=replace(self.policy, max_bytes=max_bytes),
            content_types=content_types,
            user_agent=self.user_agent,
            refuse_host=self.refuse_host,
            etag=etag,
            last_modified=last_modified,
        )

    def now(self) -> datetime:
        """The fetcher's clock."""
        return self.clock.now()


def new_http_client(
    *,
    allow_private_addresses: bool = False,
    max_connections: int = 100,
    timeout: float = 10.0,
    resolve: Resolver = resolve_host,
) -> httpx.AsyncClient:
    """A client for fetches and deliveries: redirects are followed by fetch/, hop by hop.

    Its connections go only to addresses checked against the address policy when connecting
    (PinnedTransport), whatever checks the caller made before; `allow_private_addresses` is
    for tests and closed networks only.
    """
    return httpx.AsyncClient(
        follow_redirects=False,
        # Connect directly: through a proxy, fetch/'s address checks would see the proxy.
        trust_env=False,
        timeout=httpx.Timeout(timeout),
        transport=PinnedTransport(
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=min(20, max_connections),
            ),
            allow_private_addresses=allow_private_addresses,
            resolve=resolve,
        ),
    )
