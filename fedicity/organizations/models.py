"""Organisation settings and memberships."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from fedicity.actors.models import Actor

Role = Literal["member", "moderator", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
MembershipState = Literal["pending", "invited", "accepted", "rejected"]
MembershipMode = Literal["open", "approval", "invitation"]
MEMBERSHIP_MODES: tuple[MembershipMode, ...] = get_args(MembershipMode)
IdentifierKind = Literal["SIREN", "RNA"]


@dataclass(frozen=True)
class OfficialIdentifier:
    """A verified SIREN or RNA number."""

    kind: IdentifierKind
    value: str
    verified_at: datetime
    verified_by: int | None


@dataclass(frozen=True)
class OrganizationSettings:
    """How people join an organisation, and what it shows."""

    actor_id: int
    membership_mode: MembershipMode = "approval"
    hide_members: bool = False
    official_identifier: OfficialIdentifier | None = None
    # Where it can be found (set with the place picker), shown on the map.
    latitude: float | None = None
    longitude: float | None = None
    # How to reach it (imported from a register, migration 0031), shown where it is described.
    address: str | None = None
    postal_code: str | None = None
    website: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Membership:
    """One person's (local or remote) relation to an organisation."""

    id: int
    organization_id: int
    member_uri: str
    role: Role
    roles: tuple[str, ...]
    state: MembershipState
    activity_uri: str | None
    invited_by: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def accepted(self) -> bool:
        """A member in full."""
        return self.state == "accepted"

    @property
    def is_admin(self) -> bool:
        """An accepted admin."""
        return self.accepted and self.role == "admin"


@dataclass(frozen=True)
class ListedOrganization:
    """A discoverable organisation as the public API shows it."""

    actor: Actor
    official_id_kind: str | None
    official_id_value: str | None
    verified: bool
    latitude: float | None
    longitude: float | None
