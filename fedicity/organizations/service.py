"""Membership rules: joining, approving, inviting, roles, leaving; official identifiers; posting
on behalf of an organisation and on its wall. Each runs in the caller's connection and publishes
the activities it causes in the same transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fedicity.activitypub.keys import KeyGenerator
from fedicity.activitypub.vocab import AS_CONTEXT
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.delivery import queries as delivery_queries
from fedicity.errors import DomainError
from fedicity.organizations import queries
from fedicity.organizations.models import (
    MEMBERSHIP_MODES,
    ROLES,
    IdentifierKind,
    Membership,
)
from fedicity.posts import service as posts
from fedicity.posts.compose import Mention
from fedicity.posts.models import Post
from fedicity.territories import service as territory_service
from fedicity.territories.actors import announce
from fedicity.territories.models import Territory
from fedicity.urls import Urls, new_token

MAX_FREE_ROLES = 5
MAX_FREE_ROLE_LENGTH = 40


class MembershipError(DomainError):
    """A membership operation was refused; `code` says why, for messages and tests."""


@dataclass(frozen=True)
class Env:
    """Where activities are minted and what time it is."""

    urls: Urls
    clock: Clock


# --- official identifiers -------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum (SIREN numbers use it)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def normalize_identifier(kind: str, raw: str) -> tuple[IdentifierKind, str]:
    """A checked (kind, value): SIREN is 9 digits passing Luhn, RNA is W and 9 digits."""
    value = re.sub(r"[\s.]", "", raw).upper()
    if kind.upper() == "SIREN":
        if not re.fullmatch(r"[0-9]{9}", value) or not luhn_valid(value):
            raise MembershipError("siren_invalid", "a SIREN is 9 digits with a valid checksum")
        return "SIREN", value
    if kind.upper() == "RNA":
        if not re.fullmatch(r"W[0-9]{9}", value):
            raise MembershipError("rna_invalid", "an RNA number is W followed by 9 digits")
        return "RNA", value
    raise MembershipError("identifier_kind_invalid", "an identifier is a SIREN or an RNA number")


async def verify_identifier(
    conn: Connection,
    *,
    organization: Actor,
    kind: str,
    value: str,
    admin_account_id: int | None,
    clock: Clock,
) -> tuple[str, str]:
    """Record a verified identifier; only instance admins (web /admin, or the CLI) call this."""
    _require_organization(organization)
    checked_kind, checked_value = normalize_identifier(kind, value)
    await queries.set_identifier(
        conn,
        organization.id,
        kind=checked_kind,
        value=checked_value,
        verified_at=clock.now(),
        verified_by=admin_account_id,
    )
    return checked_kind, checked_value


async def clear_identifier(conn: Connection, *, organization: Actor) -> None:
    """Remove the verified identifier (instance admins only)."""
    _require_organization(organization)
    await queries.set_identifier(
        conn, organization.id, kind=None, value=None, verified_at=None, verified_by=None
    )


# --- creation and settings ------------------------------------------------------------------


def _require_organization(actor: Actor) -> None:
    if actor.kind != "organization":
        raise MembershipError("not_an_organization", "this actor is not an organisation")


async def create(
    conn: Connection,
    *,
    creator: Actor,
    username: str,
    organization_kind: str,
    keygen: KeyGenerator,
    env: Env,
    display_name: str = "",
    summary: str = "",
    membership_mode: str = "approval",
) -> Actor:
    """A citizen creates an organisation and becomes its first admin."""
    if creator.kind != "person":
        raise MembershipError("not_a_person", "only a citizen can create an organisation")
    if membership_mode not in MEMBERSHIP_MODES:
        raise MembershipError("mode_invalid", "membership is open, on approval or by invitation")
    organization = await actor_service.create_organization(
        conn,
        username,
        organization_kind=organization_kind,
        keygen=keygen,
        display_name=display_name,
        summary=summary,
    )
    async with conn.transaction():
        await queries.upsert_settings(
            conn, organization.id, membership_mode=membership_mode, hide_members=False
        )
        await queries.upsert_membership(
            conn,
            organization_id=organization.id,
            member_uri=env.urls.actor(creator.username),
            state="accepted",
            role="admin",
            activity_uri=None,
            invited_by=None,
            now=env.clock.now(),
        )
    return organization


async def update_settings(
    conn: Connection,
    *,
    organization: Actor,
    by: Actor,
    membership_mode: str,
    hide_members: bool,
    env: Env,
) -> None:
    """An admin changes how people join and whether members are listed."""
    await require_admin(conn, organization, by, env.urls)
    if membership_mode not in MEMBERSHIP_MODES:
        raise MembershipError("mode_invalid", "membership is open, on approval or by invitation")
    await queries.upsert_settings(
        conn, organization.id, membership_mode=membership_mode, hide_members=hide_members
    )


# --- who may do what ------------------------------------------------------------------------


async def is_member(conn: Connection, organization_id: int, member_uri: str) -> bool:
    """Whether someone is an accepted member."""
    found = await queries.select_membership(conn, organization_id, member_uri)
    return found is not None and found.accepted


async def require_admin(conn: Connection, organization: Actor, by: Actor, urls: Urls) -> None:
    """Refuse unless `by` is an accepted admin of the organisation."""
    _require_organization(organization)
    found = await queries.select_membership(conn, organization.id, urls.actor(by.username))
    if found is None or not found.is_admin:
        raise MembershipError("not_admin", "only the organisation's admins can do this")


# --- activities -----------------------------------------------------------------------------


def members_collection(urls: Urls, organization: Actor) -> str:
    """The organisation's members collection."""
    return urls.actor_members(organization.username)


def _join_stub(organization_uri: str, member_uri: str, join_uri: str | None) -> dict[str, Any]:
    join: dict[str, Any] = {"type": "Join", "actor": member_uri, "object": organization_uri}
    if join_uri is not None:
        join["id"] = join_uri
    return join


def _is_local(uri: str, urls: Urls) -> bool:
    return uri.startswith(urls.actor(""))


async def _answer(
    conn: Connection,
    organization: Actor,
    membership: Membership,
    *,
    accept: bool,
    env: Env,
) -> None:
    """Accept or Reject the Join of a remote member, embedding the Join."""
    if _is_local(membership.member_uri, env.urls):
        return
    me = env.urls.actor(organization.username)
    await publish(
        conn,
        actor=organization,
        activity={
            "@context": AS_CONTEXT,
            "id": env.urls.activity(new_token()),
            "type": "Accept" if accept else "Reject",
            "actor": me,
            "object": _join_stub(me, membership.member_uri, membership.activity_uri),
            "to": [membership.member_uri],
        },
        audience=Audience(frozenset({membership.member_uri})),
        urls=env.urls,
        clock=env.clock,
    )


async def _announce_change(
    conn: Connection, organization: Actor, member_uri: str, *, added: bool, env: Env
) -> None:
    """Add or Remove {object: person, target: members collection} to followers and the person."""
    me = env.urls.actor(organization.username)
    await publish(
        conn,
        actor=organization,
        activity={
            "@context": AS_CONTEXT,
            "id": env.urls.activity(new_token()),
            "type": "Add" if added else "Remove",
            "actor": me,
            "object": member_uri,
            "target": members_collection(env.urls, organization),
            "to": [env.urls.actor_followers(organization.username)],
            "cc": [member_uri],
        },
        audience=Audience(frozenset({member_uri}), followers=True),
        urls=env.urls,
        clock=env.clock,
    )


async def _accepted(
    conn: Connection, organization: Actor, membership: Membership, env: Env
) -> Membership:
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
    _require_organization(organization)
    if member_uri == env.urls.actor(organization.username):
        raise MembershipError("self", "an organisation cannot join itself")
    async with conn.transaction():
        current = await queries.select_membership(
            conn, organization.id, member_uri, for_update=True
        )
        if current is not None and current.accepted:
            # Already in: answer again (the first Accept may have been lost), change nothing.
            await _answer(conn, organization, current, accept=True, env=env)
            return current
        mode = (await queries.select_settings(conn, organization.id)).membership_mode
        invited = current is not None and current.state == "invited"
        if mode == "invitation" and not invited:
            refused = Membership(
                id=0,
                organization_id=organization.id,
                member_uri=member_uri,
                role="member",
                roles=(),
                state="rejected",
                activity_uri=join_uri,
                invited_by=None,
                created_at=env.clock.now(),
                updated_at=env.clock.now(),
            )
            # The Reject commits with the transaction; the refusal is raised after it.
            await _answer(conn, organization, refused, accept=False, env=env)
        else:
            stored = await _request(conn, organization, current, member_uri, join_uri, env)
            if mode == "open" or invited:
                stored = await _accepted(conn, organization, stored, env)
                await _answer(conn, organization, stored, accept=True, env=env)
            return stored
    raise MembershipError("invitation_only", "this organisation admits invited people only")


async def _request(
    conn: Connection,
    organization: Actor,
    current: Membership | None,
    member_uri: str,
    join_uri: str | None,
    env: Env,
) -> Membership:
    invited = current is not None and current.state == "invited"
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
            current = await _accepted(conn, organization, current, env)
        else:
            await queries.update_state(conn, current.id, "rejected", env.clock.now())
        await _answer(conn, organization, current, accept=accept, env=env)
        found = await queries.select_membership(conn, organization.id, member_uri)
        assert found is not None
        return found


# --- invitations ----------------------------------------------------------------------------


async def invite(
    conn: Connection, *, organization: Actor, by: Actor, member_uri: str, env: Env
) -> Membership:
    """An admin invites someone: Invite{actor: org, object: org, target: person}."""
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
            accepted = await _accepted(conn, organization, current, env)
            await _answer(conn, organization, accepted, accept=True, env=env)
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
            activity={
                "@context": AS_CONTEXT,
                "id": invite_uri,
                "type": "Invite",
                "actor": me,
                "object": me,
                "target": member_uri,
                "to": [member_uri],
            },
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
        return await _accepted(conn, organization, current, env)


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
    await conn.execute(
        """SELECT id FROM memberships
            WHERE organization_id = $1 AND state = 'accepted' AND role = 'admin' FOR UPDATE""",
        organization.id,
    )
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


# --- posting --------------------------------------------------------------------------------


async def post_as_organization(
    conn: Connection,
    *,
    organization: Actor,
    by: Actor,
    text: str,
    env: Env,
    local_host: str,
    resolved: dict[tuple[str, str], Mention],
    visibility: str = "public",
    summary: str = "",
    in_reply_to: Post | None = None,
    language: str | None = None,
    place: Territory | None = None,
    root: Territory | None = None,
    keygen: KeyGenerator | None = None,
) -> Post:
    """An admin writes a note whose author is the organisation (the role is checked here, so a
    forged choice of organisation is refused); located in `place` like a citizen's note."""
    await require_admin(conn, organization, by, env.urls)
    if place is None:
        return await posts.create_note(
            conn,
            actor=organization,
            text=text,
            visibility=visibility,
            urls=env.urls,
            clock=env.clock,
            local_host=local_host,
            resolved=resolved,
            summary=summary,
            in_reply_to=in_reply_to,
            language=language,
        )
    if keygen is None:
        raise TypeError("locating a post needs a key generator for the territory's actor")
    return await territory_service.write_note(
        conn,
        actor=organization,
        text=text,
        visibility=visibility,
        place=place,
        root=root,
        urls=env.urls,
        clock=env.clock,
        keygen=keygen,
        local_host=local_host,
        resolved=resolved,
        summary=summary,
        in_reply_to=in_reply_to,
        language=language,
    )


async def post_on_wall(
    conn: Connection,
    *,
    organization: Actor,
    author: Actor,
    text: str,
    env: Env,
    local_host: str,
    resolved: dict[tuple[str, str], Mention],
    summary: str = "",
    language: str | None = None,
) -> Post:
    """A member's public post in the organisation (audience = the organisation actor), which the
    organisation announces to its followers as an FEP-1b12 group."""
    _require_organization(organization)
    org_uri = env.urls.actor(organization.username)
    if not await is_member(conn, organization.id, env.urls.actor(author.username)):
        raise MembershipError("not_member", "only members post on the organisation's wall")
    async with conn.transaction():
        post = await posts.create_note(
            conn,
            actor=author,
            text=text,
            visibility="public",
            urls=env.urls,
            clock=env.clock,
            local_host=local_host,
            resolved=resolved,
            summary=summary,
            language=language,
            audience=org_uri,
        )
        create = await delivery_queries.select_activity(conn, env.urls.create_activity(post.uri))
        assert create is not None
        await announce_to_followers(conn, organization=organization, activity=create, env=env)
    return post


async def announce_to_followers(
    conn: Connection, *, organization: Actor, activity: dict[str, Any], env: Env
) -> None:
    """FEP-1b12: the organisation re-shares a member's activity to its followers."""
    await publish(
        conn,
        actor=organization,
        activity=announce(organization, activity, env.urls, env.urls.activity(new_token())),
        audience=Audience(followers=True),
        urls=env.urls,
        clock=env.clock,
    )
