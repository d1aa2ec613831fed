"""Invitations: an admin invites someone (Invite{actor: org, object: org, target: person}); only
the invitee may accept (a member then) or decline (forgotten)."""

from __future__ import annotations

from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.db.pool import Connection
from fedicity.organizations import document, queries
from fedicity.organizations.memberships import answer_membership, make_member
from fedicity.organizations.models import Membership
from fedicity.organizations.service import Env, MembershipError, require_admin
from fedicity.urls import new_token


async def invite(
    conn: Connection, *, organization: Actor, by: Actor, member_uri: str, env: Env
) -> Membership:
    """An admin invites someone; a person who asked already is approved instead."""
    me = env.urls.actor(organization.username)
    if member_uri == me:
        raise MembershipError("self", "an organisation cannot join itself")
    async with conn.transaction():
        await require_admin(conn, organization, by, env.urls)
        current = await queries.select_membership(
            conn, organization.id, member_uri, for_update=True
        )
        if current is not None and current.accepted:
            raise MembershipError("already_member", "this person is already a member")
        invite_uri = env.urls.activity(new_token())
        if current is not None and current.state == "pending":
            # They asked already: an invitation is an approval.
            accepted = await make_member(conn, organization, current, env)
            await answer_membership(conn, organization, accepted, accept=True, env=env)
            return accepted
        stored = await queries.upsert_membership(
            conn,
            organization_id=organization.id,
            member_uri=member_uri,
            state="invited",
            role="member",
            activity_uri=invite_uri,
            invited_by=env.urls.actor(by.username),
            now=env.clock.now(),
        )
        await publish(
            conn,
            actor=organization,
            activity=document.invite(id=invite_uri, organization_uri=me, member_uri=member_uri),
            audience=Audience(frozenset({member_uri})),
            urls=env.urls,
            clock=env.clock,
        )
        return stored


async def answer_invitation(
    conn: Connection,
    *,
    organization: Actor,
    member_uri: str,
    accept: bool,
    env: Env,
    invite_uri: str | None = None,
) -> Membership | None:
    """The invitee (and only the invitee) accepts or declines; None when declined."""
    async with conn.transaction():
        current = await queries.select_membership(
            conn, organization.id, member_uri, for_update=True
        )
        if current is None or current.state != "invited":
            raise MembershipError("not_invited", "there is no invitation for this person")
        if invite_uri is not None and current.activity_uri != invite_uri:
            raise MembershipError("not_invited", "this is not the invitation that was sent")
        if not accept:
            await queries.delete_membership(conn, current.id)
            return None
        return await make_member(conn, organization, current, env)
