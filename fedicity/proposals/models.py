"""Dataclasses for proposals, their rooms, votes, comments and attachments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

State = Literal["draft", "amendable", "voting", "closed", "withdrawn", "archived"]
STATES: tuple[State, ...] = get_args(State)
Electorate = Literal["members", "residents", "federated"]
ELECTORATES: tuple[Electorate, ...] = get_args(Electorate)
Stance = Literal["for", "neutral", "against"]
# Secret: only counts are shown (each voter sees their own ballot); nominal: voters by name.
Ballot = Literal["secret", "nominal"]
BALLOTS: tuple[Ballot, ...] = get_args(Ballot)
STANCES: tuple[Stance, ...] = get_args(Stance)

FOR, AGAINST, ABSTAIN = "Pour", "Contre", "Abstention"
DEFAULT_OPTIONS: tuple[str, ...] = (FOR, AGAINST, ABSTAIN)
ADOPTED, REJECTED = "adopted", "rejected"
RoomStatus = Literal["open", "archived"]
ROOM_STATUSES: tuple[RoomStatus, ...] = get_args(RoomStatus)

MAX_OPTIONS = 20  # the proposals table's CHECK (cardinality(options) BETWEEN 2 AND 20)
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_NAME = 200


@dataclass(frozen=True)
class Attachment:
    """A named link attached to a proposal (http or https only)."""

    href: str
    name: str


@dataclass(frozen=True)
class ProposalData:
    """What we store of a proposal before it has a row id (local or remote)."""

    uri: str
    token: str | None
    local_actor_id: int | None
    author_uri: str
    title: str
    content_html: str
    options: tuple[str, ...]
    published: datetime
    organization_uri: str | None = None
    territory_id: int | None = None
    tags: tuple[str, ...] = ()
    state: State = "draft"
    amendable_until: datetime | None = None
    voting_opens: datetime | None = None
    voting_ends: datetime | None = None
    multiple: bool = False
    ballot: Ballot = "secret"
    vote_change_allowed: bool = True
    majority: float = 0.5
    electorate: Electorate = "federated"
    federated_votes_count: bool = True
    result: str | None = None
    official_answer: str | None = None
    remote_tallies: dict[str, int] | None = None
    remote_voters_count: int | None = None
    raw: dict[str, Any] | None = None
    updated: datetime | None = None
    # When set, the vote opens by itself for this many days once amendable_until has passed.
    auto_voting_days: int | None = None
    # A local proposal's room; a remote proposal's fc:room (id and name) is kept as it came.
    room_id: int | None = None
    room_uri: str | None = None
    room_name: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # Servers (host, or host:port) whose voters' ballots count in the result, besides the ones
    # the instance admin trusts for every proposal; ballots from any other server are only shown.
    trusted_vote_domains: tuple[str, ...] = ()
    # The Markdown the text was rendered from (None: written before, or received without one).
    content_source: str | None = None
    # A co-moderation vote's object (stewardship/comoderation.py): published as fc:moderationOf.
    moderation_of: str | None = None


@dataclass(frozen=True)
class Proposal(ProposalData):
    """A stored proposal."""

    id: int = 0

    def as_data(self) -> ProposalData:
        """What is stored of it, without its row id (to store it again, changed)."""
        values = {name: getattr(self, name) for name in ProposalData.__dataclass_fields__}
        return ProposalData(**values)

    @property
    def local(self) -> bool:
        """Whether it was written here."""
        return self.local_actor_id is not None

    @property
    def secret(self) -> bool:
        """Whether who voted what stays hidden (only counts are shown)."""
        return self.ballot != "nominal"

    @property
    def is_default_ballot(self) -> bool:
        """Pour / Contre / Abstention: the result is adopted or rejected by the majority."""
        return tuple(self.options) == DEFAULT_OPTIONS


@dataclass(frozen=True)
class Vote:
    """One voter's ballot on a proposal (several options for a multiple-choice one)."""

    id: int
    proposal_id: int
    voter_uri: str
    options: tuple[str, ...]
    activity_uris: tuple[str, ...]
    local: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Tally:
    """Counts per option, split local / federated, and the number of voters; `trusted` is the
    part of `federated` cast from servers the proposal or the instance trusts."""

    local: dict[str, int] = field(default_factory=dict)
    federated: dict[str, int] = field(default_factory=dict)
    local_voters: int = 0
    federated_voters: int = 0
    trusted: dict[str, int] = field(default_factory=dict)
    trusted_voters: int = 0

    def total(self, option: str) -> int:
        """Every vote for an option, wherever it came from."""
        return self.local.get(option, 0) + self.federated.get(option, 0)

    def counted(self, option: str, *, federated_votes_count: bool) -> int:
        """The votes for an option that decide the result: local ones, and federated ones from
        trusted servers when the proposal counts federated votes at all."""
        trusted = self.trusted.get(option, 0) if federated_votes_count else 0
        return self.local.get(option, 0) + trusted

    @property
    def voters(self) -> int:
        """Everyone who voted."""
        return self.local_voters + self.federated_voters

    def counted_voters(self, *, federated_votes_count: bool) -> int:
        """The voters whose ballots decide the result."""
        return self.local_voters + (self.trusted_voters if federated_votes_count else 0)


@dataclass(frozen=True)
class VoterServer:
    """How many remote voters a proposal has from one server, and whether that server is
    trusted (its ballots count in the result)."""

    host: str
    voters: int
    trusted: bool


@dataclass(frozen=True)
class Comment:
    """A comment on a proposal, with the author's stance."""

    id: int
    proposal_id: int
    author_uri: str
    stance: Stance
    content_html: str
    published: datetime
    uri: str = ""
    local: bool = True
    content_source: str | None = None


AmendmentState = Literal["proposed", "accepted", "rejected"]


@dataclass(frozen=True)
class Amendment:
    """A change to a proposal's text, proposed during the amendment phase, with its up/down
    votes; accepted or rejected by the proposal's author or organisation."""

    id: int
    uri: str
    proposal_id: int
    author_uri: str
    content_html: str
    state: AmendmentState
    local: bool
    published: datetime
    decided_by: str | None
    decided_at: datetime | None
    up: int = 0
    down: int = 0
    content_source: str | None = None


@dataclass(frozen=True)
class Room:
    """A themed space of the cooperative space, owned by an organisation (its admins manage it)
    or by a served territory (the instance's admins manage it); not an actor."""

    id: int
    token: str
    uri: str
    name: str
    description_html: str
    organization_id: int | None
    territory_id: int | None
    status: RoomStatus
    members_only: bool
    created_by: str
    created_at: datetime
    updated_at: datetime | None

    @property
    def open(self) -> bool:
        """Whether new proposals may be written in it."""
        return self.status == "open"


ResolutionOutcome = Literal["adopted", "rejected", "chosen", "tie", "none"]
TaskStatus = Literal["todo", "in_progress", "done", "abandoned"]
TASK_STATUSES: tuple[TaskStatus, ...] = get_args(TaskStatus)
# A task nobody needs to look at any more.
FINISHED_STATUSES: tuple[TaskStatus, ...] = ("done", "abandoned")


@dataclass(frozen=True)
class Resolution:
    """What a closed vote decided, linked to its proposal and room: ours (token, proposal_id)
    or another fedicity's, received."""

    id: int
    uri: str
    token: str | None
    proposal_id: int | None
    proposal_uri: str
    room_id: int | None
    room_uri: str | None
    attributed_to: str
    title: str
    adopted: bool | None
    outcome: ResolutionOutcome
    chosen: str | None
    tally: dict[str, int]
    voters: int
    content_html: str
    closed_at: datetime
    local: bool
    created_at: datetime


@dataclass(frozen=True)
class Task:
    """An action of a room (a task), maybe following a resolution; `assignees` are the actor
    URIs of the contributors who took it."""

    id: int
    uri: str
    token: str | None
    local: bool
    room_id: int | None
    room_uri: str | None
    resolution_uri: str | None
    attributed_to: str
    created_by: str
    title: str
    description_html: str
    description_source: str | None
    status: TaskStatus
    starts: datetime | None
    ends: datetime | None
    assignees: tuple[str, ...]
    published: datetime
    updated: datetime | None

    @property
    def finished(self) -> bool:
        """Done or abandoned."""
        return self.status in FINISHED_STATUSES
