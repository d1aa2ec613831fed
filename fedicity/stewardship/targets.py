"""What a reported URI is here: a post, an event, a proposal, a comment or an actor; whose it is,
whether it is ours, what it says, and where it lives (an organisation's wall or room, a
territory), so a report reaches the moderators of that place."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fedicity.activitypub.accessors import get_id, host_of
from fedicity.actors import queries as actor_queries
from fedicity.actors.service import local_actor_for_uri
from fedicity.db.pool import Connection
from fedicity.delivery import queries as delivery_queries
from fedicity.events import queries as event_queries
from fedicity.located import queries as located_queries
from fedicity.organizations import service as organization_service
from fedicity.poi import queries as poi_queries
from fedicity.posts import queries as post_queries
from fedicity.posts.models import Post
from fedicity.proposals import queries as proposal_queries
from fedicity.sanitize import html_to_text
from fedicity.urls import Urls

# Characters of a reported object's text shown in the queue.
EXCERPT = 1000


@dataclass(frozen=True)
class Target:
    """A reported object as we know it."""

    kind: str
    uri: str
    owner: str | None
    text: str
    local: bool
    # A remote object's page on its server, for the moderators to check it there.
    url: str | None = None
    organization_id: int | None = None
    territory_id: int | None = None
    removed: bool = False


async def _organization_id(conn: Connection, urls: Urls, uris: Iterable[str | None]) -> int | None:
    for uri in uris:
        actor = await local_actor_for_uri(conn, urls, uri)
        if actor is not None and actor.kind == "organization":
            return actor.id
    return None


async def _wall_of(conn: Connection, urls: Urls, post: Post) -> int | None:
    """The organisation whose wall a post is on: its FEP-1b12 audience, or an organisation it
    is addressed to by a member (as the wall admits it) or by the organisation itself. A mere
    mention of an organisation does not put a stranger's post in its moderators' hands."""
    audience = await _organization_id(conn, urls, await _audiences(conn, urls, post))
    if audience is not None:
        return audience
    for uri in (*post.to_uris, *post.cc_uris):
        actor = await local_actor_for_uri(conn, urls, uri)
        if actor is None or actor.kind != "organization":
            continue
        if post.author_uri == uri or await organization_service.is_member(
            conn, actor.id, post.author_uri
        ):
            return actor.id
    return None


async def _territory_id(conn: Connection, uri: str) -> int | None:
    item = await located_queries.select_item(conn, uri)
    return None if item is None else item.territory_id


async def _audiences(conn: Connection, urls: Urls, post: Post) -> list[str]:
    """The FEP-1b12 audience of a post (an organisation's wall): in its document when remote,
    in its Create when ours."""
    document = post.raw
    if post.local_actor_id is not None:
        create = await delivery_queries.select_activity(conn, urls.create_activity(post.uri))
        document = create or {}
    found = get_id((document or {}).get("audience"))
    return [found] if found else []


def _excerpt(html: str) -> str:
    return html_to_text(html)[:EXCERPT]


async def find(conn: Connection, urls: Urls, uri: str, kind: str | None = None) -> Target | None:
    """The object `uri` names, of the given kind or the first kind that has it; None when we
    know nothing of it."""
    local_host = host_of(urls.base)
    if kind in (None, "post"):
        post = await post_queries.select_post(conn, uri, include_deleted=True)
        if post is not None:
            return Target(
                "post",
                uri,
                post.author_uri,
                _excerpt(post.content_html),
                post.local_actor_id is not None,
                url=post.url,
                organization_id=await _wall_of(conn, urls, post),
                territory_id=await _territory_id(conn, uri),
                removed=post.deleted_at is not None,
            )
    if kind in (None, "event"):
        event = await event_queries.select_event(conn, uri, include_deleted=True)
        if event is not None:
            return Target(
                "event",
                uri,
                event.organizer_uri,
                event.title,
                event.local_actor_id is not None,
                organization_id=await _organization_id(conn, urls, [event.organizer_uri]),
                territory_id=await _territory_id(conn, uri),
                removed=event.deleted_at is not None,
            )
    if kind in (None, "place"):
        place = await poi_queries.select_place(conn, uri)
        if place is not None:
            return Target(
                "place",
                uri,
                place.author_uri,
                f"{place.name}\n{_excerpt(place.description_html)}"[:EXCERPT],
                place.local,
                url=place.url,
                territory_id=place.territory_id,
                removed=place.deleted_at is not None,
            )
    if kind in (None, "proposal"):
        proposal = await proposal_queries.select_proposal(conn, uri)
        if proposal is not None:
            return Target(
                "proposal",
                uri,
                proposal.author_uri,
                f"{proposal.title}\n{_excerpt(proposal.content_html)}"[:EXCERPT],
                proposal.local_actor_id is not None,
                organization_id=await _organization_id(conn, urls, [proposal.organization_uri]),
                territory_id=await _territory_id(conn, uri),
            )
    if kind in (None, "comment"):
        comment = await proposal_queries.select_comment(conn, uri)
        if comment is not None:
            parent = await proposal_queries.select_proposal_by_id(conn, comment.proposal_id)
            return Target(
                "comment",
                uri,
                comment.author_uri,
                _excerpt(comment.content_html),
                comment.local,
                organization_id=await _organization_id(
                    conn, urls, [parent.organization_uri if parent else None]
                ),
                territory_id=await _territory_id(conn, parent.uri) if parent else None,
            )
    if kind in (None, "actor"):
        local = await local_actor_for_uri(conn, urls, uri)
        if local is not None and local.kind in ("person", "organization"):
            return Target("actor", uri, uri, local.name, True)
        remote = await actor_queries.select_remote_actor(conn, uri)
        if remote is not None and host_of(uri) != local_host:
            return Target(
                "actor",
                uri,
                uri,
                remote.display_name or remote.username or uri,
                False,
                url=remote.url,
            )
    return None


async def find_all(conn: Connection, urls: Urls, uris: Iterable[str]) -> list[Target]:
    """The known objects among these URIs, in their order (a report's objects, for the queue)."""
    found = []
    for uri in uris:
        target = await find(conn, urls, uri)
        if target is not None:
            found.append(target)
    return found
