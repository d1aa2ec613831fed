"""Serving territories: the served root, their actors, and re-sharing what happens in them."""

from __future__ import annotations

import logging
from typing import Any

from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.actors.service import with_keys
from fedicity.clock import Clock
from fedicity.db.pool import Connection, Pool
from fedicity.delivery import queries as delivery_queries
from fedicity.errors import DomainError
from fedicity.located import queries as located_queries
from fedicity.located.models import LocatedItem, NewItem
from fedicity.moderation import queries as moderation_queries
from fedicity.posts import service as posts
from fedicity.posts.compose import Mention
from fedicity.posts.models import Post
from fedicity.sanitize import html_to_text
from fedicity.settings import Settings
from fedicity.territories import queries
from fedicity.territories.actors import ensure_actors
from fedicity.territories.document import announce
from fedicity.territories.models import Territory
from fedicity.urls import Urls, new_token

_log = logging.getLogger(__name__)


class TerritoryError(DomainError):
    """A territory operation was refused; `code` says why."""


async def served_root(conn: Connection, level: str, code: str) -> Territory | None:
    """The territory the instance serves, when configured and imported."""
    if not code:
        return None
    return await queries.select_territory(conn, level, code)


async def is_served(conn: Connection, root: Territory | None, territory_id: int) -> bool:
    """Whether a territory is the served root or under it."""
    if root is None:
        return False
    return await queries.is_descendant(conn, root.id, territory_id)


async def prepare_served_actors(conn: Connection, root: Territory) -> int:
    """Give every served territory its actor row (keys are made on first use)."""
    served = await queries.select_subtree(conn, root.id)
    return await ensure_actors(conn, served)


async def prepare_serving(pool: Pool, settings: Settings) -> Territory | None:
    """At start-up: find the served territory and give it and its sub-territories actors."""
    async with pool.acquire() as conn:
        root = await served_root(conn, settings.territory_level, settings.territory_code)
        if root is None:
            if settings.territory_code:
                _log.warning(
                    "served territory %s %s is not imported: run `fedicity territories import`",
                    settings.territory_level,
                    settings.territory_code,
                )
            return None
        created = await prepare_served_actors(conn, root)
    _log.info(
        "serving %s (%s %s); %d territory actors created", root.name, root.level, root.code, created
    )
    return root


async def territory_actor(conn: Connection, territory: Territory, *, keygen: KeyGenerator) -> Actor:
    """The actor of a served territory, created if needed, with its keys."""
    actor = await actor_queries.select_territory_actor(conn, territory.id)
    if actor is None:
        await ensure_actors(conn, [territory])
        actor = await actor_queries.select_territory_actor(conn, territory.id)
    assert actor is not None
    return await with_keys(conn, actor, keygen=keygen)


async def locate_and_announce(
    conn: Connection,
    *,
    item: NewItem,
    activity_uri: str,
    root: Territory | None,
    urls: Urls,
    clock: Clock,
    keygen: KeyGenerator,
) -> LocatedItem | None:
    """Locate a local public item, and have each served territory it is in announce it.

    Territory pages, scope queries and announces are public, so a non-public activity is neither
    located nor announced (None).
    """
    if root is None or not await is_served(conn, root, item.territory_id):
        raise TerritoryError("not_served", "this territory is not served by this instance")
    activity = await delivery_queries.select_activity(conn, activity_uri)
    if activity is None:
        return None
    located = await located_queries.upsert_item(conn, item)
    if await moderation_queries.select_restriction(conn, item.author_uri) is not None:
        return located  # a silenced account is not announced by the territories
    for territory in await queries.select_served_ancestors(conn, root.id, item.territory_id):
        actor = await territory_actor(conn, territory, keygen=keygen)
        document: dict[str, Any] = announce(actor, activity, urls, urls.activity(new_token()))
        await publish(
            conn,
            actor=actor,
            activity=document,
            audience=Audience(followers=True),
            urls=urls,
            clock=clock,
        )
    return located


async def write_note(
    conn: Connection,
    *,
    actor: Actor,
    text: str,
    visibility: str,
    place: Territory | None,
    root: Territory | None,
    urls: Urls,
    clock: Clock,
    keygen: KeyGenerator,
    local_host: str,
    resolved: dict[tuple[str, str], Mention],
    summary: str = "",
    in_reply_to: Post | None = None,
    language: str | None = None,
) -> Post:
    """Write a note, located in `place` when given: a public one is announced by its territory.

    One transaction: the post, its Create, its location and the territories' Announces.
    """
    # Only public posts are located and announced (territory pages and announces are public),
    # and the territory is the post's audience only when it announces it.
    announced_in = place if place is not None and visibility == "public" else None
    async with conn.transaction():
        place_actor = (
            await territory_actor(conn, announced_in, keygen=keygen) if announced_in else None
        )
        post = await posts.create_note(
            conn,
            actor=actor,
            text=text,
            visibility=visibility,
            urls=urls,
            clock=clock,
            local_host=local_host,
            resolved=resolved,
            summary=summary,
            in_reply_to=in_reply_to,
            language=language,
            audience=urls.actor(place_actor.username) if place_actor else None,
        )
        if announced_in is not None:
            await locate_and_announce(
                conn,
                item=_note_item(post, announced_in, local_host),
                activity_uri=urls.create_activity(post.uri),
                root=root,
                urls=urls,
                clock=clock,
                keygen=keygen,
            )
    return post


def _note_item(post: Post, place: Territory, local_host: str) -> NewItem:
    """A local note as an item of the territory it was written in, at the territory's centre."""
    return NewItem(
        object_uri=post.uri,
        kind="post",
        territory_id=place.id,
        title="",
        summary=html_to_text(post.content_html)[:500],
        url=post.uri,
        author_uri=post.author_uri,
        origin_host=local_host,
        published=post.published,
        latitude=place.latitude,
        longitude=place.longitude,
    )
