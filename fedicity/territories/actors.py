"""Territory actors: each served territory is a Group that anyone can follow to communect to it."""

from __future__ import annotations

import itertools
import re
from typing import Any

from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC, SECURITY_CONTEXT
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.service import RESERVED_USERNAMES
from fedicity.db.pool import Connection
from fedicity.territories.models import Territory, slugify
from fedicity.urls import Urls

MAX_USERNAME = 30
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


def handle_base(name: str) -> str:
    """An ASCII handle from a name: 'Île-de-France' -> 'ile_de_france'."""
    return slugify(name).replace("-", "_")


def handle_for(territory: Territory, taken: set[str]) -> str:
    """The territory's handle: its name, or its name and code when the name is already taken."""
    base = handle_base(territory.name)[:MAX_USERNAME].strip("_") or territory.level
    if base not in taken and base not in RESERVED_USERNAMES:
        return base
    code = re.sub(r"[^a-z0-9]+", "_", territory.code.lower()).strip("_")
    # A long code (a quartier's holds its name) leaves no room for the name; a handle with the
    # code that is taken too (a citizen chose it) gets a counter, so every territory gets one.
    for attempt in itertools.count(1):
        counter = "" if attempt == 1 else f"_{attempt}"
        room = MAX_USERNAME - len(counter)
        suffix = f"_{code}"[:room]
        handle = (base[: room - len(suffix)].strip("_") + suffix).strip("_") + counter
        if handle not in taken and handle not in RESERVED_USERNAMES:
            return handle
    raise AssertionError("unreachable")  # pragma: no cover


async def ensure_actors(conn: Connection, territories: list[Territory]) -> int:
    """Create the actor rows of served territories that have none (keys come later)."""
    existing = await actor_queries.select_territory_actor_ids(conn, [t.id for t in territories])
    missing = [t for t in territories if t.id not in existing]
    if not missing:
        return 0
    taken = await actor_queries.select_taken_usernames(conn)
    rows: list[tuple[int, str, str]] = []
    for territory in missing:
        handle = handle_for(territory, taken)
        taken.add(handle)
        rows.append((territory.id, handle, territory.name))
    await actor_queries.insert_territory_actors(conn, rows)
    return len(rows)


def summary_of(territory: Territory) -> str:
    """A one-line French description for the profile."""
    level = LEVEL_NAMES.get(territory.level, territory.level)
    population = (
        f", {territory.population:,} habitants".replace(",", "\u202f")
        if territory.population
        else ""
    )
    return f"<p>Fil citoyen de {territory.name} ({level} {territory.code}{population}).</p>"


def territory_actor_to_ap(
    actor: Actor,
    territory: Territory,
    ancestors: list[tuple[Territory, str | None]],
    urls: Urls,
    page_url: str,
) -> dict[str, Any]:
    """The Group document of a territory actor (ancestors: territory and its actor id if served)."""
    actor_id = urls.actor(actor.username)
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
        "location": location,
        "publicKey": {
            "id": urls.actor_key(actor.username),
            "owner": actor_id,
            "publicKeyPem": actor.public_key_pem,
        },
    }


def announce(
    actor: Actor, activity: dict[str, Any], urls: Urls, announce_id: str
) -> dict[str, Any]:
    """FEP-1b12: the territory re-shares the activity, embedded unchanged, to its followers."""
    actor_id = urls.actor(actor.username)
    inner = {key: value for key, value in activity.items() if key != "@context"}
    return {
        "@context": AS_CONTEXT,
        "id": announce_id,
        "type": "Announce",
        "actor": actor_id,
        "object": inner,
        "to": [PUBLIC],
        "cc": [urls.actor_followers(actor.username)],
        "audience": actor_id,
    }
