"""What a search finds: one hit type per kind, pages of hits with the cursor of the next one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, TypeVar

Kind = Literal["actors", "events", "proposals", "posts"]
KINDS: tuple[Kind, ...] = ("actors", "events", "proposals", "posts")

# A search has at most this many characters: enough for any phrase or address people type,
# and the parsed query stays small whatever arrives.
MAX_QUERY_CHARS = 500


@dataclass(frozen=True)
class Cursor:
    """Where a page of hits ends: the last hit's score and key (hits are ordered by both)."""

    score: int
    key: int

    def __str__(self) -> str:
        """The cursor as a query argument: `score-key`."""
        return f"{self.score}-{self.key}"


@dataclass(frozen=True)
class ActorHit:
    """A local or cached remote actor whose name, handle or description matched."""

    key: int
    score: int
    uri: str
    local: bool
    kind: str
    username: str | None
    name: str
    domain: str | None
    url: str | None
    summary: str
    # A territory's page is /territoires/<level>/<code>.
    territory_level: str | None = None
    territory_code: str | None = None


@dataclass(frozen=True)
class EventHit:
    """A public event whose title, place or description matched."""

    key: int
    score: int
    uri: str
    token: str | None
    title: str
    url: str | None
    starts_at: datetime
    ends_at: datetime | None
    timezone: str
    all_day: bool
    place: str
    status: str
    organizer_uri: str

    @property
    def is_local(self) -> bool:
        """Whether this instance organises it (it then has a page here)."""
        return self.token is not None


@dataclass(frozen=True)
class ProposalHit:
    """A published proposal whose title or text matched."""

    key: int
    score: int
    uri: str
    token: str | None
    title: str
    state: str
    author_uri: str
    published: datetime


@dataclass(frozen=True)
class PostHit:
    """A public post whose text matched, with the start of its text as plain text."""

    key: int
    score: int
    uri: str
    url: str | None
    local: bool
    author_uri: str
    published: datetime
    name: str | None
    summary: str | None
    excerpt: str


Hit = TypeVar("Hit", ActorHit, EventHit, ProposalHit, PostHit)


@dataclass(frozen=True)
class Page(Generic[Hit]):
    """Hits of one kind, best first, and the cursor of the next page when there is one."""

    hits: list[Hit] = field(default_factory=list)
    next: Cursor | None = None


@dataclass(frozen=True)
class Results:
    """A search's hits by kind (only the kinds asked for), and whether the query held only
    words too common to search (French stop words): then only names can match."""

    actors: Page[ActorHit] = field(default_factory=Page)
    events: Page[EventHit] = field(default_factory=Page)
    proposals: Page[ProposalHit] = field(default_factory=Page)
    posts: Page[PostHit] = field(default_factory=Page)
    common_words_only: bool = False

    @property
    def empty(self) -> bool:
        """Whether nothing at all was found."""
        return not (self.actors.hits or self.events.hits or self.proposals.hits or self.posts.hits)


@dataclass(frozen=True)
class SearchRefusal:
    """Why a query was not run: `too_long`, or `no_words` (only punctuation or symbols)."""

    code: str
