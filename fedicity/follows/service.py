"""Following and being followed, for local actors."""

from __future__ import annotations

from typing import Any

from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.actors.service import local_actor_for_uri
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.follows import queries
from fedicity.follows.document import answer_activity, follow_activity, undo_follow_activity
from fedicity.notifications.service import notify
from fedicity.urls import Urls, new_token


class FollowError(DomainError):
    """A follow operation was refused."""


async def follow(
    conn: Connection, *, actor: Actor, target: str, urls: Urls, clock: Clock
) -> dict[str, Any]:
    """Ask to follow `target` (any actor URI); the follow stays pending until it is accepted."""
    me = urls.actor(actor.username)
    if target == me:
        raise FollowError("follow_self", "an actor cannot follow itself")
    followed = await local_actor_for_uri(conn, urls, target)
    if await queries.refuses(conn, actor.id, target) or (
        followed is not None and await queries.refuses(conn, followed.id, me)
    ):
        raise FollowError("follow_blocked", "a block stands between these actors")
    activity_uri = urls.activity(new_token())
    activity = follow_activity(activity_uri, follower=me, followee=target)
    async with conn.transaction():
        await queries.upsert_follow(
            conn,
            follower=me,
            followee=target,
            activity_uri=activity_uri,
            accepted=False,
            now=clock.now(),
        )
        await publish(
            conn,
            actor=actor,
            activity=activity,
            audience=Audience(frozenset({target})),
            urls=urls,
            clock=clock,
        )
        if followed is not None:
            await notify_follow(conn, followed, follower=me, urls=urls, clock=clock)
    return activity


async def notify_follow(
    conn: Connection, followed: Actor, *, follower: str, urls: Urls, clock: Clock
) -> None:
    """Tell a local actor they have a new follower, or a request to approve."""
    await notify(
        conn,
        recipient=urls.actor(followed.username),
        kind="follow_request" if followed.manually_approves_followers else "follow",
        actor_uri=follower,
        object_uri=follower,
        urls=urls,
        clock=clock,
    )


async def unfollow(
    conn: Connection, *, actor: Actor, target: str, urls: Urls, clock: Clock
) -> bool:
    """Stop following `target`, telling it with Undo(Follow); whether there was a follow."""
    me = urls.actor(actor.username)
    async with conn.transaction():
        existing = await queries.select_follow(conn, me, target)
        if existing is None:
            return False
        await queries.delete_follow(conn, me, target)
        await publish(
            conn,
            actor=actor,
            activity=undo_follow_activity(
                urls.activity(new_token()),
                follow_uri=existing.activity_uri or urls.activity(new_token()),
                follower=me,
                followee=target,
            ),
            audience=Audience(frozenset({target})),
            urls=urls,
            clock=clock,
        )
    return True


async def answer_request(
    conn: Connection,
    *,
    actor: Actor,
    follower: str,
    accept: bool,
    urls: Urls,
    clock: Clock,
) -> bool:
    """Accept or reject a pending follow request; whether there was one."""
    me = urls.actor(actor.username)
    async with conn.transaction():
        existing = await queries.select_follow(conn, follower, me)
        if existing is None:
            return False
        if accept:
            await queries.accept_follow(conn, existing.id, clock.now())
        else:
            await queries.delete_follow(conn, follower, me)
        await send_answer(
            conn,
            actor=actor,
            follower=follower,
            follow_uri=existing.activity_uri,
            accept=accept,
            urls=urls,
            clock=clock,
        )
    return True


async def send_answer(
    conn: Connection,
    *,
    actor: Actor,
    follower: str,
    follow_uri: str | None,
    accept: bool,
    urls: Urls,
    clock: Clock,
) -> None:
    """Send Accept or Reject of a Follow, embedding the Follow as Mastodon expects."""
    me = urls.actor(actor.username)
    await publish(
        conn,
        actor=actor,
        activity=answer_activity(
            urls.activity(new_token()),
            followee=me,
            follower=follower,
            follow_uri=follow_uri,
            accept=accept,
        ),
        audience=Audience(frozenset({follower})),
        urls=urls,
        clock=clock,
    )


async def accept_waiting_requests(
    conn: Connection, *, actor: Actor, urls: Urls, clock: Clock, batch: int = 500
) -> int:
    """Accept every follow request waiting for an actor that no longer approves followers by
    hand (Mastodon does so when an account is unlocked), each follower sent its Accept; how
    many, in the caller's transaction."""
    me = urls.actor(actor.username)
    accepted = 0
    while pending := await queries.select_pending_requests(conn, me, limit=batch):
        for follow in pending:
            await queries.accept_follow(conn, follow.id, clock.now())
            await send_answer(
                conn,
                actor=actor,
                follower=follow.follower,
                follow_uri=follow.activity_uri,
                accept=True,
                urls=urls,
                clock=clock,
            )
            accepted += 1
    return accepted
