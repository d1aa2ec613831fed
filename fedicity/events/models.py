"""Dataclasses for events and participations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

JoinMode = Literal["free", "restricted", "invite", "external"]
JOIN_MODES: tuple[JoinMode, ...] = get_args(JoinMode)
Status = Literal["confirmed", "tentative", "cancelled"]
STATUSES: tuple[Status, ...] = get_args(Status)
ParticipationState = Literal[
    "invited", "pending", "accepted", "rejected", "left", "interested", "waiting", "removed"
]
DEFAULT_TIMEZONE = "Europe/Paris"
# FEP-8a8e's category list (Mobilizon's).
CATEGORIES: tuple[str, ...] = (
    "ARTS",
    "BOOK_CLUBS",
    "BUSINESS",
    "CAUSES",
    "COMEDY",
    "CRAFTS",
    "FOOD_DRINK",
    "HEALTH",
    "MUSIC",
    "AUTO_BOAT_AIR",
    "COMMUNITY",
    "FAMILY_EDUCATION",
    "FASHION_BEAUTY",
    "FILM_MEDIA",
    "GAMES",
    "LANGUAGE_CULTURE",
    "LEARNING",
    "LGBTQ",
    "MOVEMENTS_POLITICS",
    "NETWORKING",
    "PARTY",
    "PERFORMING_VISUAL_ARTS",
    "PETS",
    "PHOTOGRAPHY",
    "OUTDOORS_ADVENTURE",
    "SPIRITUALITY_RELIGION_BELIEFS",
    "SCIENCE_TECH",
    "SPORTS",
    "THEATRE",
    "MEETING",
)
# The companion poll's options, in the words Mastodon users see, and the participation state each
# one is counted from.
GOING, MAYBE, CANT = "J'y vais", "Peut-être", "Je ne peux pas"
POLL_OPTIONS: tuple[str, ...] = (GOING, MAYBE, CANT)
STATE_OF_OPTION: dict[str, ParticipationState] = {
    GOING: "accepted",
    MAYBE: "interested",
    CANT: "left",
}


@dataclass(frozen=True)
class Location:
    """Where an event happens: a place with a postal address and/or an online address."""

    place_name: str | None = None
    street: str | None = None
    postal_code: str | None = None
    locality: str | None = None
    region: str | None = None
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    online_url: str | None = None

    @property
    def has_place(self) -> bool:
        """Whether there is a physical place to name."""
        return any((self.place_name, self.street, self.postal_code, self.locality))

    def one_line(self) -> str:
        """The place as one line: name, street, postal code and locality."""
        town = " ".join(p for p in (self.postal_code, self.locality) if p)
        return ", ".join(p for p in (self.place_name, self.street, town) if p)


@dataclass(frozen=True)
class EventData:
    """An event's columns before it has a row id."""

    uri: str
    organizer_uri: str
    title: str
    description_html: str
    starts_at: datetime
    ends_at: datetime | None
    published: datetime
    token: str | None = None
    local_actor_id: int | None = None
    description_source: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    all_day: bool = False
    category: str | None = None
    tags: tuple[str, ...] = ()
    image_url: str | None = None
    # Known for our uploads: federated with the image.
    image_media_type: str | None = None
    image_width: int | None = None
    image_height: int | None = None
    location: Location = field(default_factory=Location)
    coordinates_swapped: bool = False
    capacity: int | None = None
    join_mode: JoinMode = "free"
    # When full, a Join waits in line for a place instead of being refused.
    waiting_list: bool = False
    external_url: str | None = None
    status: Status = "confirmed"
    parent_uri: str | None = None
    territory_id: int | None = None
    url: str | None = None
    public: bool = True
    remote_participant_count: int | None = None
    raw: dict[str, Any] | None = None
    updated: datetime | None = None


@dataclass(frozen=True)
class Event(EventData):
    """A stored event, local (`token` and `local_actor_id` set) or remote."""

    id: int = 0
    parent_id: int | None = None
    deleted_at: datetime | None = None
    # The iCalendar SEQUENCE: how many times what is published of it changed (migration 0028).
    sequence: int = 0

    @property
    def is_local(self) -> bool:
        """Whether this instance organises it."""
        return self.local_actor_id is not None


@dataclass(frozen=True)
class Participation:
    """An actor's participation in an event."""

    id: int
    event_id: int
    actor_uri: str
    state: ParticipationState
    join_uri: str | None
    created_at: datetime
    updated_at: datetime
    # The place in line while `state` is "waiting" (lower is sooner), else None.
    waiting_rank: int | None = None
