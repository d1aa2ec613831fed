"""Memberships and roles: joining (open, on approval, by invitation), an admin's answer to a
request, roles, removal, leaving. Remote people get an Accept or a Reject of their Join; the
followers and the person are told of each member added or removed (Add/Remove)."""

from __future__ import annotations

from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.db.pool import Connection
from fedicity.notifications.service import notify
from fedicity.organizations import queries
from fedicity.organizations.document import join_answer, membership_change
from fedicity.organizations.models import ROLES, Membership
from fedicity.organizations.service import (
    Env,
    MembershipError,
    require_admin,
    require_organization,
)
from fedicity.urls import Urls, new_token

MAX_FREE_ROLES = 5
MAX_FREE_ROLE_LENGTH = 40


def _is_local(uri: str, urls: Urls) -> bool:
    return uri.startswith(urls.actor(""))


async def answer_join(
    conn: Connection,
    organization: Actor,
    *,
    member_uri: str,
    join_uri: str | None,
    accept: bool,
    env: Env,
) -> None:
    """Accept or Reject the Join of a remote person, embedding the Join; nothing for a local one."""
    if _is_local(member_uri, env.urls):
        return
    await publish(
        conn,
        actor=organization,
        activity=join_answer(
            id=env.urls.activity(new_token()),
            organization_uri=env.urls.actor(organization.username),
            member_uri=member_uri,
            join_uri=join_uri,
            accept=accept,
        ),
        audience=Audience(frozenset({member_uri})),
        urls=env.urls,
        clock=env.clock,
    )


async def answer_membership(
    conn: Connection, organization: Actor, membership: Membership, *, accept: bool, env: Env
) -> None:
    """`answer_join` of the Join that started a membership."""
    await answer_join(
        conn,
        organization,
        member_uri=membership.member_uri,
        join_uri=membership.activity_uri,
        accept=accept,
        env=env,
    )


async def _announce_change(
    conn: Connection, organization: Actor, member_uri: str, *, added: bool, env: Env
) -> None:
    """Add or Remove the person, to the followers and the person."""
    await publish(
        conn,
        actor=organization,
        activity=membership_change(
            id=env.urls.activity(new_token()),
            organization=organization,
            member_uri=member_uri,
            added=added,
            urls=env.urls,
        ),
        audience=Audience(frozenset({member_uri}), followers=True),
        urls=env.urls,
        clock=env.clock,
    )


async def make_member(
    conn: Connection, organization: Actor, membership: Membership, env: Env
) -> Membership:
    """Make a request or an invitation a membership in full, announced with an Add."""
    await queries.update_state(conn, membership.id, "accepted", env.clock.now())
    await _announce_change(conn, organization, membership.member_uri, added=True, env=env)
    found = await queries.select_membership(conn, organization.id, membership.member_uri)
    assert found is not None
    return found


# --- joining --------------------------------------------------------------------------------


async def join(
    conn: Connection,
    *,
    organization: Actor,
    member_uri: str,
    env: Env,
    join_uri: str | None = None,
) -> Membership:
    """Someone (local, or remote through a Join) asks to join.

    open: accepted at once; approval: pending until an admin decides; invitation: refused unless
    invited. Remote members get an Accept or a Reject (a pending request gets nothing yet).
    """
    require_organization(organization)
    if member_uri == env.urls.actor(organization.username):
        raise MembershipError("self", "an organisation cannot join itself")
    async with conn.transaction():
        current = await queries.select_membership(
            conn, organization.id, member_uri, for_update=True
        )
        if current is not None and current.accepted:
            # Already in: answer again (the first Accept may have been lost), change nothing.
            await answer_membership(conn, organization, current, accept=True, env=env)
            return current
        mode = (await queries.select_settings(conn, organization.id)).membership_mode
        invited = current is not None and current.state == "invited"
        if mode == "invitation" and not invited:
            # The Reject commits with the transaction; the refusal is raised after it.
            await answer_join(
                conn,
                organization,
                member_uri=member_uri,
                join_uri=join_uri,
                accept=False,
                env=env,
            )
        else:
            stored = await _request(conn, organization, current, member_uri, join_uri, mode, env)
            if mode == "open" or invited:
                stored = await make_member(conn, organization, stored, env)
                await answer_membership(conn, organization, stored, accept=True, env=env)
            return stored
    raise MembershipError("invitation_only", "this organisation admits invited people only")


async def _request(
    conn: Connection,
    organization: Actor,
    current: Membership | None,
    member_uri: str,
    join_uri: str | None,
    mode: str,
    env: Env,
) -> Membership:
    invited = current is not None and current.state == "invited"
    if not invited and mode == "approval" and (current is None or current.state != "pending"):
        # People log in, organisations do not: each admin hears of the request.
        for admin in await queries.select_memberships(conn, organization.id):
            if admin.is_admin:
                await notify(
                    conn,
                    recipient=admin.member_uri,
                    kind="membership_request",
                    actor_uri=member_uri,
                    object_uri=env.urls.actor(organization.username),
                    urls=env.urls,
                    clock=env.clock,
                )
    return await queries.upsert_membership(
        conn,
        organization_id=organization.id,
        member_uri=member_uri,
        state="invited" if invited else "pending",
        role=current.role if current is not None else "member",
        activity_uri=join_uri,
        invited_by=None,
        now=env.clock.now(),
    )


async def answer_request(
    conn: Connection,
    *,
    organization: Actor,
    by: Actor,
    member_uri: str,
    accept: bool,
    env: Env,
) -> Membership:
    """An admin approves or rejects a pending request."""
    async with conn.transaction():
        await require_admin(conn, organization, by, env.urls)
        current = await queries.select_membership(
            conn, organization.id, member_uri, for_update=True
        )
        if current is None or current.state != "pending":
            raise MembershipError("no_request", "there is no pending request from this person")
        if accept:
            current = await make_member(conn, organization, current, env)
        else:
            await queries.update_state(conn, current.id, "rejected", env.clock.now())
        await answer_membership(conn, organization, current, accept=accept, env=env)
        await notify(
            conn,
            recipient=member_uri,
            kind="membership_accepted" if accept else "membership_refused",
            actor_uri=env.urls.actor(organization.username),
            object_uri=env.urls.actor(organization.username),
            urls=env.urls,
            clock=env.clock,
        )
        found = await queries.select_membership(conn, organization.id, member_uri)
        assert found is not None
        return found


# --- roles, removal, leaving ----------------------------------------------------------------


def _clean_roles(roles: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(r.strip() for r in roles if r.strip()))
    if len(cleaned) > MAX_FREE_ROLES or any(len(r) > MAX_FREE_ROLE_LENGTH for r in cleaned):
        raise MembershipError(
            "roles_invalid",
            f"at most {MAX_FREE_ROLES} roles of {MAX_FREE_ROLE_LENGTH} characters",
        )
    return cleaned


async def change_role(
    conn: Connection,
    *,
    organization: Actor,
    by: Actor,
    member_uri: str,
    role: str,
    env: Env,
    roles: list[str] | None = None,
) -> Membership:
    """An admin changes a member's role (the last admin cannot be demoted)."""
    if role not in ROLES:
        raise MembershipError("role_invalid", f"a role is one of {', '.join(ROLES)}")
    async with conn.transaction():
        await require_admin(conn, organization, by, env.urls)
        current = await queries.select_membership(
            conn, organization.id, member_uri, for_update=True
        )
        if current is None or not current.accepted:
            raise MembershipError("not_member", "this person is not a member")
        if current.is_admin and role != "admin" and await _last_admin(conn, organization):
            raise MembershipError("last_admin", "the last admin cannot be demoted")
        free = _clean_roles(roles) if roles is not None else list(current.roles)
        await queries.update_role(conn, current.id, role, free, env.clock.now())
        found = await queries.select_membership(conn, organization.id, member_uri)
        assert found is not None
        return found


async def _last_admin(conn: Connection, organization: Actor) -> bool:
    # Lock the admins' rows so two admins leaving at once cannot both pass the check.
    await queries.lock_admins(conn, organization.id)
    return await queries.count_admins(conn, organization.id) <= 1


async def _end(conn: Connection, organization: Actor, current: Membership, env: Env) -> None:
    if current.is_admin and await _last_admin(conn, organization):
        raise MembershipError("last_admin", "the last admin cannot leave or be removed")
    await queries.delete_membership(conn, current.id)
    if current.accepted:
        await _announce_change(conn, organization, current.member_uri, added=False, env=env)


async def remove(
    conn: Connection, *, organization: Actor, by: Actor, member_uri: str, env: Env
) -> None:
    """An admin removes a member (or withdraws an invitation, or drops a request)."""
    async with conn.transaction():
        await require_admin(conn, organization, by, env.urls)
        current = await queries.select_membership(
            conn, organization.id, member_uri, for_update=True
        )
        if current is None:
            raise MembershipError("not_member", "this person is not a member")
        await _end(conn, organization, current, env)


async def leave(conn: Connection, *, organization: Actor, member_uri: str, env: Env) -> bool:
    """A member leaves (or withdraws a request); whether there was anything to leave."""
    async with conn.transaction():
        current = await queries.select_membership(
            conn, organization.id, member_uri, for_update=True
        )
        if current is None or current.state == "rejected":
            return False
        await _end(conn, organization, current, env)
        return True
