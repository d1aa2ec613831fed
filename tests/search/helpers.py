"""Rows to search: local and remote actors, events, proposals and posts, stored through their
packages' own queries and services, so the generated search vectors are the real ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fedicity.activitypub.keys import KeyPair
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor, RemoteActor
from fedicity.actors.parse import parse_remote_actor
from fedicity.db.pool import Pool
from fedicity.events import queries as event_queries
from fedicity.events.models import Event, EventData, Location
from fedicity.posts import queries as post_queries
from fedicity.posts.models import Post, PostData, Visibility
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals.models import Proposal, ProposalData, State
from fedicity.urls import Urls
from tests.conftest import FixedKeys
from tests.inbox_helpers import actor_document

BASE = "http://fedicity.test"
URLS = Urls(BASE)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
_serial = iter(range(1, 1_000_000))


async def person(
    pool: Pool, keygen: FixedKeys, username: str, name: str = "", summary: str = ""
) -> Actor:
    """A local citizen."""
    async with pool.acquire() as conn:
        return await actor_service.create_person(
            conn, username, keygen=keygen, display_name=name, summary=summary
        )


async def organization(pool: Pool, keygen: FixedKeys, username: str, name: str) -> Actor:
    """A local association."""
    async with pool.acquire() as conn:
        return await actor_service.create_organization(
            conn, username, organization_kind="association", keygen=keygen, display_name=name
        )


async def hide(pool: Pool, actor: Actor) -> None:
    """The actor unticks "discoverable" in its settings."""
    async with pool.acquire() as conn:
        await actor_queries.update_profile(
            conn,
            actor.id,
            display_name=actor.display_name,
            summary=actor.summary,
            manually_approves_followers=False,
            discoverable=False,
        )


async def remote_actor(
    pool: Pool, keypair: KeyPair, uri: str, username: str, name: str, **extra: Any
) -> RemoteActor:
    """A remote actor, cached as if its document had been fetched."""
    document = {**actor_document(uri, keypair, username=username), "name": name, **extra}
    async with pool.acquire() as conn:
        return await actor_queries.upsert_remote_actor(conn, parse_remote_actor(document, NOW))


async def event(
    pool: Pool,
    title: str,
    *,
    organizer: str,
    local: Actor | None = None,
    description: str = "",
    place: str | None = None,
    starts_at: datetime = NOW + timedelta(days=10),
    public: bool = True,
) -> Event:
    """An event, ours when `local` (its organiser) is given, else remote."""
    number = next(_serial)
    uri = URLS.event(f"e{number}") if local else f"{organizer.rsplit('/', 2)[0]}/events/{number}"
    data = EventData(
        uri=uri,
        organizer_uri=organizer,
        title=title,
        description_html=f"<p>{description}</p>",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        published=NOW,
        token=f"e{number}" if local else None,
        local_actor_id=local.id if local else None,
        location=Location(place_name=place, locality="Montreuil" if place else None),
        public=public,
        timezone="Europe/Paris",
    )
    async with pool.acquire() as conn:
        stored = await event_queries.upsert_event(conn, data)
    assert stored is not None
    return stored


async def proposal(
    pool: Pool, title: str, *, author: Actor, text: str = "", state: State = "voting"
) -> Proposal:
    """A local proposal in the given state."""
    number = next(_serial)
    data = ProposalData(
        uri=URLS.proposal(f"p{number}"),
        token=f"p{number}",
        local_actor_id=author.id,
        author_uri=URLS.actor(author.username),
        title=title,
        content_html=f"<p>{text}</p>",
        options=("pour", "contre"),
        published=NOW,
        state=state,
    )
    async with pool.acquire() as conn:
        return await proposal_queries.upsert_proposal(conn, data)


async def post(
    pool: Pool,
    text: str,
    *,
    author: str,
    local: Actor | None = None,
    visibility: Visibility = "public",
    published: datetime = NOW,
) -> Post:
    """A post, ours when `local` (its author) is given, else remote."""
    number = next(_serial)
    uri = URLS.note(f"n{number}") if local else f"{author}/statuses/{number}"
    to = {"public": [PUBLIC], "unlisted": [], "followers": [author + "/followers"], "direct": []}
    data = PostData(
        uri=uri,
        author_uri=author,
        local_actor_id=local.id if local else None,
        type="Note",
        name=None,
        summary=None,
        content_html=f"<p>{text}</p>",
        in_reply_to=None,
        url=None,
        visibility=visibility,
        to_uris=to[visibility],
        cc_uris=[PUBLIC] if visibility == "unlisted" else [],
        sensitive=False,
        language="fr",
        published=published,
        updated=None,
        raw=None,
    )
    async with pool.acquire() as conn:
        return await post_queries.upsert_post(conn, data)


async def delete_post(pool: Pool, found: Post) -> None:
    """Its author deletes the post."""
    async with pool.acquire() as conn:
        assert await post_queries.mark_post_deleted(conn, found.uri, found.author_uri, NOW)


async def delete_event(pool: Pool, found: Event) -> None:
    """Its organiser deletes the event."""
    async with pool.acquire() as conn:
        await event_queries.mark_deleted(conn, found.uri, found.organizer_uri, NOW)
