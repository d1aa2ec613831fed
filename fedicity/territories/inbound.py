"""Federated aggregation: what remote territory actors announce lands in our scope queries (the
handler the router calls)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import get_id, get_object, get_type, host_of
from fedicity.activitypub.fetch import FetchError
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors import queries as actor_queries
from fedicity.actors.context import InboundContext
from fedicity.actors.models import RemoteActor
from fedicity.follows import queries as follow_queries
from fedicity.located import queries as located_queries
from fedicity.located.models import NewItem
from fedicity.posts import queries as post_queries
from fedicity.posts.models import Post, PostData
from fedicity.posts.parse import post_from_ap
from fedicity.sanitize import html_to_text
from fedicity.territories import queries
from fedicity.territories.models import Territory
from fedicity.territories.parse import claimed_territories


async def territory_of(ctx: InboundContext, group: RemoteActor) -> Territory | None:
    """The territory a remote territory actor stands for, or its nearest known parent."""
    for level, code in claimed_territories(group.raw):
        found = await queries.select_territory(ctx.conn, level, code)
        if found is not None:
            return found
    return None


async def on_announce_activity(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A followed territory actor re-shares a Create: keep the post, located in its territory."""
    inner = get_object(activity)
    if inner is None or get_type(inner) != "Create":
        return Outcome.ignored("not an announced Create")
    group = await actor_queries.select_remote_actor(ctx.conn, ctx.actor_uri)
    if group is None or group.type != "Group":
        return Outcome.ignored("only territory actors' announces are aggregated")
    local_prefix = ctx.urls.actor("")
    if not await follow_queries.select_local_followers_of(ctx.conn, ctx.actor_uri, local_prefix):
        return Outcome.ignored("nobody here follows this territory actor")
    data = await _announced_post(ctx, inner)
    if isinstance(data, Outcome):
        return data
    post = await post_queries.upsert_post(ctx.conn, data)
    territory = await territory_of(ctx, group)
    if territory is None:
        return Outcome.done("stored, but its territory is unknown here")
    await located_queries.upsert_item(ctx.conn, _located(post, territory, via=ctx.actor_uri))
    return Outcome.done(f"located in {territory.level} {territory.code}")


async def _announced_post(ctx: InboundContext, create: Mapping[str, Any]) -> PostData | Outcome:
    """The public post an announced Create carries, or why it is not aggregated."""
    author = get_id(create.get("actor"))
    document = get_object(create)
    object_uri = get_id(create.get("object"))
    if author is None or object_uri is None:
        return Outcome.ignored("the announced Create has no actor or object")
    if document is None or host_of(object_uri) != host_of(ctx.actor_uri):
        # Only the announcer's own server can vouch for an embedded copy; fetch the rest.
        fetched = await ctx.directory.fetcher.document(object_uri)
        if isinstance(fetched, FetchError):
            return Outcome.ignored(f"cannot fetch the announced object: {fetched.detail}")
        document = fetched.document
    if get_id(document.get("attributedTo")) not in (None, author):
        return Outcome.ignored("the announced object is not by the Create's actor")
    data = post_from_ap(document, author=author, followers_uri=None, now=ctx.clock.now())
    if isinstance(data, str):
        return Outcome.ignored(data)
    if data.visibility != "public":
        return Outcome.ignored("only public items are aggregated")
    return data


async def on_undo_announce(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A territory actor takes back its own Announce of a Create (a co-moderation vote hid the
    object there): the item located here through it leaves our pages; a new Announce brings it
    back. Only items that actor located are touched."""
    announce = get_object(activity)
    if announce is None or get_type(announce) != "Announce":
        return Outcome.ignored("not an Undo of an Announce")
    if get_id(announce.get("actor")) not in (None, ctx.actor_uri):
        return Outcome.ignored("not the actor's own Announce")
    inner = get_object(announce)
    object_uri = get_id(inner.get("object")) if inner and get_type(inner) == "Create" else None
    if object_uri is None:
        return Outcome.ignored("no such boost, and no announced Create")
    if not await located_queries.mark_deleted_via(
        ctx.conn, object_uri, via=ctx.actor_uri, when=ctx.clock.now()
    ):
        return Outcome.ignored("nothing here was located through this actor's Announce")
    return Outcome.done("taken off the territory's pages")


def _located(post: Post, territory: Territory, *, via: str) -> NewItem:
    """A remote post as an item of the territory its announcer stands for."""
    return NewItem(
        object_uri=post.uri,
        kind="post",
        territory_id=territory.id,
        title=(post.name or "")[:200],
        summary=html_to_text(post.content_html)[:500],
        url=post.url or post.uri,
        author_uri=post.author_uri,
        origin_host=host_of(post.uri),
        published=post.published,
        via=via,
    )


def register(router: Router[InboundContext]) -> None:
    """Add the aggregation handler to the routing table."""
    router.register("Announce", "Create")(on_announce_activity)
