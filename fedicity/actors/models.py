"""Dataclasses for local actors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

ActorKind = Literal["person", "organization", "application"]
OrganizationKind = Literal[
    "association", "company", "local_government", "collective", "informal_group"
]
ORGANIZATION_KINDS: tuple[OrganizationKind, ...] = get_args(OrganizationKind)

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
    public_key_pem: str
    private_key_pem: str
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        """What to show people: the display name, or the username when there is none."""
        return self.display_name or self.username
