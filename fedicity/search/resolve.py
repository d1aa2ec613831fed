"""What a typed handle (`@name@server`, `name@server`) or address (`https://...`) names.

First among the rows we keep (no network: anyone may ask); then, only for a logged-in citizen
and counted against LOOKUPS_PER_ACCOUNT, on its own server through the instance's fetcher (the
address policy refuses private addresses, the federation policy suspended domains). A fetched
actor is cached like every actor we meet; a fetched post or event is shown, not kept: storing
what anyone looks up would put any post of the fediverse in our tag pages and any event in our
agenda. Failures are reasons (codes the web layer words), never the fetch's detail: whether
something answers at an address is not ours to tell.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from fedicity.activitypub.accessors import get_ids, get_type, host_of
from fedicity.activitypub.fetch import FetchError, RefuseHost
from fedicity.actors import queries as actor_queries
from fedicity.actors.lookup import find_actor
from fedicity.actors.models import RemoteActor
from fedicity.actors.parse import ACTOR_TYPES
from fedicity.actors.remote import ActorDirectory, LookupFailure
from fedicity.db.pool import Connection, Pool
from fedicity.events import queries as event_queries
from fedicity.events.models import Event, EventData
from fedicity.events.parse import event_from_ap
from fedicity.posts import queries as post_queries
from fedicity.posts.models import POST_TYPES, Post, PostData
from fedicity.posts.parse import post_from_ap
from fedicity.ratelimit.limiter import Limit, hit
from fedicity.sanitize import safe_url
from fedicity.search import queries
from fedicity.urls import Urls

_log = logging.getLogger(__name__)

# Each lookup on another server costs a fetch or two: a citizen's searches are bounded, so an
# account cannot turn the instance into a crawler. Lookups answered from our rows are free.
LOOKUPS_PER_ACCOUNT = Limit("lookup-account", 30, timedelta(minutes=10))

HANDLE = re.compile(r"@?(?P<user>[^@\s/:?#]{1,64})@(?P<host>[A-Za-z0-9.\-]{1,253}(?::\d{1,5})?)")
_SHOWN_ACTOR_TYPES = ACTOR_TYPES - {"Application"}

# The codes a failed fetch or lookup becomes: what a visitor can act on, no more.
_BLOCKED = {"bad_url", "blocked_address", "local", "local_actor"}
_UNSUPPORTED = {"too_large", "bad_content_type", "bad_json", "id_mismatch", "not_an_actor"}


@dataclass(frozen=True)
class Target:
    """A handle (`user`, `host`) or an address, as typed."""

    address: str | None = None
    user: str = ""
    host: str = ""


def target_of(text: str) -> Target | None:
    """The handle or http(s) address typed, or None for words to search."""
    typed = text.strip()
    if typed.lower().startswith(("http://", "https://")) and not any(ch.isspace() for ch in typed):
        return Target(address=typed)
    matched = HANDLE.fullmatch(typed.removeprefix("acct:"))
    if matched is None:
        return None
    return Target(user=matched["user"], host=matched["host"].lower())


@dataclass(frozen=True)
class FoundActor:
    """An actor: one of ours (remote is None) or another server's, as cached."""

    uri: str
    remote: RemoteActor | None = None


@dataclass(frozen=True)
class FoundPost:
    """A post, `kept` when we store it (it can then be liked and answered from here)."""

    post: Post | PostData
    kept: bool


@dataclass(frozen=True)
class FoundEvent:
    """An event, `kept` when we store it."""

    event: Event | EventData
    kept: bool


@dataclass(frozen=True)
class OurPage:
    """An address on this server: the visitor is sent there."""

    url: str


@dataclass(frozen=True)
class NotResolved:
    """Why nothing is shown: `unknown_local`, `blocked`, `refused`, `unreachable`,
    `unsupported`, `not_public`, `needs_login` or `rate_limited` (with seconds to wait)."""

    reason: str
    retry_after: int = 0


Found = FoundActor | FoundPost | FoundEvent | OurPage


def _our_page(address: str, urls: Urls) -> OurPage:
    """Our own address, rebuilt on our base URL: a path like //elsewhere.example stays ours."""
    parts = urlsplit(address)
    path = "/" + parts.path.lstrip("/")
    return OurPage(urls.absolute(path) + (f"?{parts.query}" if parts.query else ""))


async def resolve_known(
    conn: Connection, target: Target, *, urls: Urls, refuse_host: RefuseHost | None = None
) -> Found | NotResolved | None:
    """What the target names among our rows; None when we keep nothing it names. A domain the
    federation policy refuses (`refuse_host`: suspended, or unlisted in allowlist mode) is
    refused whole, what we kept of it included."""
    local_host = host_of(urls.base)
    host = target.host if target.address is None else host_of(target.address)
    if host and host != local_host and refuse_host is not None and await refuse_host(host):
        return NotResolved("refused")
    if target.address is None:
        if target.host == local_host:
            actor = await actor_queries.select_actor_by_username(conn, target.user)
            if actor is None or actor.kind == "application":
                return NotResolved("unknown_local")
            return FoundActor(urls.actor(actor.username))
        remote = await actor_queries.select_remote_actor_by_handle(conn, target.user, target.host)
        return FoundActor(remote.uri, remote) if remote is not None else None
    if safe_url(target.address) is None:
        return NotResolved("blocked")
    if host_of(target.address) == local_host:
        return _our_page(target.address, urls)
    actor_uri = await queries.select_remote_actor_uri_by_address(conn, target.address)
    if actor_uri is not None:
        return FoundActor(actor_uri, await actor_queries.select_remote_actor(conn, actor_uri))
    post_uri = await queries.select_post_uri_by_address(conn, target.address)
    post = await post_queries.select_post(conn, post_uri) if post_uri else None
    if post is not None:
        return FoundPost(post, kept=True)
    event_uri = await queries.select_event_uri_by_address(conn, target.address)
    event = await event_queries.select_event(conn, event_uri) if event_uri else None
    if event is not None:
        return FoundEvent(event, kept=True)
    return None


def _reason(code: str) -> NotResolved:
    if code in _BLOCKED:
        return NotResolved("blocked")
    if code == "refused_by_policy":
        return NotResolved("refused")
    if code in _UNSUPPORTED:
        return NotResolved("unsupported")
    if code == "unknown":
        return NotResolved("unknown_local")
    return NotResolved("unreachable")


async def resolve(
    pool: Pool,
    directory: ActorDirectory,
    target: Target,
    *,
    account_id: int | None,
    now: datetime,
) -> Found | NotResolved:
    """What the target names: from our rows, else (for an account, within its limit) from its
    own server."""
    async with pool.acquire() as conn:
        known = await resolve_known(
            conn, target, urls=directory.urls, refuse_host=directory.fetcher.refuse_host
        )
        if known is not None:
            return known
        if account_id is None:
            return NotResolved("needs_login")
        verdict = await hit(conn, LOOKUPS_PER_ACCOUNT, f"account:{account_id}", now)
    if not verdict.allowed:
        return NotResolved("rate_limited", verdict.retry_after)
    if target.address is None:
        found = await find_actor(
            pool,
            directory,
            f"{target.user}@{target.host}",
            local_host=host_of(directory.urls.base),
        )
        if isinstance(found, LookupFailure):
            _log.info("lookup of @%s@%s failed: %s", target.user, target.host, found.detail)
            return _reason(found.reason)
        if isinstance(found, str):
            return FoundActor(found)
        return FoundActor(found.uri, found)
    return await _fetched(pool, directory, target.address)


async def _fetched(pool: Pool, directory: ActorDirectory, address: str) -> Found | NotResolved:
    """The actor, post or event an address of another server holds, fetched from it."""
    fetched = await directory.fetcher.document(address)
    if isinstance(fetched, FetchError):
        _log.info("lookup of %r failed: %s: %s", address, fetched.reason.value, fetched.detail)
        return _reason(fetched.reason.value)
    document = fetched.document
    kind = get_type(document)
    if kind in _SHOWN_ACTOR_TYPES:
        stored = await directory.store(document)
        if isinstance(stored, LookupFailure):
            return _reason(stored.reason)
        return FoundActor(stored.uri, stored)
    if kind in POST_TYPES:
        return await _post(pool, directory, document)
    if kind == "Event":
        return await _event(pool, directory, document)
    return NotResolved("unsupported")


async def _author(
    directory: ActorDirectory, document: Mapping[str, Any]
) -> RemoteActor | NotResolved:
    """The object's author on the object's own host (only that host vouches for it), fetched
    or cached: the page names it, and its followers collection tells a post's audience."""
    host = host_of(str(document.get("id") or ""))
    candidates = [uri for uri in get_ids(document.get("attributedTo")) if host_of(uri) == host]
    if not candidates:
        return NotResolved("unsupported")
    author = await directory.actor(candidates[0])
    if isinstance(author, LookupFailure):
        return _reason(author.reason)
    return author


async def _post(
    pool: Pool, directory: ActorDirectory, document: Mapping[str, Any]
) -> FoundPost | NotResolved:
    author = await _author(directory, document)
    if isinstance(author, NotResolved):
        return author
    data = post_from_ap(
        document, author=author.uri, followers_uri=author.followers_uri, now=directory.fetcher.now()
    )
    if isinstance(data, str):
        _log.info("looked-up post refused: %s", data)
        return NotResolved("unsupported")
    if data.visibility not in ("public", "unlisted"):
        return NotResolved("not_public")
    async with pool.acquire() as conn:
        kept = await post_queries.select_post(conn, data.uri)
    return FoundPost(kept, kept=True) if kept is not None else FoundPost(data, kept=False)


async def _event(
    pool: Pool, directory: ActorDirectory, document: Mapping[str, Any]
) -> FoundEvent | NotResolved:
    organizer = await _author(directory, document)
    if isinstance(organizer, NotResolved):
        return organizer
    data = event_from_ap(document, organizer=organizer.uri, now=directory.fetcher.now())
    if isinstance(data, str):
        _log.info("looked-up event refused: %s", data)
        return NotResolved("unsupported")
    if not data.public:
        return NotResolved("not_public")
    async with pool.acquire() as conn:
        kept = await event_queries.select_event(conn, data.uri)
    return FoundEvent(kept, kept=True) if kept is not None else FoundEvent(data, kept=False)
