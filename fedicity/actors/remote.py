"""Finding remote actors and their keys: from the database cache, else over the network."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from fedicity.activitypub.accessors import get_id, host_of
from fedicity.activitypub.fetch import FetchError, FetchFailure
from fedicity.activitypub.fetcher import Fetcher
from fedicity.activitypub.keys import key_fetch_url
from fedicity.actors import queries
from fedicity.actors.models import RemoteActor
from fedicity.actors.parse import ActorParseError, parse_remote_actor
from fedicity.db.pool import Connection, Pool
from fedicity.urls import Urls

STALE_AFTER = timedelta(days=1)
# A key that could not be fetched is not asked for again this soon: a burst of deliveries
# naming it (or an attacker replaying them) costs one fetch, not one each. Only failures are
# remembered, so a key rotated by its actor is still fetched on the first bad signature.
FAILED_KEY_TTL = 60.0
MAX_FAILED_KEYS = 10_000


@dataclass(frozen=True)
class ResolvedKey:
    """A public key and the actor that owns it."""

    key_id: str
    owner: str
    public_key_pem: str


@dataclass(frozen=True)
class LookupFailure:
    """Why an actor or key could not be had; `gone` when the server says it was deleted."""

    reason: str
    detail: str
    gone: bool = False
    # Refused without trying: too many key fetches from that host are in flight. Retry later.
    busy: bool = False


def _from_fetch_error(error: FetchError) -> LookupFailure:
    return LookupFailure(
        reason=error.reason.name.lower(),
        detail=error.detail,
        gone=error.reason is FetchFailure.GONE or error.status in {404, 410},
    )


@dataclass
class ActorDirectory:
    """Remote actors by URI and public keys by key id, cached in PostgreSQL."""

    pool: Pool
    fetcher: Fetcher
    urls: Urls
    # Key fetches in flight per remote host, at most: the rest fail at once (busy), so keyIds
    # on a server that never answers cannot pile up and starve the key fetches of other peers.
    key_fetches_per_host: int = 4
    failed_key_ttl: float = FAILED_KEY_TTL
    monotonic: Callable[[], float] = time.monotonic
    _in_flight: dict[tuple[str, bool], asyncio.Future[ResolvedKey | LookupFailure]] = field(
        default_factory=dict, repr=False
    )
    _fetching: dict[str, int] = field(default_factory=dict, repr=False)
    _failed: dict[str, tuple[float, LookupFailure]] = field(default_factory=dict, repr=False)

    def is_local(self, uri: str) -> bool:
        """Whether a URI is one of ours."""
        return host_of(uri) == self._own_host

    @functools.cached_property
    def _own_host(self) -> str:
        return host_of(self.urls.base)

    async def actor(self, uri: str, *, refresh: bool = False) -> RemoteActor | LookupFailure:
        """A remote actor, fetched when unknown, stale, or when asked to refresh."""
        async with self.pool.acquire() as conn:
            cached = await queries.select_remote_actor(conn, uri)
        fresh_enough = cached is not None and (self.fetcher.now() - cached.fetched_at < STALE_AFTER)
        if cached is not None and cached.deleted_at is None and fresh_enough and not refresh:
            return cached
        fetched = await self.fetcher.document(uri)
        if isinstance(fetched, FetchError):
            # A stale copy is better than nothing when the peer is briefly down.
            if cached is not None and cached.deleted_at is None and not refresh:
                return cached
            return _from_fetch_error(fetched)
        return await self.store(fetched.document)

    async def store(self, document: Mapping[str, Any]) -> RemoteActor | LookupFailure:
        """Parse and cache an actor document that came from its own host."""
        if self.is_local(get_id(document) or ""):
            # Our actors live in `actors`; a copy from the wire must never shadow one.
            return LookupFailure("local_actor", "a remote document cannot describe our actors")
        try:
            data = parse_remote_actor(document, self.fetcher.now())
        except ActorParseError as error:
            return LookupFailure("not_an_actor", str(error))
        async with self.pool.acquire() as conn:
            return await queries.upsert_remote_actor(conn, data)

    async def key(self, key_id: str, *, refresh: bool = False) -> ResolvedKey | LookupFailure:
        """The public key named by a signature's keyId, and its owner.

        Concurrent requests for the same key share one lookup: a burst of first deliveries from
        a new actor must not fetch its key once per delivery.
        """
        flight_key = (key_id, refresh)
        pending = self._in_flight.get(flight_key)
        if pending is not None:
            return await asyncio.shield(pending)
        task = asyncio.ensure_future(self._key(key_id, refresh=refresh))
        self._in_flight[flight_key] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._in_flight.pop(flight_key, None)
            else:
                task.add_done_callback(lambda _: self._in_flight.pop(flight_key, None))

    async def cached_key(self, conn: Connection, key_id: str) -> ResolvedKey | None:
        """A remote key already in the cache, read on the caller's connection (the inbox's one
        visit to the pool); None when it must be looked up with `key`."""
        if self.is_local(key_id):
            return None
        found = await queries.select_public_key(conn, key_id)
        return None if found is None else ResolvedKey(key_id, found[0], found[1])

    async def _key(self, key_id: str, *, refresh: bool) -> ResolvedKey | LookupFailure:
        if self.is_local(key_id):
            return await self._local_key(key_id)
        if not refresh:
            async with self.pool.acquire() as conn:
                cached = await queries.select_remote_actor_by_key_id(conn, key_id)
            if cached is not None and cached.public_key_pem:
                return ResolvedKey(key_id, cached.uri, cached.public_key_pem)
        url = key_fetch_url(key_id)
        if url is None:
            return LookupFailure("bad_key_id", f"the keyId {key_id[:100]!r} is not an http(s) URL")
        failed = self._recent_failure(url)
        if failed is not None:
            return failed
        host = host_of(url)
        in_flight = self._fetching.get(host, 0)
        if in_flight >= self.key_fetches_per_host:
            return LookupFailure(
                "busy", f"{in_flight} key fetches from {host} already in flight", busy=True
            )
        self._fetching[host] = in_flight + 1
        try:
            found = await self._fetch_key(key_id, url)
        finally:
            left = self._fetching.pop(host, 1) - 1
            if left > 0:
                self._fetching[host] = left
        if isinstance(found, LookupFailure) and found.reason != "refused_by_policy":
            # A policy refusal is a database answer, and an admin may lift it at any time.
            self._remember_failure(url, found)
        return found

    def _recent_failure(self, url: str) -> LookupFailure | None:
        entry = self._failed.get(url)
        if entry is None:
            return None
        if self.monotonic() >= entry[0]:
            del self._failed[url]
            return None
        return entry[1]

    def _remember_failure(self, url: str, failure: LookupFailure) -> None:
        if len(self._failed) >= MAX_FAILED_KEYS:
            # The oldest entry goes first (dicts keep insertion order); expired ones go with it.
            now = self.monotonic()
            for stale in [u for u, (until, _) in self._failed.items() if until <= now]:
                del self._failed[stale]
            if len(self._failed) >= MAX_FAILED_KEYS:
                del self._failed[next(iter(self._failed))]
        self._failed[url] = (self.monotonic() + self.failed_key_ttl, failure)

    async def _fetch_key(self, key_id: str, url: str) -> ResolvedKey | LookupFailure:
        fetched = await self.fetcher.key_document(url)
        if isinstance(fetched, FetchError):
            return _from_fetch_error(fetched)
        document = fetched.document
        # The keyId may name the actor itself (Mastodon: actor#main-key) or a key object with
        # an owner (GoToSocial: actor/main-key): then the owner must be fetched and must agree.
        if "inbox" not in document:
            owner = get_id(document.get("owner"))
            if owner is None:
                return LookupFailure("no_owner", f"{key_id} names neither an actor nor an owner")
            actor_document = await self.fetcher.key_document(owner)
            if isinstance(actor_document, FetchError):
                return _from_fetch_error(actor_document)
            document = actor_document.document
        stored = await self.store(document)
        if isinstance(stored, LookupFailure):
            return stored
        if stored.key_id != key_id or not stored.public_key_pem:
            return LookupFailure(
                "key_not_published", f"{stored.uri} does not publish the key {key_id}"
            )
        return ResolvedKey(key_id, stored.uri, stored.public_key_pem)

    async def _local_key(self, key_id: str) -> ResolvedKey | LookupFailure:
        path = urlsplit(key_id).path
        async with self.pool.acquire() as conn:
            if path == urlsplit(self.urls.instance_actor).path:
                actor = await queries.select_instance_actor(conn)
                owner = self.urls.instance_actor
            elif (username := self.urls.username_in(path)) is not None:
                actor = await queries.select_actor_by_username(conn, username)
                owner = self.urls.actor(username)
            else:
                actor = None
                owner = ""
        if actor is None:
            return LookupFailure("unknown_local_key", f"no local key {key_id}", gone=True)
        expected = (
            self.urls.instance_actor_key
            if actor.kind == "application"
            else self.urls.actor_key(actor.username)
        )
        if key_id != expected or actor.public_key_pem is None:
            return LookupFailure("unknown_local_key", f"no local key {key_id}")
        return ResolvedKey(key_id, owner, actor.public_key_pem)
