"""Dataclasses for local actors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

ActorKind = Literal["person", "organization", "application", "territory"]
OrganizationKind = Literal[
    "association", "company", "local_government", "collective", "informal_group", "project"
]
# What the organisation forms, the API, the CLI and the imports offer: a project is made by
# projects/service.py, and is listed as one, never as an organisation.
ORGANIZATION_KINDS: tuple[OrganizationKind, ...] = tuple(
    kind for kind in get_args(OrganizationKind) if kind != "project"
)

# The instance actor's internal name: it can never collide with a user's, which are [a-z0-9_].
INSTANCE_ACTOR_USERNAME = "instance.actor"


@dataclass(frozen=True)
class Actor:
    """A local actor, with its key pair."""

    id: int
    username: str
    kind: ActorKind
    organization_kind: OrganizationKind | None
    display_name: str
    summary: str
    manually_approves_followers: bool
    discoverable: bool
    # None only for territory actors whose keys were not needed yet (see actors.service.with_keys)
    public_key_pem: str | None
    private_key_pem: str | None
    created_at: datetime
    updated_at: datetime
    hide_network: bool = False
    territory_id: int | None = None
    home_territory_id: int | None = None
    # Uploaded pictures by media file name (None: the generated avatar, no banner).
    avatar_name: str | None = None
    banner_name: str | None = None
    # Set when the account was closed: the actor stays as a tombstone (see accounts/closing.py).
    deleted_at: datetime | None = None

    @property
    def name(self) -> str:
        """What to show people: the display name, or the username when there is none."""
        return self.display_name or self.username


@dataclass(frozen=True)
class RemoteActorData:
    """What we keep of a remote actor's document (actors/parse.py reads it from the wire)."""

    uri: str
    domain: str
    type: str
    username: str | None
    display_name: str
    summary_html: str
    url: str | None
    icon_url: str | None
    inbox: str
    shared_inbox: str | None
    followers_uri: str | None
    key_id: str | None
    public_key_pem: str | None
    manually_approves_followers: bool
    also_known_as: tuple[str, ...]
    moved_to: str | None
    raw: dict[str, Any]
    fetched_at: datetime


@dataclass(frozen=True)
class RemoteActor(RemoteActorData):
    """An actor of another server, as last fetched and stored (its raw document kept beside)."""

    id: int
    deleted_at: datetime | None

    @property
    def delivery_inbox(self) -> str:
        """Where to deliver: the shared inbox when the server has one."""
        return self.shared_inbox or self.inbox

    @property
    def handle(self) -> str:
        """@user@domain, for display."""
        return f"@{self.username or '?'}@{self.domain}"


@dataclass(frozen=True)
class KnownActor:
    """What a page shows of an actor, local or remote: its name, its handle and where it lives."""

    uri: str
    name: str
    username: str | None
    domain: str | None
    kind: str
    url: str | None
    local: bool
    # A local actor's uploaded avatar (media file name), a remote actor's icon URL.
    avatar: str | None = None
