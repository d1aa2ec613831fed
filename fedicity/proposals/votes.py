"""Ballots and the result: one ballot per actor and proposal, no vote outside the voting window,
eligibility, vote changes only when allowed; the result by the majority, counting federated
votes only from trusted servers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.moderation import queries as moderation_queries
from fedicity.notifications.service import notify
from fedicity.organizations import queries as organization_queries
from fedicity.proposals import queries
from fedicity.proposals.models import (
    ADOPTED,
    AGAINST,
    FOR,
    REJECTED,
    Proposal,
    Tally,
    Vote,
    VoterServer,
)
from fedicity.proposals.service import Env, ProposalError, announce
from fedicity.territories import queries as territory_queries
from fedicity.urls import Urls, new_token


def compute_result(proposal: Proposal, counts: Tally) -> str | None:
    """adopted/rejected by the majority for Pour/Contre/Abstention (abstentions not counted),
    else the option with the most votes (None on a tie or without votes)."""

    def count(option: str) -> int:
        return counts.counted(option, federated_votes_count=proposal.federated_votes_count)

    if proposal.is_default_ballot:
        # Abstentions are not counted: the majority is of the votes cast for or against.
        cast = count(FOR) + count(AGAINST)
        return ADOPTED if cast and count(FOR) / cast > proposal.majority else REJECTED
    ranked = sorted(((count(o), o) for o in proposal.options), reverse=True)
    if ranked[0][0] == 0 or ranked[0][0] == ranked[1][0]:
        return None
    return ranked[0][1]


@dataclass(frozen=True)
class OptionCount:
    """One option of a result: the ballots that decide (local, and from trusted servers when
    they count), their share of the counted voters, and the remote ballots only shown."""

    option: str
    counted: int
    share: float
    local: int
    trusted: int
    not_counted: int


OutcomeKind = Literal["adopted", "rejected", "chosen", "tie", "none"]


@dataclass(frozen=True)
class Outcome:
    """A result in words: adopted or rejected (Pour / Contre / Abstention, with the share of
    "Pour" among the votes for or against), the chosen option, a tie, or no vote at all."""

    kind: OutcomeKind
    option: str | None = None
    tied: tuple[str, ...] = ()
    for_share: float | None = None

    @property
    def ahead(self) -> tuple[str, ...]:
        """The options the outcome is made of (to set them apart): the chosen one, the tied
        ones, "Pour" when adopted, "Contre" when rejected by the votes."""
        if self.kind == "chosen" and self.option is not None:
            return (self.option,)
        if self.kind == "adopted":
            return (FOR,)
        if self.kind == "rejected" and self.for_share is not None:
            return (AGAINST,)
        return self.tied


@dataclass(frozen=True)
class Standing:
    """Where a vote stands: per option, the counted voters, and the remote servers whose
    ballots counted or were only shown (untrusted, or federated votes not counted at all)."""

    options: tuple[OptionCount, ...]
    counted_voters: int
    counted_servers: tuple[VoterServer, ...]
    ignored_servers: tuple[VoterServer, ...]

    @property
    def ignored_voters(self) -> int:
        """Remote voters whose ballots are shown but not counted."""
        return sum(server.voters for server in self.ignored_servers)


def standing(proposal: Proposal, counts: Tally, servers: Sequence[VoterServer]) -> Standing:
    """The counts that decide the result and where the remote ones came from (pure)."""
    federated = proposal.federated_votes_count
    voters = counts.counted_voters(federated_votes_count=federated)
    options = []
    for option in proposal.options:
        counted = counts.counted(option, federated_votes_count=federated)
        trusted = counts.trusted.get(option, 0)
        options.append(
            OptionCount(
                option=option,
                counted=counted,
                share=counted / voters if voters else 0.0,
                local=counts.local.get(option, 0),
                trusted=trusted if federated else 0,
                not_counted=counts.federated.get(option, 0) - (trusted if federated else 0),
            )
        )
    return Standing(
        options=tuple(options),
        counted_voters=voters,
        counted_servers=tuple(s for s in servers if s.trusted and federated),
        ignored_servers=tuple(s for s in servers if not (s.trusted and federated)),
    )


def outcome(proposal: Proposal, result: str | None, where: Standing) -> Outcome:
    """A result (`compute_result`'s, or the one a closed proposal kept) in words."""
    by_option = {count.option: count.counted for count in where.options}
    if proposal.is_default_ballot:
        cast = by_option.get(FOR, 0) + by_option.get(AGAINST, 0)
        share = by_option.get(FOR, 0) / cast if cast else None
        return Outcome("adopted" if result == ADOPTED else "rejected", for_share=share)
    if result is not None and result in by_option:
        return Outcome("chosen", option=result)
    top = max(by_option.values(), default=0)
    if top == 0:
        return Outcome("none")
    return Outcome("tie", tied=tuple(o for o, n in by_option.items() if n == top))


async def trusted_domains(conn: Connection, proposal: Proposal) -> list[str]:
    """Every server whose votes count in a proposal's result: its own list and the instance's."""
    instance = await moderation_queries.select_vote_trusted_domains(conn, limit=1000)
    return list(dict.fromkeys([*proposal.trusted_vote_domains, *instance]))


async def _eligible(
    conn: Connection,
    proposal: Proposal,
    voter_uri: str,
    voter_home_territory_id: int | None,
    urls: Urls,
) -> None:
    if proposal.electorate == "federated":
        return
    if proposal.electorate == "residents":
        # Remote voters cannot prove where they live: only local residents vote.
        if (
            proposal.territory_id is None
            or voter_home_territory_id is None
            or not await territory_queries.is_descendant(
                conn, proposal.territory_id, voter_home_territory_id
            )
        ):
            raise ProposalError("not_eligible", "only residents of the territory may vote")
        return
    # electorate 'members': accepted members of the proposal's (local) organisation.
    organization = await actor_service.local_actor_for_uri(conn, urls, proposal.organization_uri)
    membership = (
        await organization_queries.select_membership(conn, organization.id, voter_uri)
        if organization is not None and organization.kind == "organization"
        else None
    )
    if membership is None or not membership.accepted:
        raise ProposalError("not_eligible", "only the organisation's members may vote")


async def may_vote(conn: Connection, proposal: Proposal, actor: Actor, env: Env) -> bool:
    """Whether a citizen here is in a proposal's electorate (the ballot's own check)."""
    try:
        await _eligible(
            conn, proposal, env.urls.actor(actor.username), actor.home_territory_id, env.urls
        )
    except ProposalError:
        return False
    return True


def _chosen(proposal: Proposal, options: list[str], now: datetime) -> list[str]:
    """The options of a ballot while the vote is open: each one of the proposal's, one only for
    a single choice."""
    if proposal.state != "voting" or (proposal.voting_opens and now < proposal.voting_opens):
        raise ProposalError("not_open", "the vote is not open")
    if proposal.voting_ends is None or now >= proposal.voting_ends:
        raise ProposalError("vote_closed", "the vote has ended")
    chosen = list(dict.fromkeys(options))
    if not chosen or any(option not in proposal.options for option in chosen):
        raise ProposalError("option_invalid", "this is not one of the options")
    if not proposal.multiple and len(chosen) > 1:
        raise ProposalError("option_invalid", "only one option may be chosen")
    return chosen


def _after_earlier(
    proposal: Proposal, earlier: Vote, chosen: list[str], activity_uri: str, *, local: bool
) -> tuple[list[str], list[str]]:
    """The options and activities a voter's ballot holds once a new one joins their earlier
    one: added up (multiple choice, as Mastodon sends one Create per option), or replacing it
    when vote change is allowed."""
    if activity_uri in earlier.activity_uris:
        raise ProposalError("already_counted", "this vote was already counted")
    if proposal.multiple and not (local and proposal.vote_change_allowed):
        if set(chosen) <= set(earlier.options):
            raise ProposalError("already_counted", "this vote was already counted")
        chosen = list(dict.fromkeys([*earlier.options, *chosen]))
    elif list(earlier.options) == chosen:
        raise ProposalError("already_counted", "this vote was already counted")
    elif not proposal.vote_change_allowed:
        raise ProposalError("change_not_allowed", "votes cannot be changed")
    return chosen, [*earlier.activity_uris, activity_uri]


async def record_vote(
    conn: Connection,
    *,
    proposal: Proposal,
    voter_uri: str,
    options: list[str],
    activity_uri: str,
    local: bool,
    voter_home_territory_id: int | None,
    env: Env,
) -> Vote:
    """Count a ballot (local or federated) under every rule, then publish the new tallies.

    Single choice: a second ballot replaces the first only when vote change is allowed.
    Multiple choice: the options of successive ballots add up (Mastodon and GoToSocial send one
    Create per chosen option); with vote change allowed, a local ballot replaces the earlier one.
    """
    async with conn.transaction():
        current = await queries.select_proposal_for_update(conn, proposal.id)
        if current is None or not current.local:
            raise ProposalError("proposal_unknown", "no such proposal here")
        now = env.clock.now()
        chosen = _chosen(current, options, now)
        await _eligible(conn, current, voter_uri, voter_home_territory_id, env.urls)
        earlier = await queries.select_vote(conn, current.id, voter_uri)
        activity_uris = [activity_uri]
        if earlier is not None:
            chosen, activity_uris = _after_earlier(
                current, earlier, chosen, activity_uri, local=local
            )
        vote = await queries.upsert_vote(
            conn,
            proposal_id=current.id,
            voter_uri=voter_uri,
            options=chosen,
            activity_uris=activity_uris,
            local=local,
            now=now,
        )
        if not current.secret:
            # A secret ballot tells its author nothing of who voted: no notification names a
            # voter (its counts show on the proposal's page).
            await notify(
                conn,
                recipient=current.author_uri,
                kind="proposal_vote",
                actor_uri=voter_uri,
                object_uri=current.uri,
                urls=env.urls,
                clock=env.clock,
            )
        await announce(conn, current, env, first=False)
    return vote


async def vote_locally(
    conn: Connection, *, actor: Actor, proposal: Proposal, options: list[str], env: Env
) -> Vote:
    """A citizen of this instance votes from the proposal page."""
    return await record_vote(
        conn,
        proposal=proposal,
        voter_uri=env.urls.actor(actor.username),
        options=options,
        activity_uri=env.urls.activity(new_token()),
        local=True,
        voter_home_territory_id=actor.home_territory_id,
        env=env,
    )
