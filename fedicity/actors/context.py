"""What an inbound handler gets: one connection inside the row's transaction, and helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

from fedicity.activitypub.keys import KeyGenerator, generate_rsa_keypair
from fedicity.actors.remote import ActorDirectory
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.urls import Urls


@dataclass
class InboundContext:
    """Everything a handler may use; `conn` is in a transaction that commits with the row."""

    conn: Connection
    directory: ActorDirectory
    urls: Urls
    clock: Clock
    actor_uri: str
    local: bool
    # Territory actors get their keys when first needed, possibly while handling a Follow.
    keygen: KeyGenerator = generate_rsa_keypair
    # The URIs of the posts this row stored that no row had before (not even deleted): only
    # those may go on an organisation's wall, which reads this instead of a statement of its own.
    new_posts: set[str] = field(default_factory=set)
