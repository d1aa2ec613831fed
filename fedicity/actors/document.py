"""Local actors as ActivityStreams documents."""

from __future__ import annotations

from typing import Any

from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.vocab import ACTOR_CONTEXT
from fedicity.actors.models import Actor
from fedicity.textfmt import render_markdown
from fedicity.urls import Urls

_AS_TYPES = {"person": "Person", "organization": "Organization", "application": "Application"}


def actor_to_ap(actor: Actor, urls: Urls) -> dict[str, Any]:
    """The actor document served at the actor's id."""
    if actor.kind == "application":
        return instance_actor_to_ap(actor, urls)
    actor_id = urls.actor(actor.username)
    doc: dict[str, Any] = {
        "@context": ACTOR_CONTEXT,
        "id": actor_id,
        "type": _AS_TYPES[actor.kind],
        "preferredUsername": actor.username,
        "name": actor.name,
        "summary": render_markdown(actor.summary),
        "url": urls.profile(actor.username),
        "inbox": urls.actor_inbox(actor.username),
        "outbox": urls.actor_outbox(actor.username),
        "followers": urls.actor_followers(actor.username),
        "following": urls.actor_following(actor.username),
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "icon": {
            "type": "Image",
            "mediaType": "image/png",
            "url": urls.actor_avatar(actor.username),
        },
        "manuallyApprovesFollowers": actor.manually_approves_followers,
        "discoverable": actor.discoverable,
        "indexable": actor.discoverable,
        "published": format_datetime(actor.created_at),
        "publicKey": {
            "id": urls.actor_key(actor.username),
            "owner": actor_id,
            "publicKeyPem": actor.public_key_pem,
        },
    }
    if actor.organization_kind is not None:
        doc["organizationKind"] = actor.organization_kind
    return doc


def instance_actor_to_ap(actor: Actor, urls: Urls) -> dict[str, Any]:
    """The instance actor (FEP-d556 / FEP-2677): signs server-level fetches, follows nobody."""
    host = urls.base.split("://", 1)[1]
    return {
        "@context": ACTOR_CONTEXT,
        "id": urls.instance_actor,
        "type": "Application",
        "preferredUsername": host,
        "name": host,
        "url": urls.root,
        "inbox": urls.instance_actor_inbox,
        "outbox": urls.instance_actor_outbox,
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": True,
        "discoverable": False,
        "published": format_datetime(actor.created_at),
        "publicKey": {
            "id": urls.instance_actor_key,
            "owner": urls.instance_actor,
            "publicKeyPem": actor.public_key_pem,
        },
    }
