"""Closing an account, as Mastodon does it: one Delete of the actor to every server that knows
it, and here a tombstone.

In one transaction: the Delete (signed later by the delivery worker with the actor's key, which
stays for that) is queued for the inboxes of the actor's followers, of those it follows, and of
those who liked, shared, answered or were mentioned in its posts; its posts become tombstones;
its events are deleted; its likes and shares, participations, memberships, notifications, follows
and published activities are removed; its actor is emptied and marked deleted; its login goes,
and with it every session and reset link. After the commit, the files it uploaded that nothing
else shows are removed from disk. Its listings are deleted with its events.

The actor's id then answers 410 Gone with a Tombstone, and its username is never given again
(the row keeps it: sign-up finds it taken). Proposals, ballots and comments stay with the
proposals they belong to: they are the community's record, now signed by a deleted account.

A person who is the only admin of an organisation cannot close their account until they name
another admin: an organisation nobody can run would be left behind.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fedicity.accounts import queries
from fedicity.accounts.models import Account
from fedicity.accounts.service import AccountError
from fedicity.activitypub.dates import format_datetime
from fedicity.actors import queries as actor_queries
from fedicity.actors.document import delete_actor
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection, Pool
from fedicity.follows import queries as follow_queries
from fedicity.listings import queries as listing_queries
from fedicity.media.service import file_path
from fedicity.organizations import queries as organization_queries
from fedicity.posts import queries as post_queries
from fedicity.urls import Urls

# Servers beyond the followers' that are told (one delivery per distinct inbox).
MAX_ACQUAINTANCES = 10_000


class ClosingRefused(AccountError):
    """The account cannot be closed yet; `organizations` are those it alone administers."""

    def __init__(self, organizations: list[Actor]) -> None:
        super().__init__("sole_admin", "name another admin of your organisations first")
        self.organizations = organizations


async def sole_admin_of(conn: Connection, urls: Urls, actor: Actor) -> list[Actor]:
    """The organisations of which this actor is the only admin."""
    found: list[Actor] = []
    for organization_id, role in await organization_queries.select_organizations_of(
        conn, urls.actor(actor.username)
    ):
        if role != "admin" or await organization_queries.count_admins(conn, organization_id) > 1:
            continue
        organization = await actor_queries.select_actor_by_id(conn, organization_id)
        if organization is not None and organization.deleted_at is None:
            found.append(organization)
    return found


async def close_account(
    db: Pool, account: Account, *, urls: Urls, clock: Clock, data_dir: Path
) -> Actor:
    """Close the account (see the module's docstring); ClosingRefused while it alone runs an
    organisation. The caller has checked the password."""
    now = clock.now()
    async with db.acquire() as conn, conn.transaction():
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
        if actor is None or actor.deleted_at is not None:
            raise AccountError("actor_missing", "this account is already closed")
        lonely = await sole_admin_of(conn, urls, actor)
        if lonely:
            raise ClosingRefused(lonely)
        me = urls.actor(actor.username)
        acquainted = await queries.select_acquainted_remote_actors(
            conn, me, limit=MAX_ACQUAINTANCES
        )
        await queries.delete_own_activities(conn, actor.id)
        # Queued before the follows go: `followers` is read from them now.
        await publish(
            conn,
            actor=actor,
            activity=delete_actor(me, format_datetime(now)),
            audience=Audience(actors=frozenset(acquainted), followers=True),
            urls=urls,
            clock=clock,
        )
        await post_queries.delete_posts_of(conn, me, now)
        await listing_queries.delete_listings_of(conn, me, now)
        await queries.delete_traces(conn, actor.id, me, now)
        await follow_queries.delete_follows_of(conn, me)
        removed = await queries.delete_unshared_media(conn, actor.id, urls.media(""))
        await queries.tombstone_actor(conn, actor.id, now)
        await queries.delete_account(conn, account.id)
        closed = await actor_queries.select_deleted_actor(conn, actor.username)
    assert closed is not None
    await asyncio.to_thread(_unlink, data_dir, removed)
    return closed


def _unlink(data_dir: Path, names: list[str]) -> None:
    for name in names:
        path = file_path(data_dir, name)
        if path is not None:
            path.unlink(missing_ok=True)
