"""The exports read: each function takes a connection and returns what one file holds (the
feeds' entries, the agendas' events, the tables' rows), public data only."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.events import queries as event_queries
from fedicity.events.models import Event
from fedicity.exports import queries
from fedicity.exports.feeds import title_of
from fedicity.exports.models import DirectoryEntry, Entry
from fedicity.located import queries as located_queries
from fedicity.posts import queries as post_queries
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals.models import Proposal, Tally
from fedicity.sanitize import safe_url
from fedicity.territories.models import Territory
from fedicity.urls import Urls

FEED_SIZE = 50
AGENDA_SIZE = 500
TABLE_ROWS = 5000
# Agendas keep the events of the last weeks: a subscribed calendar still learns of a change
# or a cancellation to what just happened, and the file does not grow for ever.
AGENDA_PAST = timedelta(days=90)
# The events table starts a year back: capped at TABLE_ROWS soonest first, an unbounded start
# would fill it with the oldest events and leave out what comes (bench/exports.py).
TABLE_PAST = timedelta(days=365)


async def actor_entries(conn: Connection, urls: Urls, actor: Actor) -> list[Entry]:
    """An actor's latest public posts (not unlisted ones: a feed is a public listing)."""
    posts = await post_queries.select_author_posts(
        conn, urls.actor(actor.username), limit=FEED_SIZE, visibilities=("public",)
    )
    return [
        Entry(
            id=post.uri,
            title=post.name or post.summary or title_of(post.content_html, html=True),
            link=safe_url(post.url) or post.uri,
            content_html=post.content_html,
            published=post.published,
            updated=post.updated,
            author=actor.name,
        )
        for post in posts
    ]


async def territory_entries(conn: Connection, territory: Territory) -> list[Entry]:
    """What the territory's page shows as its live feed: posts, events and proposals located
    in it or below it, newest first; a public post with its HTML, the rest with their summary."""
    items = await located_queries.select_in_scope(conn, territory.id, limit=FEED_SIZE)
    html = await queries.select_public_html(
        conn, [item.object_uri for item in items if item.kind == "post"]
    )
    entries = []
    for item in items:
        link = safe_url(item.url) or safe_url(item.object_uri)
        if link is None or (item.kind == "post" and item.object_uri not in html):
            continue
        content = html.get(item.object_uri) or f"<p>{escape(item.summary)}</p>"
        entries.append(
            Entry(
                id=item.object_uri,
                title=item.title or title_of(item.summary, html=False),
                link=link,
                content_html=content,
                published=item.published,
            )
        )
    return entries


async def proposal_entries(conn: Connection, state: str | None) -> list[Entry]:
    """The latest published proposals (as the public lists show them), of one state when given."""
    found = await proposal_queries.select_listed(conn, limit=FEED_SIZE, state=state)
    return [
        Entry(
            id=p.uri,
            title=p.title,
            link=p.uri if p.local else safe_url(p.raw.get("url") if p.raw else None) or p.uri,
            content_html=p.content_html,
            published=p.published,
            updated=p.updated,
        )
        for p in found
    ]


def newest(entries: list[Entry], otherwise: datetime) -> datetime:
    """When a feed last changed: its newest entry's moment, or `otherwise` when empty."""
    return max((e.updated or e.published for e in entries), default=otherwise)


def _unplaced(scope: Territory, root: Territory | None) -> bool:
    # What is ours and has no territory happens in the one this instance serves.
    return root is not None and scope.id == root.id


async def agenda(
    conn: Connection,
    *,
    scope: Territory | None,
    root: Territory | None,
    tag: str | None = None,
    since: datetime | None,
    limit: int = AGENDA_SIZE,
) -> list[Event]:
    """Public events of a territory (descendants included) or of a hashtag, cancelled ones
    included, not ended before `since`."""
    return await event_queries.select_agenda(
        conn,
        scope_id=scope.id if scope is not None else None,
        unplaced_in_scope=scope is not None and _unplaced(scope, root),
        tag=tag,
        since=since,
        limit=limit,
    )


async def directory(
    conn: Connection, scope: Territory, root: Territory | None
) -> list[DirectoryEntry]:
    """The organisations of a territory's directory."""
    return await queries.select_directory(
        conn, scope_id=scope.id, unplaced_in_scope=_unplaced(scope, root), limit=TABLE_ROWS
    )


async def proposals_with_tallies(
    conn: Connection, scope: Territory, root: Territory | None
) -> tuple[list[Proposal], dict[int, Tally]]:
    """A territory's published proposals, newest first, and their votes."""
    found = await proposal_queries.select_listed(
        conn, scope_id=scope.id, unplaced_in_scope=_unplaced(scope, root), limit=TABLE_ROWS
    )
    return found, await proposal_queries.select_tallies(conn, [p.id for p in found])
