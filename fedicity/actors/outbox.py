"""An actor's outbox: store an activity and one delivery row per distinct inbox, in the caller's
transaction (so a state change and the activities it causes commit together)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fedicity.activitypub.accessors import audience as addressees
from fedicity.activitypub.accessors import get_id, host_of, is_public
from fedicity.activitypub.keys import KeyGenerator, generate_rsa_keypair
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.service import with_keys
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.delivery import queries
from fedicity.inbound import queries as inbound_queries
from fedicity.urls import Urls

LOCAL_KEY_ID = "local"


@dataclass(frozen=True)
class Audience:
    """Who an activity goes to: actor URIs, and whether the author's followers get it."""

    actors: frozenset[str] = field(default_factory=frozenset)
    followers: bool = False


async def publish(
    conn: Connection,
    *,
    actor: Actor,
    activity: dict[str, Any],
    audience: Audience,
    urls: Urls,
    clock: Clock,
    keygen: KeyGenerator = generate_rsa_keypair,
) -> int:
    """Store `activity` (which must have its id) and queue it for every recipient's inbox."""
    if actor.private_key_pem is None:
        # Its first activity: the delivery worker signs with the key read from the actor's row.
        await with_keys(conn, actor, keygen=keygen)
    now = clock.now()
    to, cc = addressees(activity)
    public = any(is_public(uri) for uri in to + cc)
    activity_id = await queries.insert_activity(
        conn,
        uri=activity["id"],
        actor_id=actor.id,
        type=activity["type"],
        object_uri=get_id(activity.get("object")),
        raw=activity,
        public=public,
        now=now,
    )
    local_host = host_of(urls.base)
    remote: set[tuple[str, str]] = set()
    local_recipients: set[str] = set()
    if audience.followers:
        remote.update(await queries.select_follower_inboxes(conn, urls.actor(actor.username)))
        local_recipients.update(
            await queries.select_local_followers(conn, urls.actor(actor.username), local_host)
        )
    remote_uris = [uri for uri in audience.actors if host_of(uri) != local_host]
    local_recipients.update(uri for uri in audience.actors if host_of(uri) == local_host)
    for recipient in await actor_queries.select_remote_actors(conn, remote_uris):
        remote.add((recipient.delivery_inbox, host_of(recipient.delivery_inbox)))
    await queries.insert_deliveries(conn, activity_id, sorted(remote), now)
    # Local recipients skip HTTP: the activity is already trusted, so it goes straight to the
    # mailbox that remote activities reach after verification.
    local_recipients.discard(urls.actor(actor.username))
    if local_recipients:
        await inbound_queries.insert_inbox_item(
            conn,
            activity_uri=activity["id"],
            actor_uri=urls.actor(actor.username),
            type=activity["type"],
            recipient=None,
            raw=activity,
            key_id=LOCAL_KEY_ID,
            now=now,
        )
    return activity_id
