"""Following a room, and what a room's news reaches.

A room is not an actor: a local citizen follows it from its page, a remote actor sends
`Follow{object: <room>}` to the owner's inbox and the owner's actor (the organisation, or the
territory) answers `Accept`. Every activity of the room's proposals, resolutions and actions goes
to the owner's followers and to the room's remote followers; its local followers are notified.
"""

from __future__ import annotations

from typing import Any

from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.db.pool import Connection
from fedicity.notifications.models import Kind
from fedicity.notifications.service import notify
from fedicity.proposals import followup_queries as queries
from fedicity.proposals.document import room_follow_answer
from fedicity.proposals.models import Room
from fedicity.proposals.service import Env, ProposalError, check_room_access
from fedicity.urls import new_token


async def owner_actor(conn: Connection, room: Room) -> Actor | None:
    """The actor that speaks for a room: its organisation, or its territory's actor."""
    if room.organization_id is not None:
        return await actor_queries.select_actor_by_id(conn, room.organization_id)
    assert room.territory_id is not None
    return await actor_queries.select_territory_actor(conn, room.territory_id)


async def follow(conn: Connection, *, room: Room, actor: Actor, env: Env) -> bool:
    """A local citizen follows a room they may enter; whether the follow is new."""
    me = env.urls.actor(actor.username)
    await check_room_access(conn, room, me)
    return await queries.upsert_room_follow(
        conn, room_id=room.id, follower_uri=me, local=True, activity_uri=None, now=env.clock.now()
    )


async def unfollow(conn: Connection, *, room: Room, actor: Actor, env: Env) -> bool:
    """A local citizen stops following a room; whether they followed it."""
    return await queries.delete_room_follow(conn, room.id, env.urls.actor(actor.username))


async def receive_follow(
    conn: Connection, *, room: Room, follower: str, follow_uri: str | None, env: Env
) -> None:
    """A remote actor's Follow of a room: kept, and accepted by the room's owner (a
    members-only room is for members: refused)."""
    owner = await owner_actor(conn, room)
    if owner is None:
        raise ProposalError("room_unknown", "this room has no actor to answer for it")
    await check_room_access(conn, room, follower)
    await queries.upsert_room_follow(
        conn,
        room_id=room.id,
        follower_uri=follower,
        local=False,
        activity_uri=follow_uri,
        now=env.clock.now(),
    )
    await publish(
        conn,
        actor=owner,
        activity=room_follow_answer(
            env.urls.activity(new_token()),
            owner=env.urls.actor(owner.username),
            follower=follower,
            follow_uri=follow_uri,
            room_uri=room.uri,
        ),
        audience=Audience(frozenset({follower})),
        urls=env.urls,
        clock=env.clock,
        keygen=env.keygen,
    )


async def remote_followers(conn: Connection, room_id: int | None) -> frozenset[str]:
    """The remote followers of a room (none without a room)."""
    if room_id is None:
        return frozenset()
    return frozenset(await queries.select_room_followers(conn, room_id, local=False))


async def tell_local_followers(
    conn: Connection, *, room_id: int | None, kind: Kind, actor_uri: str, object_uri: str, env: Env
) -> None:
    """Notify a room's local followers of one of its news."""
    if room_id is None:
        return
    for follower in await queries.select_room_followers(conn, room_id, local=True):
        await notify(
            conn,
            recipient=follower,
            kind=kind,
            actor_uri=actor_uri,
            object_uri=object_uri,
            urls=env.urls,
            clock=env.clock,
        )


async def publish_in_room(
    conn: Connection,
    *,
    room: Room,
    owner: Actor,
    activity: dict[str, Any],
    env: Env,
    kind: Kind | None,
    object_uri: str,
) -> None:
    """An activity of a room's owner about the room's news: to the owner's followers and the
    room's remote followers; its local followers notified (`kind`, when it is news to them)."""
    await publish(
        conn,
        actor=owner,
        activity=activity,
        audience=Audience(await remote_followers(conn, room.id), followers=True),
        urls=env.urls,
        clock=env.clock,
        keygen=env.keygen,
    )
    if kind is not None:
        await tell_local_followers(
            conn,
            room_id=room.id,
            kind=kind,
            actor_uri=env.urls.actor(owner.username),
            object_uri=object_uri,
            env=env,
        )
