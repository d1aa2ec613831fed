"""Organisations over ActivityPub: inbound Join, Leave and answers to our Invites; the
organisation's actor document (official identifier, members, moderators) and its collections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import get_id, get_object
from fedicity.activitypub.routing import Handler, Outcome, Router
from fedicity.activitypub.vocab import ACTOR_CONTEXT
from fedicity.actors.models import Actor
from fedicity.actors.service import local_actor_for_uri
from fedicity.db.pool import Connection
from fedicity.inbound.context import InboundContext
from fedicity.organizations import queries, service
from fedicity.organizations.service import Env, MembershipError
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


async def _answer_invite(ctx: InboundContext, activity: Mapping[str, Any], accept: bool) -> Outcome:
    invite = get_object(activity)
    if invite is None:
        return Outcome.ignored("the answer does not embed the Invite")
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
    """The invitee accepts our Invite: a member now."""
    return await _answer_invite(ctx, activity, True)


async def on_reject_invite(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """The invitee declines our Invite."""
    return await _answer_invite(ctx, activity, False)


def register(router: Router[InboundContext]) -> None:
    """Answers to our Invites. Join and Leave are shared with events: inbound/router.py
    dispatches them with `dispatch`."""
    router.register("Accept", "Invite")(on_accept_invite)
    router.register("Reject", "Invite")(on_reject_invite)


# --- documents ------------------------------------------------------------------------------


def moderators_collection(urls: Urls, organization: Actor) -> str:
    """FEP-1b12: the collection of the organisation's admins and moderators."""
    return urls.actor(organization.username) + "/moderators"


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
