"""Inbound Follow, Accept, Reject and Undo(Follow): the handlers the router calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import get_id, get_object
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors.context import InboundContext
from fedicity.actors.service import local_actor_for_uri, with_keys
from fedicity.follows import queries
from fedicity.follows.service import notify_follow, send_answer


async def on_follow(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote actor follows a local one: accepted at once unless approved by hand."""
    target = await local_actor_for_uri(ctx.conn, ctx.urls, get_id(activity.get("object")))
    if target is None:
        return Outcome.ignored("the followed actor is not local")
    if target.kind == "application":
        await send_answer(
            ctx.conn,
            actor=target,
            follower=ctx.actor_uri,
            follow_uri=get_id(activity),
            accept=False,
            urls=ctx.urls,
            clock=ctx.clock,
        )
        return Outcome.done("the instance actor cannot be followed")
    if await queries.refuses(ctx.conn, target.id, ctx.actor_uri):
        # As Mastodon does: a blocked actor's (or blocked domain's) Follow is answered Reject.
        await send_answer(
            ctx.conn,
            actor=target,
            follower=ctx.actor_uri,
            follow_uri=get_id(activity),
            accept=False,
            urls=ctx.urls,
            clock=ctx.clock,
        )
        return Outcome.done("refused: the followed actor blocks the follower")
    target = await with_keys(ctx.conn, target, keygen=ctx.keygen)
    accepted = not target.manually_approves_followers
    await queries.upsert_follow(
        ctx.conn,
        follower=ctx.actor_uri,
        followee=ctx.urls.actor(target.username),
        activity_uri=get_id(activity),
        accepted=accepted,
        now=ctx.clock.now(),
    )
    await notify_follow(ctx.conn, target, follower=ctx.actor_uri, urls=ctx.urls, clock=ctx.clock)
    if accepted:
        await send_answer(
            ctx.conn,
            actor=target,
            follower=ctx.actor_uri,
            follow_uri=get_id(activity),
            accept=True,
            urls=ctx.urls,
            clock=ctx.clock,
        )
        return Outcome.done("accepted")
    return Outcome.done("awaiting approval")


async def _our_follow(ctx: InboundContext, activity: Mapping[str, Any]) -> queries.Follow | None:
    # The object is our Follow, embedded (Mastodon) or by id (some servers); either way the
    # answering actor must be the one we asked to follow.
    embedded = get_object(activity)
    follow_uri = get_id(activity.get("object"))
    found = None
    if follow_uri is not None:
        found = await queries.select_follow_by_activity(ctx.conn, follow_uri)
    if found is None and embedded is not None:
        follower = get_id(embedded.get("actor"))
        if follower is not None:
            found = await queries.select_follow(ctx.conn, follower, ctx.actor_uri)
    if found is None or found.followee != ctx.actor_uri:
        return None
    return found


async def on_accept(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Our follow request was accepted."""
    found = await _our_follow(ctx, activity)
    if found is None:
        return Outcome.ignored("no follow of ours matches this Accept")
    await queries.accept_follow(ctx.conn, found.id, ctx.clock.now())
    return Outcome.done()


async def on_reject(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Our follow request was refused, or an accepted follow was ended by the followee."""
    found = await _our_follow(ctx, activity)
    if found is None:
        return Outcome.ignored("no follow of ours matches this Reject")
    await queries.delete_follow(ctx.conn, found.follower, found.followee)
    return Outcome.done()


async def on_undo_follow(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A follower stops following."""
    embedded = get_object(activity)
    followee = get_id(embedded.get("object")) if embedded is not None else None
    if followee is None:
        return Outcome.ignored("the Undo does not say whom it unfollows")
    if get_id(embedded.get("actor")) not in (None, ctx.actor_uri) if embedded else False:
        return Outcome.ignored("only the follower can undo a follow")
    removed = await queries.delete_follow(ctx.conn, ctx.actor_uri, followee)
    return Outcome.done() if removed else Outcome.ignored("there was no such follow")


async def undo_follow_by_id(ctx: InboundContext, activity_uri: str) -> Outcome | None:
    """An Undo naming the follower's Follow by its id only; None when it names no follow here."""
    removed = await queries.delete_follow_by_activity(ctx.conn, ctx.actor_uri, activity_uri)
    return Outcome.done() if removed else None


async def forget_actor(ctx: InboundContext) -> None:
    """A remote actor deleted itself: its follows, both ways, go too."""
    await queries.delete_follows_of(ctx.conn, ctx.actor_uri)


def register(router: Router[InboundContext]) -> None:
    """Add the follow handlers to the routing table."""
    router.register("Follow")(on_follow)
    router.register("Accept")(on_accept)
    router.register("Reject")(on_reject)
    router.register("Undo", "Follow")(on_undo_follow)
