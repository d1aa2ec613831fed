"""Organisations over ActivityPub: inbound Join, Leave and answers to our Invites (embedded or
named by id); remote members' wall posts announced (FEP-1b12); the organisation's actor document
(official identifier, members, moderators) and its collections.

Join/Leave are shared with events, Accept/Reject with follows, Create and Update with posts: the
wrappers here (`dispatch`, `invite_answers_first`, `with_wall`) are applied by workers/router.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import as_list, get_id, get_object, host_of
from fedicity.activitypub.routing import Handler, Outcome, Router
from fedicity.activitypub.vocab import ACTOR_CONTEXT
from fedicity.actors import queries as actor_queries
from fedicity.actors.context import InboundContext
from fedicity.actors.models import Actor
from fedicity.actors.service import local_actor_for_uri
from fedicity.db.pool import Connection
from fedicity.organizations import queries, service
from fedicity.organizations.service import Env, MembershipError
from fedicity.posts import queries as post_queries
from fedicity.posts.models import Post
from fedicity.urls import Urls

ORGANIZATION_TERMS: dict[str, Any] = {
    "officialIdentifier": "fc:officialIdentifier",
    "members": {"@id": "fc:members", "@type": "@id"},
}


def _env(ctx: InboundContext) -> Env:
    return Env(urls=ctx.urls, clock=ctx.clock)


async def local_organization(ctx: InboundContext, uri: str | None) -> Actor | None:
    """The local organisation actor an IRI names, if any."""
    found = await local_actor_for_uri(ctx.conn, ctx.urls, uri)
    return found if found is not None and found.kind == "organization" else None


async def on_join(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote person asks to join a local organisation."""
    organization = await local_organization(ctx, get_id(activity.get("object")))
    if organization is None:
        return Outcome.ignored("the Join is not for a local organisation")
    try:
        membership = await service.join(
            ctx.conn,
            organization=organization,
            member_uri=ctx.actor_uri,
            join_uri=get_id(activity),
            env=_env(ctx),
        )
    except MembershipError as error:
        return Outcome.done(f"refused: {error.code}")
    return Outcome.done("accepted" if membership.accepted else "awaiting approval")


async def on_leave(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote member leaves a local organisation."""
    organization = await local_organization(ctx, get_id(activity.get("object")))
    if organization is None:
        return Outcome.ignored("the Leave is not for a local organisation")
    try:
        left = await service.leave(
            ctx.conn, organization=organization, member_uri=ctx.actor_uri, env=_env(ctx)
        )
    except MembershipError as error:
        return Outcome.ignored(f"refused: {error.code}")
    return Outcome.done() if left else Outcome.ignored("not a member")


def dispatch(organization_handler: Handler[InboundContext], other: Handler[InboundContext]) -> Any:
    """A handler sending activities whose object is a local organisation actor to
    `organization_handler` and everything else (events' Join/Leave) to `other`."""

    async def handler(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        if await local_organization(ctx, get_id(activity.get("object"))) is not None:
            return await organization_handler(ctx, activity)
        return await other(ctx, activity)

    handler.__doc__ = f"Organisations first, then {getattr(other, '__name__', 'the others')}."
    return handler


async def _answer_invite(ctx: InboundContext, invite: Mapping[str, Any], accept: bool) -> Outcome:
    organization = await local_organization(ctx, get_id(invite.get("actor")))
    if organization is None:
        return Outcome.ignored("the Invite is not from a local organisation")
    # Only the invitee may answer: a forged Accept by someone else changes nothing.
    target = get_id(invite.get("target"))
    if target is not None and target != ctx.actor_uri:
        return Outcome.ignored("only the invitee can answer an invitation")
    try:
        await service.answer_invitation(
            ctx.conn,
            organization=organization,
            member_uri=ctx.actor_uri,
            accept=accept,
            invite_uri=get_id(invite),
            env=_env(ctx),
        )
    except MembershipError as error:
        return Outcome.ignored(f"refused: {error.code}")
    return Outcome.done("member" if accept else "declined")


async def on_accept_invite(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """The invitee accepts our Invite (embedded): a member now."""
    invite = get_object(activity)
    if invite is None:
        return Outcome.ignored("the answer does not embed the Invite")
    return await _answer_invite(ctx, invite, True)


async def on_reject_invite(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """The invitee declines our Invite (embedded)."""
    invite = get_object(activity)
    if invite is None:
        return Outcome.ignored("the answer does not embed the Invite")
    return await _answer_invite(ctx, invite, False)


async def our_invite(ctx: InboundContext, invite_uri: str | None) -> dict[str, Any] | None:
    """The Invite we sent with this id, rebuilt from the invitation it started; None when the id
    is not one of our pending invitations (then it is something else, e.g. a Follow)."""
    if invite_uri is None or host_of(invite_uri) != host_of(ctx.urls.base):
        return None
    membership = await queries.select_membership_by_activity(ctx.conn, invite_uri)
    if membership is None or membership.state != "invited":
        return None
    organization = await actor_queries.select_actor_by_id(ctx.conn, membership.organization_id)
    if organization is None or organization.kind != "organization":
        return None
    organization_uri = ctx.urls.actor(organization.username)
    return {
        "id": invite_uri,
        "type": "Invite",
        "actor": organization_uri,
        "object": organization_uri,
        "target": membership.member_uri,
    }


def invite_answers_first(other: Handler[InboundContext], *, accept: bool) -> Any:
    """A handler for Accept (or Reject) that names its object by id only: an answer to one of
    our Invites goes to the organisation, anything else (a Follow's answer) to `other`."""

    async def handler(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        if get_object(activity) is None:
            invite = await our_invite(ctx, get_id(activity.get("object")))
            if invite is not None:
                return await _answer_invite(ctx, invite, accept)
        return await other(ctx, activity)

    handler.__doc__ = f"Invites first, then {getattr(other, '__name__', 'the others')}."
    return handler


# --- the wall (FEP-1b12) ----------------------------------------------------------------------

MAX_WALLS = 5


def _addressed(post: Post) -> list[str]:
    raw = post.raw or {}
    named = [get_id(item) for item in as_list(raw.get("audience"))]
    found = [uri for uri in named if uri is not None]
    return list(dict.fromkeys([*found, *post.to_uris, *post.cc_uris]))


async def announce_wall_post(
    ctx: InboundContext, activity: Mapping[str, Any], post: Post
) -> list[str]:
    """A remote member's new public post addressed to local organisations (in `audience`, `to`
    or `cc`) is announced by each of them to its followers; a non-member's is only stored.
    Returns one line per organisation addressed, for the inbox row."""
    if post.author_uri != ctx.actor_uri or post.local_actor_id is not None:
        return []
    lines: list[str] = []
    for uri in _addressed(post):
        organization = await local_organization(ctx, uri)
        if organization is None:
            continue
        if len(lines) >= MAX_WALLS:
            break
        if post.visibility != "public":
            lines.append(f"not announced by {organization.username}: not public")
        elif not await service.is_member(ctx.conn, organization.id, post.author_uri):
            lines.append(f"not announced by {organization.username}: not a member")
        else:
            await service.announce_to_followers(
                ctx.conn, organization=organization, activity=dict(activity), env=_env(ctx)
            )
            lines.append(f"announced by {organization.username}")
    return lines


def with_wall(post_handler: Handler[InboundContext]) -> Any:
    """The posts' Create (or Update) handler, then the wall: a post new here that a remote member
    addressed to a local organisation is announced by it, embedding the activity received (once: a
    post already stored, even deleted since, is not; an Update is new here only when its Create
    never reached us)."""

    async def handler(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        object_uri = get_id(activity.get("object"))
        if object_uri is None:
            return await post_handler(ctx, activity)
        known = (
            await post_queries.select_post(ctx.conn, object_uri, include_deleted=True) is not None
        )
        outcome = await post_handler(ctx, activity)
        if known or outcome.state != "done":
            return outcome
        post = await post_queries.select_post(ctx.conn, object_uri)
        if post is None:  # a ballot or a poll answer, not a post
            return outcome
        lines = await announce_wall_post(ctx, activity, post)
        detail = "; ".join(part for part in (outcome.detail, *lines) if part)
        return Outcome(outcome.state, detail)

    handler.__doc__ = f"{getattr(post_handler, '__name__', 'Posts')}, then the wall."
    return handler


def register(router: Router[InboundContext]) -> None:
    """Answers to our Invites. Join and Leave are shared with events: workers/router.py
    dispatches them with `dispatch`."""
    router.register("Accept", "Invite")(on_accept_invite)
    router.register("Reject", "Invite")(on_reject_invite)


# --- documents ------------------------------------------------------------------------------


def moderators_collection(urls: Urls, organization: Actor) -> str:
    """FEP-1b12: the collection of the organisation's admins and moderators."""
    return urls.actor_moderators(organization.username)


async def enrich_actor_document(
    conn: Connection, organization: Actor, document: dict[str, Any], urls: Urls
) -> dict[str, Any]:
    """An organisation's actor document plus its members, moderators and official identifier."""
    settings = await queries.select_settings(conn, organization.id)
    context = list(ACTOR_CONTEXT)
    context[-1] = {**context[-1], **ORGANIZATION_TERMS}
    enriched = {**document, "@context": context}
    enriched["members"] = service.members_collection(urls, organization)
    enriched["attributedTo"] = moderators_collection(urls, organization)
    if settings.official_identifier is not None:
        enriched["officialIdentifier"] = {
            "kind": settings.official_identifier.kind,
            "value": settings.official_identifier.value,
        }
    return enriched


async def members_items(
    conn: Connection, organization: Actor, *, moderators: bool
) -> tuple[int, list[str] | None]:
    """(total, member URIs or None when hidden) for the members or moderators collection."""
    settings = await queries.select_settings(conn, organization.id)
    accepted = await queries.select_memberships(conn, organization.id, limit=10_000)
    if moderators:
        # Moderators are public whatever the setting: they answer for the group (FEP-1b12).
        chosen = [m.member_uri for m in accepted if m.role in ("admin", "moderator")]
        return len(chosen), chosen
    total = await queries.count_members(conn, organization.id)
    if settings.hide_members:
        return total, None
    return total, [m.member_uri for m in accepted]
