"""People, not ids: the actors a page shows, looked up in one query, and how templates name them.

A view collects every actor URI its page will show and calls `known_actors` once; templates then
call the `person` macro (templates/_people.html) with that mapping. An actor we know nothing of
is still shown by a handle guessed from its URI, never by the URI itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fedicity.actors import queries as actor_queries
from fedicity.actors.models import KnownActor
from fedicity.db.pool import Connection
from fedicity.urls import Urls


@dataclass(frozen=True)
class Shown:
    """An actor as a page shows it: a name, a handle, a link, and whether it lives elsewhere."""

    name: str
    handle: str
    href: str | None
    remote: bool
    # A local actor's avatar (uploaded or generated); None for remote actors.
    avatar: str | None = None


async def known_actors(
    conn: Connection, urls: Urls, uris: Iterable[str | None], *, guess: bool = True
) -> dict[str, Shown]:
    """Every given actor URI, named: one query for all of them. Without `guess`, only the URIs
    that are actors we know (for lists that mix actors and other objects)."""
    wanted = {uri for uri in uris if uri}
    prefix = urls.actor("")
    local: dict[str, str] = {}
    for uri in wanted:
        if uri.startswith(prefix):
            username = urls.username_in(urlsplit(uri).path)
            if username is not None:
                local[uri] = username
    remote = [uri for uri in wanted if uri not in local]
    host = urlsplit(urls.base).netloc
    found = {
        row.uri: _shown(row, urls, host)
        for row in await actor_queries.select_known_actors(conn, local, remote)
    }
    if not guess:
        return found
    return {uri: found.get(uri) or guessed(uri, host) for uri in wanted}


def _shown(row: KnownActor, urls: Urls, host: str) -> Shown:
    username = row.username or "?"
    if row.local:
        href = (
            urls.organization_page(username)
            if row.kind == "organization"
            else urls.profile(username)
        )
        avatar = urls.media(row.avatar) if row.avatar else urls.actor_avatar(username)
        return Shown(row.name or username, f"@{username}@{host}", href, False, avatar)
    return Shown(row.name or username, f"@{username}@{row.domain}", row.url or row.uri, remote=True)


def guessed(uri: str, host: str) -> Shown:
    """An actor we have no row for: a handle made of its URI's last segment and host."""
    parts = urlsplit(uri)
    name = parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.netloc
    return Shown(name, f"@{name}@{parts.netloc}", uri, remote=parts.netloc != host)
