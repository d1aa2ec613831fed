"""Local actors as ActivityStreams documents."""

from __future__ import annotations

from typing import Any

from fedicity.activitypub.activities import activity
from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.vocab import ACTOR_CONTEXT, PUBLIC
from fedicity.actors.models import Actor
from fedicity.textfmt import render_markdown
from fedicity.urls import Urls

_AS_TYPES = {"person": "Person", "organization": "Organization", "application": "Application"}
_MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


def _picture(urls: Urls, name: str) -> dict[str, Any]:
    """An uploaded picture as an Image (its type read from its file name's extension)."""
    return {
        "type": "Image",
        "mediaType": _MEDIA_TYPES[name.rsplit(".", 1)[-1]],
        "url": urls.media(name),
    }


def avatar_url(actor: Actor, urls: Urls) -> str:
    """Where the actor's avatar is: its uploaded picture, else the generated one."""
    return urls.media(actor.avatar_name) if actor.avatar_name else urls.actor_avatar(actor.username)


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
        "icon": (
            _picture(urls, actor.avatar_name)
            if actor.avatar_name
            else {
                "type": "Image",
                "mediaType": "image/png",
                "url": urls.actor_avatar(actor.username),
            }
        ),
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
    if actor.banner_name:
        doc["image"] = _picture(urls, actor.banner_name)
    if actor.organization_kind is not None:
        doc["organizationKind"] = actor.organization_kind
    return doc


def update_actor(document: dict[str, Any], activity_id: str, published: str) -> dict[str, Any]:
    """Update(Person) carrying the actor's whole new document, to the public (as Mastodon
    sends profile changes); the document's own @context moves to the activity."""
    embedded = {key: value for key, value in document.items() if key != "@context"}
    return activity(
        "Update",
        id=activity_id,
        actor=document["id"],
        object=embedded,
        to=[PUBLIC],
        published=published,
        context=document["@context"],
    )


def delete_actor(actor_uri: str, published: str) -> dict[str, Any]:
    """Delete of the actor itself (an account closed), as Mastodon sends it: object = actor."""
    return activity(
        "Delete",
        id=actor_uri + "#delete",
        actor=actor_uri,
        object=actor_uri,
        to=[PUBLIC],
        published=published,
    )


def tombstone(actor_uri: str, deleted: str, former_type: str) -> dict[str, Any]:
    """What a closed account's id answers (with 410 Gone)."""
    return {
        "@context": ACTOR_CONTEXT,
        "id": actor_uri,
        "type": "Tombstone",
        "formerType": former_type,
        "deleted": deleted,
    }


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
