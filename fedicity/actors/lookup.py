"""Find an actor from what a person types: @user@host, user@host, @user, or a profile URL."""

from __future__ import annotations

import re

from fedicity.activitypub.accessors import host_of
from fedicity.actors import queries
from fedicity.actors.models import RemoteActor
from fedicity.actors.remote import ActorDirectory, LookupFailure
from fedicity.db.pool import Pool
from fedicity.webfinger.client import WebFingerFailure, resolve_acct

_HANDLE = re.compile(r"^@?(?P<user>[^@\s/]{1,64})(?:@(?P<host>[A-Za-z0-9.\-]+(?::\d+)?))?$")


async def find_actor(
    pool: Pool, directory: ActorDirectory, query: str, *, local_host: str
) -> str | RemoteActor | LookupFailure:
    """A local actor's URI, a remote actor, or why neither was found."""
    text = query.strip()
    if text.startswith(("http://", "https://")):
        if host_of(text) == local_host:
            return text
        return await directory.actor(text)
    match = _HANDLE.match(text)
    if match is None:
        return LookupFailure("bad_handle", "type a handle such as @name@server.example")
    user, host = match.group("user"), (match.group("host") or local_host).lower()
    if host == local_host:
        async with pool.acquire() as conn:
            local = await queries.select_actor_by_username(conn, user)
        if local is None or local.kind == "application":
            return LookupFailure("unknown", f"nobody is called @{user} here")
        return directory.urls.actor(local.username)
    async with pool.acquire() as conn:
        known = await queries.select_remote_actor_by_handle(conn, user, host)
    if known is not None:
        return known
    uri = await resolve_acct(directory.fetcher, user, host)
    if isinstance(uri, WebFingerFailure):
        return LookupFailure(uri.reason, uri.detail, gone=uri.gone)
    return await directory.actor(uri)
