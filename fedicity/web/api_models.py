"""The JSON API's shapes (pydantic): query strings, request bodies and responses of /api/v1, from
which quart-schema writes /openapi.json. The same models read the requests (web/api.py), so what
the document declares is what the API accepts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fedicity.actors.models import ORGANIZATION_KINDS
from fedicity.events.models import CATEGORIES
from fedicity.located.models import ItemKind
from fedicity.proposals.models import STATES

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
# `level:code`, as the territory pages name them (commune:93048, departement:93).
TERRITORY_PATTERN = r"^[a-z_]{1,32}:[0-9A-Za-z]{1,16}$"
# Four decimal numbers: min lon, min lat, max lon, max lat (checked further in web/api.py).
BBOX_PATTERN = r"^-?[0-9]{1,3}(\.[0-9]{1,12})?(,-?[0-9]{1,3}(\.[0-9]{1,12})?){3}$"
TAG_PATTERN = r"^\w{1,64}$"
# Usernames of organisations.
USERNAME_PATTERN = r"^[A-Za-z0-9_]{1,64}$"
CURSOR_PATTERN = r"^-?[0-9]{1,12}(\.[0-9]{1,6})?_[0-9]{1,18}$"
ID_CURSOR_PATTERN = r"^[0-9]{1,18}$"
_TAG = re.compile(TAG_PATTERN)

Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="At most 100 a page.")]
Moment = Annotated[
    datetime, Field(description="ISO 8601 date and time; without an offset it is UTC.")
]


class ListQuery(BaseModel):
    """What every list takes: a page size, a territory, a date range, a box."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    limit: Limit = DEFAULT_LIMIT
    territory: Annotated[
        str | None,
        Field(
            pattern=TERRITORY_PATTERN,
            description="`level:code` (commune:93048): this territory and every one below it.",
        ),
    ] = None
    # `from` is a Python keyword: the model names it since.
    since: Annotated[Moment | None, Field(alias="from")] = None
    to: Moment | None = None


class _Boxed(ListQuery):
    bbox: Annotated[
        str | None,
        Field(
            pattern=BBOX_PATTERN,
            description="minlon,minlat,maxlon,maxlat in degrees (WGS 84), min <= max.",
        ),
    ] = None


class _Tagged(BaseModel):
    tag: Annotated[
        str | None, Field(pattern=TAG_PATTERN, description="One tag, without its #.")
    ] = None


class EventQuery(_Boxed, _Tagged):
    """Events: soonest first; `from` keeps those not ended by then, `to` those starting before."""

    type: Annotated[
        Literal[CATEGORIES] | None,  # type: ignore[valid-type]
        Field(description="The event's category."),
    ] = None
    next: Annotated[str | None, Field(pattern=CURSOR_PATTERN, description="`next` of a page.")] = (
        None
    )


class PlaceQuery(_Boxed, _Tagged):
    """Located items: newest first, by publication."""

    type: Annotated[ItemKind | None, Field(description="What was located.")] = None
    next: Annotated[str | None, Field(pattern=CURSOR_PATTERN, description="`next` of a page.")] = (
        None
    )


class OrganizationQuery(_Boxed):
    """Organisations: newest first, by creation."""

    type: Annotated[
        Literal[ORGANIZATION_KINDS] | None,  # type: ignore[valid-type]
        Field(description="The organisation's kind."),
    ] = None
    next: Annotated[
        str | None, Field(pattern=ID_CURSOR_PATTERN, description="`next` of a page.")
    ] = None


class ProposalQuery(ListQuery, _Tagged):
    """Proposals: newest first, by publication; `state` as the proposals feed names it."""

    state: Annotated[
        Literal[tuple(s for s in STATES if s != "draft")] | None,  # type: ignore[valid-type]
        Field(description="The proposal's state."),
    ] = None
    next: Annotated[str | None, Field(pattern=CURSOR_PATTERN, description="`next` of a page.")] = (
        None
    )


# --- responses --------------------------------------------------------------------------------


class FieldError(BaseModel):
    """Why one field was refused; an enumerated one's allowed values."""

    field: str
    reason: str
    allowed: list[str] | None = None


class ProblemDocument(BaseModel):
    """A refusal (RFC 9457 problem document)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    reason: str | None = None
    errors: list[FieldError] | None = None


class Place(BaseModel):
    """Where an event happens."""

    name: str | None
    street: str | None
    postalCode: str | None
    locality: str | None
    country: str | None
    latitude: float | None
    longitude: float | None
    onlineUrl: str | None


class EventOut(BaseModel):
    """A public event, organised here or on another server."""

    id: str
    token: str | None
    url: str | None
    title: str
    description: str
    startsAt: datetime
    endsAt: datetime | None
    timezone: str
    allDay: bool
    category: str | None
    tags: list[str]
    status: Literal["confirmed", "tentative", "cancelled"]
    organizer: str
    place: Place
    capacity: int | None
    joinMode: str
    image: str | None
    published: datetime
    updated: datetime | None


class EventPage(BaseModel):
    """A page of events."""

    items: list[EventOut]
    next: str | None


class PlaceOut(BaseModel):
    """Something located in a territory: a post, an event or a proposal."""

    id: str
    type: ItemKind
    title: str
    summary: str
    url: str | None
    author: str
    origin: str
    published: datetime
    startsAt: datetime | None
    latitude: float | None
    longitude: float | None


class PlacePage(BaseModel):
    """A page of located items."""

    items: list[PlaceOut]
    next: str | None


class OrganizationOut(BaseModel):
    """A discoverable organisation of this instance."""

    id: str
    username: str
    name: str
    type: str | None
    summary: str
    url: str
    officialId: str | None
    verified: bool
    latitude: float | None
    longitude: float | None
    created: datetime


class OrganizationPage(BaseModel):
    """A page of organisations."""

    items: list[OrganizationOut]
    next: str | None


class ProposalOut(BaseModel):
    """A proposal past its draft."""

    id: str
    token: str | None
    title: str
    content: str
    state: str
    author: str
    organization: str | None
    tags: list[str]
    options: list[str]
    votingOpens: datetime | None
    votingEnds: datetime | None
    result: str | None
    published: datetime


class ProposalPage(BaseModel):
    """A page of proposals."""

    items: list[ProposalOut]
    next: str | None


class NoteOut(BaseModel):
    """A published note."""

    id: str
    visibility: Literal["public", "unlisted", "followers", "direct"]


# --- request bodies ---------------------------------------------------------------------------


def _tags(value: list[str] | None) -> list[str] | None:
    if value is not None:
        for tag in value:
            if not _TAG.fullmatch(tag):
                raise ValueError("tags are single words of letters, digits or _")
    return value


Text300 = Annotated[str, Field(max_length=300)]
# The fields an event is written with, the same when it is organised (EventIn) or changed
# (EventPatch, where every one is optional).
Title = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=20_000)]
Zone = Annotated[str, Field(max_length=64)]
Tags = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
LongUrl = Annotated[str, Field(max_length=2048)]
Capacity = Annotated[int, Field(ge=1, le=1_000_000)]
TerritoryName = Annotated[str, Field(pattern=TERRITORY_PATTERN)]
Category = Literal[CATEGORIES]  # type: ignore[valid-type]
JoinMode = Literal["free", "restricted", "external"]
Status = Literal["confirmed", "tentative"]


class _EventPlace(BaseModel):
    """Where an event is and how many it takes: optional, alike when organised and changed."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    placeName: Text300 | None = None
    street: Text300 | None = None
    postalCode: Text300 | None = None
    locality: Text300 | None = None
    country: Text300 | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    onlineUrl: LongUrl | None = None
    capacity: Capacity | None = None


class EventIn(_EventPlace):
    """An event to organise, as me or as an organisation I administer."""

    title: Title
    startsAt: datetime
    endsAt: datetime | None = None
    description: Description = ""
    timezone: Zone = "Europe/Paris"
    allDay: bool = False
    category: Category | None = None
    tags: Tags = []
    joinMode: JoinMode = "free"
    waitingList: bool = False
    externalUrl: LongUrl | None = None
    status: Status = "confirmed"
    territory: TerritoryName | None = None
    organization: (
        Annotated[
            str,
            Field(pattern=USERNAME_PATTERN, description="An organisation I administer (username)."),
        ]
        | None
    ) = None

    _check_tags = field_validator("tags")(_tags)


class EventPatch(_EventPlace):
    """What changes in an event: only the fields given."""

    title: Title | None = None
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    description: Description | None = None
    timezone: Zone | None = None
    allDay: bool | None = None
    category: Category | None = None
    tags: Tags | None = None
    joinMode: JoinMode | None = None
    waitingList: bool | None = None
    externalUrl: LongUrl | None = None
    status: Status | None = None
    territory: TerritoryName | None = None

    _check_tags = field_validator("tags")(_tags)


class NoteIn(BaseModel):
    """A note to publish, with Mastodon's visibilities."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=5000)]
    visibility: Literal["public", "unlisted", "followers", "direct"] = "public"
    summary: Annotated[str, Field(max_length=500)] = ""
    territory: TerritoryName | None = None


# --- the territory API (web/territories.py) -----------------------------------------------------


class ItemsQuery(BaseModel):
    """A territory's items, newest first."""

    limit: Limit = DEFAULT_LIMIT
    kind: ItemKind | None = None
    before: Annotated[
        str | None, Field(pattern=CURSOR_PATTERN, description="`next` of a page.")
    ] = None


class NearQuery(ItemsQuery):
    """Items within a radius of a point."""

    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    radius_km: Annotated[float, Field(gt=0, le=500)] = 5


class SearchQuery(BaseModel):
    """Territories by name prefix or postal code."""

    q: Annotated[str, Field(min_length=1, max_length=100)]
    limit: Limit = DEFAULT_LIMIT


class TerritoryOut(BaseModel):
    """A territory of the tree (commune, EPCI, département, région, country)."""

    level: str
    code: str
    name: str
    kind: str | None
    postalCodes: list[str]
    population: int | None
    latitude: float | None
    longitude: float | None
    url: str


class ItemOut(BaseModel):
    """Something located in a territory."""

    id: str
    kind: ItemKind
    title: str
    summary: str
    url: str | None
    author: str
    origin: str
    via: str | None
    published: str
    startsAt: str | None
    latitude: float | None
    longitude: float | None
    cursor: str


class ItemsPage(BaseModel):
    """A page of a territory's items."""

    territory: TerritoryOut
    items: list[ItemOut]
    next: str | None


class NearPage(BaseModel):
    """A page of items near a point."""

    items: list[ItemOut]
    next: str | None


class SearchResults(BaseModel):
    """Territories found."""

    results: list[TerritoryOut]


class DirectoryEntry(BaseModel):
    """Someone of the territory: a citizen or an organisation."""

    id: str
    name: str
    kind: str


class Overview(TerritoryOut):
    """A territory with its breadcrumb, sub-territories and the first page of each section."""

    actor: str | None
    handle: str | None
    breadcrumb: list[TerritoryOut]
    children: list[TerritoryOut]
    posts: list[ItemOut]
    events: list[ItemOut]
    proposals: list[ItemOut]
    directory: list[DirectoryEntry]
