"""Ours -> ActivityStreams for organisations: the actor document's additions (members,
moderators, official identifier), and the membership activities an organisation sends (Accept or
Reject of a Join, Add or Remove of a member, Invite). Pure: the callers read and publish."""

from __future__ import annotations

from typing import Any

from fedicity.activitypub.activities import EMBEDDED, activity
from fedicity.activitypub.vocab import ACTOR_CONTEXT
from fedicity.actors.models import Actor
from fedicity.organizations.models import OrganizationSettings
from fedicity.urls import Urls

ORGANIZATION_TERMS: dict[str, Any] = {
    "officialIdentifier": "fc:officialIdentifier",
    "members": {"@id": "fc:members", "@type": "@id"},
    "needs": {"@id": "fc:needs", "@type": "@id"},
}


def members_collection(urls: Urls, organization: Actor) -> str:
    """The organisation's members collection."""
    return urls.actor_members(organization.username)


def moderators_collection(urls: Urls, organization: Actor) -> str:
    """FEP-1b12: the collection of the organisation's admins and moderators."""
    return urls.actor_moderators(organization.username)


def actor_document(
    document: dict[str, Any], organization: Actor, settings: OrganizationSettings, urls: Urls
) -> dict[str, Any]:
    """An organisation's actor document plus its members, moderators, needs and official
    identifier."""
    context = list(ACTOR_CONTEXT)
    context[-1] = {**context[-1], **ORGANIZATION_TERMS}
    enriched = {**document, "@context": context}
    enriched["members"] = members_collection(urls, organization)
    enriched["attributedTo"] = moderators_collection(urls, organization)
    # What people may offer to help with (needs/), for organisations and projects alike.
    enriched["needs"] = urls.actor_needs(urls.actor(organization.username))
    if settings.official_identifier is not None:
        enriched["officialIdentifier"] = {
            "kind": settings.official_identifier.kind,
            "value": settings.official_identifier.value,
        }
    return enriched


def join_answer(
    *, id: str, organization_uri: str, member_uri: str, join_uri: str | None, accept: bool
) -> dict[str, Any]:
    """Accept or Reject of a person's Join, embedding the Join (by its id when we know it)."""
    join = activity(
        "Join", id=join_uri, actor=member_uri, object=organization_uri, context=EMBEDDED
    )
    return activity(
        "Accept" if accept else "Reject",
        id=id,
        actor=organization_uri,
        object=join,
        to=[member_uri],
    )


def membership_change(
    *, id: str, organization: Actor, member_uri: str, added: bool, urls: Urls
) -> dict[str, Any]:
    """Add or Remove {object: person, target: members collection}, to the organisation's
    followers and the person."""
    return activity(
        "Add" if added else "Remove",
        id=id,
        actor=urls.actor(organization.username),
        object=member_uri,
        to=[urls.actor_followers(organization.username)],
        cc=[member_uri],
        target=members_collection(urls, organization),
    )


def invite(*, id: str, organization_uri: str, member_uri: str) -> dict[str, Any]:
    """Invite{actor: org, object: org, target: person}, to the person."""
    return activity(
        "Invite",
        id=id,
        actor=organization_uri,
        object=organization_uri,
        to=[member_uri],
        target=member_uri,
    )
