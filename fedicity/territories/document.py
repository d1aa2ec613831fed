"""Territory actors as ActivityStreams: their Group documents and the Announce they re-share
local activity with."""

from __future__ import annotations

from typing import Any

from fedicity.activitypub.activities import activity
from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC, SECURITY_CONTEXT
from fedicity.actors.models import Actor
from fedicity.territories.models import Territory
from fedicity.urls import Urls

LEVEL_NAMES = {
    "country": "pays",
    "region": "région",
    "departement": "département",
    "epci": "intercommunalité",
    "commune": "commune",
    "quartier": "quartier",
}
TERRITORY_CONTEXT: list[Any] = [
    AS_CONTEXT,
    SECURITY_CONTEXT,
    {
        "fc": "https://fedicity.org/ns#",
        "territoryCode": "fc:territoryCode",
        "level": "fc:level",
        "territoryParents": {"@id": "fc:territoryParents", "@container": "@list"},
        "postingRestrictedToMods": "https://join-lemmy.org/ns#postingRestrictedToMods",
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "discoverable": "toot:discoverable",
        "schema": "http://schema.org#",
        "PostalAddress": "schema:PostalAddress",
        "address": {"@id": "schema:address", "@type": "@id"},
        "postalCode": "schema:postalCode",
        "addressLocality": "schema:addressLocality",
        "addressCountry": "schema:addressCountry",
    },
]


def summary_of(territory: Territory) -> str:
    """A one-line French description for the profile."""
    level = LEVEL_NAMES.get(territory.level, territory.level)
    population = (
        f", {territory.population:,} habitants".replace(",", "\u202f")
        if territory.population
        else ""
    )
    return f"<p>Fil citoyen de {territory.name} ({level} {territory.code}{population}).</p>"


def location_of(territory: Territory) -> dict[str, Any]:
    """The Place a territory actor stands for: its centre, and a postal address for a commune."""
    location: dict[str, Any] = {"type": "Place", "name": territory.name}
    if territory.latitude is not None and territory.longitude is not None:
        location["latitude"] = territory.latitude
        location["longitude"] = territory.longitude
    if territory.level in {"commune", "quartier"}:
        location["address"] = {
            "type": "PostalAddress",
            "addressLocality": territory.name,
            "addressCountry": "FR",
            **({"postalCode": territory.postal_codes[0]} if territory.postal_codes else {}),
        }
    return location


def territory_actor_to_ap(
    actor: Actor,
    territory: Territory,
    ancestors: list[tuple[Territory, str | None]],
    urls: Urls,
    page_url: str,
) -> dict[str, Any]:
    """The Group document of a territory actor (ancestors: territory and its actor id if served)."""
    actor_id = urls.actor(actor.username)
    return {
        "@context": TERRITORY_CONTEXT,
        "id": actor_id,
        "type": "Group",
        "preferredUsername": actor.username,
        "name": territory.name,
        "summary": summary_of(territory),
        "url": page_url,
        "inbox": urls.actor_inbox(actor.username),
        "outbox": urls.actor_outbox(actor.username),
        "followers": urls.actor_followers(actor.username),
        "following": urls.actor_following(actor.username),
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": False,
        "discoverable": True,
        "postingRestrictedToMods": True,
        "published": format_datetime(actor.created_at),
        "territoryCode": territory.code,
        "level": territory.level,
        "territoryParents": [
            {
                "level": parent.level,
                "territoryCode": parent.code,
                "name": parent.name,
                **({"id": parent_actor} if parent_actor else {}),
            }
            for parent, parent_actor in ancestors
        ],
        "location": location_of(territory),
        "publicKey": {
            "id": urls.actor_key(actor.username),
            "owner": actor_id,
            "publicKeyPem": actor.public_key_pem,
        },
    }


def announce(actor: Actor, shared: dict[str, Any], urls: Urls, announce_id: str) -> dict[str, Any]:
    """FEP-1b12: the Group re-shares an activity, embedded unchanged, to its followers."""
    actor_id = urls.actor(actor.username)
    inner = {key: value for key, value in shared.items() if key != "@context"}
    return activity(
        "Announce",
        id=announce_id,
        actor=actor_id,
        object=inner,
        to=[PUBLIC],
        cc=[urls.actor_followers(actor.username)],
        audience=actor_id,
    )
