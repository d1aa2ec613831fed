"""Dataclasses for needs and the offers to help with them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, get_args

NeedKind = Literal["material", "skill", "service", "volunteering", "money", "other"]
NEED_KINDS: tuple[NeedKind, ...] = get_args(NeedKind)
NeedState = Literal["open", "fulfilled", "closed"]
NEED_STATES: tuple[NeedState, ...] = get_args(NeedState)
OfferState = Literal["pending", "accepted", "declined", "withdrawn"]
# Offers that still stand: one per helper per need (migration 0039's partial unique index).
LIVE_OFFER_STATES: tuple[OfferState, ...] = ("pending", "accepted")

# The bounds every need is held to, ours from forms and theirs from the network alike.
MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_QUANTITY = 1_000_000
MAX_MESSAGE = 2000
# Dates outside these years are typing mistakes or attacks, not needs.
FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True)
class NeedData:
    """What a need says, as typed here or read from a remote `Page`, before it is stored."""

    uri: str
    owner_uri: str
    title: str
    description_html: str
    kind: NeedKind
    quantity: int | None
    starts_on: date | None
    ends_on: date | None
    state: NeedState
    token: str | None = None
    local_owner_id: int | None = None
    description_source: str | None = None
    raw: dict[str, Any] | None = None


@dataclass(frozen=True)
class Need:
    """A stored need, local (with its token and owner row) or remote."""

    id: int
    uri: str
    token: str | None
    owner_uri: str
    local_owner_id: int | None
    title: str
    description_source: str | None
    description_html: str
    kind: NeedKind
    quantity: int | None
    starts_on: date | None
    ends_on: date | None
    state: NeedState
    raw: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    @property
    def is_local(self) -> bool:
        """Whether this instance's actor owns it."""
        return self.local_owner_id is not None


@dataclass(frozen=True)
class NeedOffer:
    """Someone's offer to help with a need, and where it stands."""

    id: int
    need_id: int
    helper_uri: str
    message: str
    state: OfferState
    activity_uri: str
    created_at: datetime
    updated_at: datetime
