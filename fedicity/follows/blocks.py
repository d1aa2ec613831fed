"""A local actor's own controls over others: block and mute actors, block domains, hide an
account's boosts. Blocking ends the follows both ways and, for a remote actor, federates a
`Block` as Mastodon does; the rest is private to the owner. The feed, threads, hashtag and
territory pages and notifications read these lists through one SQL fragment
(located/queries.py viewer_hides)."""

from __future__ import annotations

import re

from fedicity.activitypub.accessors import host_of
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.actors.service import local_actor_for_uri
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.follows import queries
from fedicity.follows.document import block_activity, undo_block_activity, undo_follow_activity
from fedicity.follows.queries import Follow
from fedicity.follows.service import send_answer
from fedicity.urls import Urls, new_token

# A host name in ASCII (IDNA), with an optional port: what host_of() gives for an actor's id.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?")
MAX_DOMAIN = 253


class BlockError(DomainError):
    """A block, mute or domain block was refused; `code` says why."""


async def _checked_target(conn: Connection, owner: Actor, target: str, urls: Urls) -> bool:
    """Whether `target` is local, once it is known to be an actor other than the owner."""
    if target == urls.actor(owner.username):
        raise BlockError("block_self", "one cannot block or mute oneself")
    if await local_actor_for_uri(conn, urls, target) is not None:
        return True
    if await actor_queries.select_remote_actor(conn, target) is None:
        raise BlockError("block_unknown", "no actor with this id is known here")
    return False


def _is_local(uri: str, urls: Urls) -> bool:
    return host_of(uri) == host_of(urls.base)


async def _end_follows(
    conn: Connection, owner: Actor, follows: list[Follow], *, urls: Urls, clock: Clock
) -> None:
    """Remove these follows of the owner, either way; remote actors are told, as Mastodon does:
    Undo(Follow) for the owner's follows, Reject for theirs (accepted or still asked)."""
    me = urls.actor(owner.username)
    for follow in follows:
        await queries.delete_follow(conn, follow.follower, follow.followee)
        other = follow.followee if follow.follower == me else follow.follower
        if _is_local(other, urls):
            continue
        if follow.follower == me:
            await publish(
                conn,
                actor=owner,
                activity=undo_follow_activity(
                    urls.activity(new_token()),
                    follow_uri=follow.activity_uri or urls.activity(new_token()),
                    follower=me,
                    followee=other,
                ),
                audience=Audience(frozenset({other})),
                urls=urls,
                clock=clock,
            )
        else:
            await send_answer(
                conn,
                actor=owner,
                follower=other,
                follow_uri=follow.activity_uri,
                accept=False,
                urls=urls,
                clock=clock,
            )


async def block(conn: Connection, *, owner: Actor, target: str, urls: Urls, clock: Clock) -> bool:
    """Block an actor: follows end both ways, a remote one is sent a Block; whether it is new."""
    local = await _checked_target(conn, owner, target, urls)
    me = urls.actor(owner.username)
    activity_uri = urls.activity(new_token())
    async with conn.transaction():
        added = await queries.insert_user_block(
            conn, owner_id=owner.id, target=target, activity_uri=activity_uri, now=clock.now()
        )
        if not added:
            return False
        follows = await queries.select_follows_between(conn, me, target)
        await _end_follows(conn, owner, follows, urls=urls, clock=clock)
        if not local:
            await publish(
                conn,
                actor=owner,
                activity=block_activity(activity_uri, blocker=me, blocked=target),
                audience=Audience(frozenset({target})),
                urls=urls,
                clock=clock,
            )
    return True


async def unblock(conn: Connection, *, owner: Actor, target: str, urls: Urls, clock: Clock) -> bool:
    """Lift a block; a remote actor is sent Undo(Block). Whether there was a block."""
    me = urls.actor(owner.username)
    async with conn.transaction():
        block_uri = await queries.delete_user_block(conn, owner.id, target)
        if block_uri is None:
            return False
        if not _is_local(target, urls):
            await publish(
                conn,
                actor=owner,
                activity=undo_block_activity(
                    urls.activity(new_token()), block_uri=block_uri, blocker=me, blocked=target
                ),
                audience=Audience(frozenset({target})),
                urls=urls,
                clock=clock,
            )
    return True


async def mute(
    conn: Connection,
    *,
    owner: Actor,
    target: str,
    notifications: bool,
    urls: Urls,
    clock: Clock,
) -> None:
    """Mute an actor: their posts and boosts leave the owner's feed (and, when `notifications`,
    their notifications); nothing is sent, they are not told."""
    await _checked_target(conn, owner, target, urls)
    await queries.upsert_user_mute(
        conn, owner_id=owner.id, target=target, notifications=notifications, now=clock.now()
    )


async def unmute(conn: Connection, *, owner: Actor, target: str) -> bool:
    """Unmute; whether there was a mute."""
    return await queries.delete_user_mute(conn, owner.id, target)


async def hide_boosts(
    conn: Connection, *, owner: Actor, target: str, urls: Urls, clock: Clock
) -> bool:
    """Keep an account's boosts out of the owner's feed (its own posts stay); whether new."""
    await _checked_target(conn, owner, target, urls)
    return await queries.insert_hidden_boosts(
        conn, owner_id=owner.id, target=target, now=clock.now()
    )


async def show_boosts(conn: Connection, *, owner: Actor, target: str) -> bool:
    """Show an account's boosts again; whether they were hidden."""
    return await queries.delete_hidden_boosts(conn, owner.id, target)


def normalized_domain(typed: str) -> str:
    """A typed domain (a host, host:port, an address or a handle's end) as host_of() gives it,
    or BlockError("domain_invalid")."""
    text = typed.strip().lower()
    if "://" not in text:
        text = "https://" + text.rsplit("@", 1)[-1].split("/", 1)[0]
    host = host_of(text) if len(text) <= 2 * MAX_DOMAIN else ""
    name, colon, port = host.partition(":")
    try:
        ascii_name = name.encode("idna").decode("ascii") if name else ""
    except UnicodeError:
        ascii_name = ""
    host = ascii_name + colon + port
    if not host or len(host) > MAX_DOMAIN or _DOMAIN.fullmatch(host) is None:
        raise BlockError("domain_invalid", "not a domain name")
    return host


async def block_domain(
    conn: Connection, *, owner: Actor, typed: str, urls: Urls, clock: Clock
) -> str:
    """Hide a whole domain from the owner and end the follows with its actors, either way (they
    are told with Undo(Follow) and Reject, as Mastodon does; no Block is sent). The domain."""
    domain = normalized_domain(typed)
    if domain == host_of(urls.base):
        raise BlockError("domain_own", "one cannot block one's own server")
    async with conn.transaction():
        added = await queries.insert_user_domain_block(
            conn, owner_id=owner.id, domain=domain, now=clock.now()
        )
        if added:
            follows = await queries.select_follows_with_domain(
                conn, urls.actor(owner.username), domain
            )
            await _end_follows(conn, owner, follows, urls=urls, clock=clock)
    return domain


async def unblock_domain(conn: Connection, *, owner: Actor, domain: str) -> bool:
    """Lift a domain block; whether there was one."""
    return await queries.delete_user_domain_block(conn, owner.id, domain)
