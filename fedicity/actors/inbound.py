"""Inbound activities about actors themselves: Update (profile and keys), Delete, Move."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import get_id, get_object
from fedicity.activitypub.routing import Outcome
from fedicity.actors import queries
from fedicity.actors.models import RemoteActor
from fedicity.actors.remote_parse import ACTOR_TYPES
from fedicity.follows import queries as follow_queries
from fedicity.inbound.context import InboundContext
from fedicity.posts import queries as post_queries


async def on_update_actor(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote actor changed its profile or key: store the new document."""
    document = get_object(activity)
    if document is None or get_id(document) != ctx.actor_uri:
        return Outcome.ignored("an actor can only update itself")
    stored = await ctx.directory.store(document)
    if not isinstance(stored, RemoteActor):
        return Outcome.ignored(stored.detail)
    return Outcome.done()


async def on_delete_actor(ctx: InboundContext) -> Outcome:
    """A remote actor deleted itself: forget its key, follows and posts."""
    now = ctx.clock.now()
    await queries.mark_remote_actor_deleted(ctx.conn, ctx.actor_uri, now)
    await follow_queries.delete_follows_of(ctx.conn, ctx.actor_uri)
    await post_queries.delete_posts_of(ctx.conn, ctx.actor_uri, now)
    return Outcome.done()


async def on_move(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Account migration: honoured only when the target lists the origin in alsoKnownAs."""
    from fedicity.actors import service as actor_service
    from fedicity.follows import service as follow_service
    from fedicity.moderation import queries as moderation_queries

    origin = get_id(activity.get("object")) or ctx.actor_uri
    target = get_id(activity.get("target"))
    activity_uri = get_id(activity)
    if origin != ctx.actor_uri or target is None or activity_uri is None:
        return Outcome.ignored("a Move must move its own actor to a target")
    resolved = await ctx.directory.actor(target, refresh=True)
    verified = isinstance(resolved, RemoteActor) and origin in resolved.also_known_as
    await moderation_queries.insert_move(
        ctx.conn, activity_uri=activity_uri, origin=origin, target=target, verified=verified
    )
    if not verified:
        return Outcome.ignored("the target does not list the origin in alsoKnownAs")
    await queries.update_remote_actor_moved(ctx.conn, origin, target)
    local_prefix = ctx.urls.actor("")
    for follower in await follow_queries.select_local_followers_of(ctx.conn, origin, local_prefix):
        local = await actor_service.local_actor_for_uri(ctx.conn, ctx.urls, follower)
        if local is None:
            continue
        await follow_queries.delete_follow(ctx.conn, follower, origin)
        await follow_service.follow(
            ctx.conn, actor=local, target=target, urls=ctx.urls, clock=ctx.clock
        )
    return Outcome.done("followers migrated")


def is_actor_document(document: Mapping[str, Any] | None) -> bool:
    """Whether an embedded object is an actor."""
    from fedicity.activitypub.accessors import get_type

    return document is not None and get_type(document) in ACTOR_TYPES
