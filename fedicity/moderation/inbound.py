"""Inbound Flag (reports), Block, and Move (account migration, recorded with its proof): the
handlers the router calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import get_id, get_ids, get_object, get_str, host_of
from fedicity.activitypub.inbox import synthetic_id
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors import queries as actor_queries
from fedicity.actors.context import InboundContext
from fedicity.actors.models import RemoteActor
from fedicity.actors.service import local_actor_for_uri
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follow_service
from fedicity.moderation import queries
from fedicity.moderation.policy import rejects_reports
from fedicity.moderation.reports import MAX_TARGETS


def report_uri(activity: Mapping[str, Any]) -> str:
    """The key a received Flag is kept under."""
    return _activity_uri(activity)


def _activity_uri(activity: Mapping[str, Any]) -> str:
    # Reports and blocks are kept once each: one sent without an id is keyed on its content.
    return get_id(activity) or synthetic_id(repr(sorted(activity.items())).encode())


async def on_flag(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A report from another server, kept for the admins (reason in content or summary)."""
    if await rejects_reports(ctx.conn, host_of(ctx.actor_uri)):
        return Outcome.ignored("reports from this domain are rejected by the instance's policy")
    # A report names an account and some of its posts; a Flag naming thousands is not one more
    # useful, and every look at the queue would read them all.
    targets = get_ids(activity.get("object"))[:MAX_TARGETS]
    if not targets:
        return Outcome.ignored("the Flag names nothing")
    content = get_str(activity, "content") or get_str(activity, "summary") or ""
    await queries.insert_report(
        ctx.conn,
        activity_uri=_activity_uri(activity),
        reporter=ctx.actor_uri,
        targets=targets,
        content=content[:5000],
        raw=dict(activity),
        now=ctx.clock.now(),
    )
    return Outcome.done()


async def on_block(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote actor blocks a local one: the follows between them end."""
    if get_id(activity.get("target")) is not None:
        # Lemmy bans a person from a community (or its whole site) with a Block whose target is
        # that community: a moderator's decision there, not one person blocking another.
        return Outcome.ignored("a ban from a community or site, not a personal block")
    blocked = await local_actor_for_uri(ctx.conn, ctx.urls, get_id(activity.get("object")))
    if blocked is None:
        return Outcome.ignored("the blocked actor is not local (or a community-scoped ban)")
    blocked_uri = ctx.urls.actor(blocked.username)
    await queries.insert_block(
        ctx.conn,
        activity_uri=_activity_uri(activity),
        blocker=ctx.actor_uri,
        blocked=blocked_uri,
        now=ctx.clock.now(),
    )
    await follow_queries.delete_follow(ctx.conn, ctx.actor_uri, blocked_uri)
    await follow_queries.delete_follow(ctx.conn, blocked_uri, ctx.actor_uri)
    return Outcome.done()


async def on_undo_block(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """The block is lifted."""
    embedded = get_object(activity)
    blocked = get_id(embedded.get("object")) if embedded else None
    if blocked is None:
        return Outcome.ignored("the Undo does not say whom it unblocks")
    removed = await queries.delete_block(ctx.conn, blocker=ctx.actor_uri, blocked=blocked)
    return Outcome.done() if removed else Outcome.ignored("no such block")


async def on_move(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Account migration: honoured only when the target lists the origin in alsoKnownAs."""
    origin = get_id(activity.get("object")) or ctx.actor_uri
    target = get_id(activity.get("target"))
    activity_uri = get_id(activity)
    if origin != ctx.actor_uri or target is None or activity_uri is None:
        return Outcome.ignored("a Move must move its own actor to a target")
    resolved = await ctx.directory.actor(target, refresh=True)
    verified = isinstance(resolved, RemoteActor) and origin in resolved.also_known_as
    await queries.insert_move(
        ctx.conn, activity_uri=activity_uri, origin=origin, target=target, verified=verified
    )
    if not verified:
        return Outcome.ignored("the target does not list the origin in alsoKnownAs")
    await actor_queries.update_remote_actor_moved(ctx.conn, origin, target)
    local_prefix = ctx.urls.actor("")
    for follower in await follow_queries.select_local_followers_of(ctx.conn, origin, local_prefix):
        local = await local_actor_for_uri(ctx.conn, ctx.urls, follower)
        if local is None:
            continue
        await follow_queries.delete_follow(ctx.conn, follower, origin)
        try:
            await follow_service.follow(
                ctx.conn, actor=local, target=target, urls=ctx.urls, clock=ctx.clock
            )
        except follow_service.FollowError:
            continue  # the follower blocks the new account (or its domain): no follow

    return Outcome.done("followers migrated")


def register(router: Router[InboundContext]) -> None:
    """Add the moderation handlers to the routing table (Flag is routed through
    stewardship/inbound.py, which places the report)."""
    router.register("Block")(on_block)
    router.register("Undo", "Block")(on_undo_block)
