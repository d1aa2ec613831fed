"""The cooperative space: write a proposal, move it through its lifecycle, vote, comment.

Every rule is enforced here, for local and federated voters alike: one ballot per actor and
proposal, no vote outside the voting window, eligibility, vote changes only when allowed. Each
public state change and each new vote publishes the Question again (`Update`) in the same
transaction, to the author's followers and every remote voter (delivered to them, never listed in
the addressing, so anonymous ballots stay anonymous).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from fedicity.activitypub.keys import KeyGenerator, generate_rsa_keypair
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.located.models import NewItem
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.policy import trusted_authority
from fedicity.organizations import queries as organization_queries
from fedicity.proposals import queries
from fedicity.proposals.document import (
    MAX_COMMENTS_LISTED,
    amendment_create,
    amendment_to_ap,
    comment_create,
    comment_to_ap,
    question_activity,
    to_ap,
)
from fedicity.proposals.models import (
    ADOPTED,
    AGAINST,
    DEFAULT_OPTIONS,
    ELECTORATES,
    FOR,
    MAX_ATTACHMENT_NAME,
    MAX_ATTACHMENTS,
    MAX_OPTIONS,
    REJECTED,
    STANCES,
    Amendment,
    Attachment,
    Comment,
    Proposal,
    ProposalData,
    Room,
    State,
    Tally,
    Vote,
)
from fedicity.sanitize import html_to_text, safe_url
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.textfmt import plain_to_html
from fedicity.urls import Urls, new_token

MAX_TITLE = 200
MAX_TEXT = 20_000
MAX_OPTION = 100
MAX_COMMENT = 5000
MAX_TRUSTED_DOMAINS = 50


class ProposalError(DomainError):
    """A proposal operation or a vote was refused; `code` says why."""


@dataclass(frozen=True)
class Env:
    """What publishing needs: URL minting, time, keys, and the served territory (if any)."""

    urls: Urls
    clock: Clock
    keygen: KeyGenerator = generate_rsa_keypair
    root: Territory | None = None


def clean_attachments(links: list[tuple[str, str]] | None) -> tuple[Attachment, ...]:
    """Named links: http or https URLs, each with a name, at most 10 (duplicates dropped)."""
    found: dict[str, Attachment] = {}
    for href, name in links or []:
        href, name = href.strip(), " ".join(name.split())
        if safe_url(href) is None:
            raise ProposalError("attachment_invalid", "a link is an http or https address")
        if not name or len(name) > MAX_ATTACHMENT_NAME:
            raise ProposalError(
                "attachment_invalid", f"a link has a name of 1 to {MAX_ATTACHMENT_NAME} characters"
            )
        found.setdefault(href, Attachment(href=href, name=name))
    if len(found) > MAX_ATTACHMENTS:
        raise ProposalError("attachments_too_many", f"at most {MAX_ATTACHMENTS} links")
    return tuple(found.values())


async def admin_organizations(conn: Connection, actor: Actor, urls: Urls) -> list[Actor]:
    """The local organisations where a citizen is an accepted admin (a proposal may belong to
    them)."""
    found = []
    for organization_id, role in await organization_queries.select_organizations_of(
        conn, urls.actor(actor.username)
    ):
        if role != "admin":
            continue
        organization = await actor_queries.select_actor_by_id(conn, organization_id)
        if organization is not None and organization.kind == "organization":
            found.append(organization)
    return found


async def _is_member(conn: Connection, organization_id: int, member_uri: str) -> bool:
    membership = await organization_queries.select_membership(conn, organization_id, member_uri)
    return membership is not None and membership.accepted


async def _check_room_access(conn: Connection, room: Room, who_uri: str) -> None:
    """A members-only room admits its organisation's accepted members only."""
    if room.members_only and (
        room.organization_id is None or not await _is_member(conn, room.organization_id, who_uri)
    ):
        raise ProposalError("room_members_only", "this room is for the organisation's members")


def _clean_options(options: list[str] | None) -> tuple[str, ...]:
    if not options:
        return DEFAULT_OPTIONS
    cleaned = tuple(dict.fromkeys(o.strip() for o in options if o.strip()))
    if not 2 <= len(cleaned) <= MAX_OPTIONS:
        raise ProposalError("options_invalid", f"a vote has 2 to {MAX_OPTIONS} distinct options")
    if any(len(option) > MAX_OPTION for option in cleaned):
        raise ProposalError("options_invalid", f"an option has at most {MAX_OPTION} characters")
    return cleaned


async def create_draft(
    conn: Connection,
    *,
    actor: Actor,
    title: str,
    text: str,
    env: Env,
    options: list[str] | None = None,
    multiple: bool = False,
    tags: list[str] | None = None,
    territory: Territory | None = None,
    organization_uri: str | None = None,
    anonymous_votes: bool = False,
    vote_change_allowed: bool = True,
    majority: float = 0.5,
    electorate: str = "federated",
    federated_votes_count: bool = True,
    room: Room | None = None,
    attachments: list[tuple[str, str]] | None = None,
    trusted_vote_domains: list[str] | None = None,
) -> Proposal:
    """A new proposal, private to its author until it opens for amendments or voting.

    It may belong to an organisation where its author is an admin, or to a room (and through
    it to the room's organisation or territory)."""
    author_uri = env.urls.actor(actor.username)
    if room is not None:
        if not room.open:
            raise ProposalError("room_archived", "this room is archived")
        await _check_room_access(conn, room, author_uri)
        if room.organization_id is not None:
            owner = await actor_queries.select_actor_by_id(conn, room.organization_id)
            assert owner is not None
            owner_uri = env.urls.actor(owner.username)
            if organization_uri not in (None, owner_uri):
                raise ProposalError(
                    "organization_invalid", "a room's proposals belong to its organisation"
                )
            organization_uri = owner_uri
        if room.territory_id is not None:
            if territory is None:
                territory = await territory_queries.select_territory_by_id(conn, room.territory_id)
            elif not await territory_queries.is_descendant(conn, room.territory_id, territory.id):
                raise ProposalError("room_territory", "the place is outside the room's territory")
    elif organization_uri is not None:
        # Only an admin attaches a proposal to an organisation (a room's members need not be).
        organization = await actor_service.local_actor_for_uri(conn, env.urls, organization_uri)
        if organization is None or organization.kind != "organization":
            raise ProposalError("organization_invalid", "not an organisation of this instance")
        membership = await organization_queries.select_membership(conn, organization.id, author_uri)
        if membership is None or not membership.is_admin:
            raise ProposalError(
                "organization_invalid", "only the organisation's admins write in its name"
            )
    links = clean_attachments(attachments)
    trusted = clean_trusted_domains(trusted_vote_domains)
    if not title.strip() or len(title) > MAX_TITLE:
        raise ProposalError("title_invalid", f"a title has 1 to {MAX_TITLE} characters")
    if len(text) > MAX_TEXT:
        raise ProposalError("too_long", f"a proposal has at most {MAX_TEXT} characters")
    if not 0 < majority < 1:
        raise ProposalError("majority_invalid", "the majority is a fraction between 0 and 1")
    if electorate not in ELECTORATES:
        raise ProposalError("electorate_invalid", f"who votes is one of {', '.join(ELECTORATES)}")
    if electorate == "members":
        # Members' votes: only a local organisation's accepted members can be checked.
        organization = await actor_service.local_actor_for_uri(conn, env.urls, organization_uri)
        if organization is None or organization.kind != "organization":
            raise ProposalError(
                "electorate_unavailable", "a members' vote needs an organisation of this instance"
            )
    if electorate == "residents" and territory is None:
        raise ProposalError("territory_required", "a residents' vote needs a territory")
    chosen = _clean_options(options)
    if multiple and chosen == DEFAULT_OPTIONS:
        raise ProposalError("options_invalid", "Pour / Contre / Abstention is a single choice")
    token = new_token()
    data = ProposalData(
        uri=env.urls.proposal(token),
        token=token,
        local_actor_id=actor.id,
        author_uri=author_uri,
        title=title.strip(),
        content_html=plain_to_html(text),
        options=chosen,
        published=env.clock.now(),
        organization_uri=organization_uri,
        territory_id=territory.id if territory else None,
        tags=tuple(dict.fromkeys(t.strip().lstrip("#").lower() for t in tags or [] if t.strip())),
        multiple=multiple,
        anonymous_votes=anonymous_votes,
        vote_change_allowed=vote_change_allowed,
        majority=majority,
        electorate=electorate,
        federated_votes_count=federated_votes_count,
        room_id=room.id if room else None,
        attachments=links,
        trusted_vote_domains=trusted,
    )
    return await queries.upsert_proposal(conn, data)


def clean_trusted_domains(raw: list[str] | None) -> tuple[str, ...]:
    """The servers whose votes a proposal counts, each as `host` or `host:port`; ProposalError
    for an entry that names no server or for too many."""
    entries = [entry for entry in raw or [] if entry.strip()]
    if len(entries) > MAX_TRUSTED_DOMAINS:
        raise ProposalError(
            "trusted_domains_invalid", f"at most {MAX_TRUSTED_DOMAINS} trusted servers"
        )
    cleaned = []
    for entry in entries:
        authority = trusted_authority(entry)
        if authority is None:
            raise ProposalError("trusted_domains_invalid", "type server names such as example.org")
        cleaned.append(authority)
    return tuple(dict.fromkeys(cleaned))


async def trusted_domains(conn: Connection, proposal: Proposal) -> list[str]:
    """Every server whose votes count in a proposal's result: its own list and the instance's."""
    instance = await moderation_queries.select_vote_trusted_domains(conn, limit=1000)
    return list(dict.fromkeys([*proposal.trusted_vote_domains, *instance]))


def _may_manage(actor: Actor, proposal: Proposal, urls: Urls) -> bool:
    me = urls.actor(actor.username)
    return proposal.local and me in (proposal.author_uri, proposal.organization_uri)


async def _author(conn: Connection, proposal: Proposal) -> Actor:
    assert proposal.local_actor_id is not None
    author = await actor_queries.select_actor_by_id(conn, proposal.local_actor_id)
    assert author is not None
    return author


async def _audience_uri(conn: Connection, proposal: Proposal, env: Env) -> str | None:
    if proposal.territory_id is None:
        return None
    actor = await actor_queries.select_territory_actor(conn, proposal.territory_id)
    return env.urls.actor(actor.username) if actor else None


async def document(conn: Connection, proposal: Proposal, env: Env) -> dict[str, Any]:
    """The Question of a proposal with its current tallies."""
    counts = await queries.tally(conn, proposal.id) if proposal.local else None
    author = await _author(conn, proposal) if proposal.local else None
    followers = env.urls.actor_followers(author.username) if author else proposal.author_uri
    amendments = await queries.select_amendments(conn, proposal.id) if proposal.local else []
    comments = (
        await queries.select_comments(conn, proposal.id, limit=MAX_COMMENTS_LISTED)
        if proposal.local
        else []
    )
    room = await queries.select_room(conn, proposal.room_id) if proposal.room_id else None
    return to_ap(
        proposal,
        counts,
        env.urls,
        followers=followers,
        audience_uri=await _audience_uri(conn, proposal, env),
        amendments=amendments,
        comments=comments,
        comment_count=await queries.count_comments(conn, proposal.id) if proposal.local else 0,
        room=room,
    )


async def _announce(conn: Connection, proposal: Proposal, env: Env, *, first: bool) -> None:
    """Publish the proposal: Create the first time it leaves draft, Update afterwards."""
    author = await _author(conn, proposal)
    activity = question_activity(
        await document(conn, proposal, env),
        proposal,
        env.urls,
        activity_id=env.urls.create_activity(proposal.uri)
        if first
        else env.urls.activity(new_token()),
        first=first,
        followers=env.urls.actor_followers(author.username),
        now=env.clock.now(),
    )
    voters = await queries.select_remote_voter_uris(conn, proposal.id)
    extra = {proposal.organization_uri} if proposal.organization_uri else set()
    await publish(
        conn,
        actor=author,
        activity=activity,
        audience=Audience(frozenset(voters) | frozenset(extra), followers=True),
        urls=env.urls,
        clock=env.clock,
    )
    if first and proposal.territory_id is not None and env.root is not None:
        await _locate(conn, proposal, env, activity["id"])


async def _locate(conn: Connection, proposal: Proposal, env: Env, activity_uri: str) -> None:
    from fedicity.territories import service as territory_service

    assert proposal.territory_id is not None
    territory = await territory_queries.select_territory_by_id(conn, proposal.territory_id)
    if territory is None or not await territory_service.is_served(conn, env.root, territory.id):
        return
    await territory_service.locate_and_announce(
        conn,
        item=NewItem(
            object_uri=proposal.uri,
            kind="proposal",
            territory_id=territory.id,
            title=proposal.title,
            summary=html_to_text(proposal.content_html)[:500],
            url=proposal.uri,
            author_uri=proposal.author_uri,
            origin_host=env.urls.base.split("://", 1)[-1].rstrip("/"),
            published=proposal.published,
            latitude=territory.latitude,
            longitude=territory.longitude,
        ),
        activity_uri=activity_uri,
        root=env.root,
        urls=env.urls,
        clock=env.clock,
        keygen=env.keygen,
    )


async def _transition(
    conn: Connection,
    *,
    actor: Actor,
    proposal: Proposal,
    env: Env,
    allowed_from: tuple[State, ...],
    author_only: bool = False,
    **changes: Any,
) -> Proposal:
    async with conn.transaction():
        current = await queries.select_proposal_for_update(conn, proposal.id)
        assert current is not None
        me = env.urls.actor(actor.username)
        if not _may_manage(actor, current, env.urls) or (author_only and me != current.author_uri):
            raise ProposalError("not_allowed", "only the author or the organisation may do this")
        if current.state not in allowed_from:
            raise ProposalError(
                "wrong_state", f"not possible while the proposal is {current.state}"
            )
        updated = replace(current, updated=env.clock.now(), **changes)
        saved = await queries.upsert_proposal(conn, updated.as_data())
        if saved.state != "draft":
            await _announce(conn, saved, env, first=current.state == "draft")
    return saved


async def open_amendments(
    conn: Connection,
    *,
    actor: Actor,
    proposal: Proposal,
    until: datetime,
    env: Env,
    auto_voting_days: int | None = None,
) -> Proposal:
    """Draft -> amendable until a date; the proposal is published. With `auto_voting_days`, the
    vote opens by itself for that many days once the amendment period is over."""
    if until <= env.clock.now():
        raise ProposalError("date_invalid", "the amendment period must end in the future")
    if auto_voting_days is not None and not 1 <= auto_voting_days <= 365:
        raise ProposalError("date_invalid", "the vote lasts 1 to 365 days")
    return await _transition(
        conn,
        actor=actor,
        proposal=proposal,
        env=env,
        allowed_from=("draft",),
        state="amendable",
        amendable_until=until,
        auto_voting_days=auto_voting_days,
    )


async def open_voting(
    conn: Connection, *, actor: Actor, proposal: Proposal, ends: datetime, env: Env
) -> Proposal:
    """Draft or amendable -> voting from now until `ends`."""
    now = env.clock.now()
    if ends <= now:
        raise ProposalError("date_invalid", "the vote must end in the future")
    return await _transition(
        conn,
        actor=actor,
        proposal=proposal,
        env=env,
        allowed_from=("draft", "amendable"),
        state="voting",
        voting_opens=now,
        voting_ends=ends,
    )


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


async def close(conn: Connection, *, actor: Actor, proposal: Proposal, env: Env) -> Proposal:
    """Voting -> closed, with the result; the vote ends now if it had not ended yet."""
    async with conn.transaction():
        counts = await queries.tally(conn, proposal.id)
        now = env.clock.now()
        ends = proposal.voting_ends if proposal.voting_ends and proposal.voting_ends < now else now
        return await _transition(
            conn,
            actor=actor,
            proposal=proposal,
            env=env,
            allowed_from=("voting",),
            state="closed",
            voting_ends=ends,
            result=compute_result(proposal, counts),
        )


async def withdraw(conn: Connection, *, actor: Actor, proposal: Proposal, env: Env) -> Proposal:
    """The author takes the proposal back before the vote is over."""
    return await _transition(
        conn,
        actor=actor,
        proposal=proposal,
        env=env,
        allowed_from=("draft", "amendable", "voting"),
        author_only=True,
        state="withdrawn",
    )


async def archive(conn: Connection, *, actor: Actor, proposal: Proposal, env: Env) -> Proposal:
    """A closed or withdrawn proposal is archived."""
    return await _transition(
        conn,
        actor=actor,
        proposal=proposal,
        env=env,
        allowed_from=("closed", "withdrawn"),
        state="archived",
    )


async def answer(
    conn: Connection, *, actor: Actor, proposal: Proposal, text: str, env: Env
) -> Proposal:
    """The organisation's official answer (only the organisation the proposal belongs to)."""
    if proposal.organization_uri != env.urls.actor(actor.username):
        raise ProposalError("not_allowed", "only the organisation gives the official answer")
    if not text.strip() or len(text) > MAX_TEXT:
        raise ProposalError("answer_invalid", f"an answer has 1 to {MAX_TEXT} characters")
    return await _transition(
        conn,
        actor=actor,
        proposal=proposal,
        env=env,
        allowed_from=("amendable", "voting", "closed", "archived"),
        official_answer=plain_to_html(text),
    )


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
        if current.state != "voting" or (current.voting_opens and now < current.voting_opens):
            raise ProposalError("not_open", "the vote is not open")
        if current.voting_ends is None or now >= current.voting_ends:
            raise ProposalError("vote_closed", "the vote has ended")
        chosen = list(dict.fromkeys(options))
        if not chosen or any(option not in current.options for option in chosen):
            raise ProposalError("option_invalid", "this is not one of the options")
        if not current.multiple and len(chosen) > 1:
            raise ProposalError("option_invalid", "only one option may be chosen")
        await _eligible(conn, current, voter_uri, voter_home_territory_id, env.urls)
        earlier = await queries.select_vote(conn, current.id, voter_uri)
        activity_uris = [activity_uri]
        if earlier is not None:
            if activity_uri in earlier.activity_uris:
                raise ProposalError("already_counted", "this vote was already counted")
            adds_up = current.multiple and not (local and current.vote_change_allowed)
            if adds_up:
                if set(chosen) <= set(earlier.options):
                    raise ProposalError("already_counted", "this vote was already counted")
                chosen = list(dict.fromkeys([*earlier.options, *chosen]))
                activity_uris = [*earlier.activity_uris, activity_uri]
            elif list(earlier.options) == chosen:
                raise ProposalError("already_counted", "this vote was already counted")
            elif not current.vote_change_allowed:
                raise ProposalError("change_not_allowed", "votes cannot be changed")
            else:
                activity_uris = [*earlier.activity_uris, activity_uri]
        vote = await queries.upsert_vote(
            conn,
            proposal_id=current.id,
            voter_uri=voter_uri,
            options=chosen,
            activity_uris=activity_uris,
            local=local,
            now=now,
        )
        await _announce(conn, current, env, first=False)
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


async def _comment_rules(
    conn: Connection, proposal: Proposal, stance: str, author_uri: str
) -> None:
    if stance not in STANCES:
        raise ProposalError("stance_invalid", "a stance is for, neutral or against")
    if not proposal.local:
        raise ProposalError("proposal_unknown", "no such proposal here")
    if proposal.state not in ("amendable", "voting"):
        raise ProposalError("wrong_state", "comments are open during amendments and the vote")
    if proposal.room_id is not None:
        room = await queries.select_room(conn, proposal.room_id)
        if room is not None:
            await _check_room_access(conn, room, author_uri)


async def comment(
    conn: Connection, *, actor: Actor, proposal: Proposal, stance: str, text: str, env: Env
) -> Comment:
    """A comment for, against or neutral, while the proposal is open for debate; published as a
    Note in reply to the proposal (with `fc:stance`) to the proposal author's followers and the
    author, and the Question goes out again with it in `replies`."""
    if not text.strip() or len(text) > MAX_COMMENT:
        raise ProposalError("comment_invalid", f"a comment has 1 to {MAX_COMMENT} characters")
    author_uri = env.urls.actor(actor.username)
    async with conn.transaction():
        current = await queries.select_proposal_for_update(conn, proposal.id)
        if current is None:
            raise ProposalError("proposal_unknown", "no such proposal here")
        await _comment_rules(conn, current, stance, author_uri)
        found = await queries.insert_comment(
            conn,
            proposal_id=current.id,
            author_uri=author_uri,
            stance=stance,
            content_html=plain_to_html(text),
            now=env.clock.now(),
            uri=env.urls.comment(current.uri, new_token()),
        )
        assert found is not None
        proposal_author = await _author(conn, current)
        followers = env.urls.actor_followers(proposal_author.username)
        note = comment_to_ap(found, current, followers=followers, with_context=False)
        recipients = {
            current.author_uri,
            *await queries.select_follower_uris(conn, current.author_uri),
        }
        await publish(
            conn,
            actor=actor,
            activity=comment_create(note, env.urls),
            audience=Audience(frozenset(recipients - {author_uri})),
            urls=env.urls,
            clock=env.clock,
        )
        await _announce(conn, current, env, first=False)
    return found


async def receive_comment(
    conn: Connection,
    *,
    proposal: Proposal,
    author_uri: str,
    stance: str,
    content_html: str,
    uri: str,
    published: datetime | None,
    env: Env,
) -> Comment:
    """A comment from another server (a Note in reply to a local proposal), under the same
    rules as a local one; the Question goes out again with it in `replies`."""
    if not html_to_text(content_html).strip() or len(content_html) > 4 * MAX_COMMENT:
        raise ProposalError("comment_invalid", f"a comment has 1 to {MAX_COMMENT} characters")
    async with conn.transaction():
        current = await queries.select_proposal_for_update(conn, proposal.id)
        if current is None:
            raise ProposalError("proposal_unknown", "no such proposal here")
        await _comment_rules(conn, current, stance, author_uri)
        now = env.clock.now()
        found = await queries.insert_comment(
            conn,
            proposal_id=current.id,
            author_uri=author_uri,
            stance=stance,
            content_html=content_html,
            now=min(published, now) if published else now,
            uri=uri,
            local=False,
        )
        if found is None:
            raise ProposalError("already_counted", "this comment is already known")
        await _announce(conn, current, env, first=False)
    return found


async def receive_comment_edit(
    conn: Connection,
    *,
    comment: Comment,
    author_uri: str,
    stance: str,
    content_html: str,
    env: Env,
) -> Comment:
    """A remote comment edited by its author: text and stance replaced, under the rules of a new
    comment (the debate must still be open); the Question goes out again once, when it changed."""
    if not html_to_text(content_html).strip() or len(content_html) > 4 * MAX_COMMENT:
        raise ProposalError("comment_invalid", f"a comment has 1 to {MAX_COMMENT} characters")
    async with conn.transaction():
        current = await queries.select_proposal_for_update(conn, comment.proposal_id)
        if current is None:
            raise ProposalError("proposal_unknown", "no such proposal here")
        stored = await queries.select_comment(conn, comment.uri)
        if stored is None or stored.author_uri != author_uri:
            raise ProposalError("not_author", "only the comment's author can edit it")
        await _comment_rules(conn, current, stance, author_uri)
        if (stored.stance, stored.content_html) == (stance, content_html):
            raise ProposalError("unchanged", "the comment is unchanged")
        edited = await queries.update_comment(
            conn, uri=stored.uri, author_uri=author_uri, stance=stance, content_html=content_html
        )
        assert edited is not None
        await _announce(conn, current, env, first=False)
    return edited


async def receive_comment_delete(
    conn: Connection, *, comment: Comment, author_uri: str, env: Env
) -> None:
    """A remote comment deleted by its author: removed whatever the proposal's state (an author
    may always take their words back); the Question goes out again without it."""
    async with conn.transaction():
        current = await queries.select_proposal_for_update(conn, comment.proposal_id)
        if current is None:
            raise ProposalError("proposal_unknown", "no such proposal here")
        if not await queries.delete_comment(conn, uri=comment.uri, author_uri=author_uri):
            raise ProposalError("not_author", "only the comment's author can delete it")
        if current.local and current.state != "draft":
            await _announce(conn, current, env, first=False)


# --- amendments ---------------------------------------------------------------------------------


def _amendable(proposal: Proposal, now: datetime) -> None:
    if proposal.state != "amendable" or (
        proposal.amendable_until is not None and now >= proposal.amendable_until
    ):
        raise ProposalError("not_amendable", "amendments belong to the amendment period")


async def propose_amendment(
    conn: Connection,
    *,
    proposal: Proposal,
    author_uri: str,
    content_html: str,
    env: Env,
    author: Actor | None,
    uri: str | None = None,
) -> Amendment:
    """An amendment during the amendment period (local when `author` is given: its Note is
    published); the Question goes out again with its amendments."""
    if not html_to_text(content_html).strip() or len(content_html) > 2 * MAX_TEXT:
        raise ProposalError("amendment_invalid", f"an amendment has 1 to {MAX_TEXT} characters")
    async with conn.transaction():
        current = await queries.select_proposal_for_update(conn, proposal.id)
        if current is None or not current.local:
            raise ProposalError("proposal_unknown", "no such proposal here")
        _amendable(current, env.clock.now())
        amendment = await queries.insert_amendment(
            conn,
            uri=uri or env.urls.amendment(current.uri, new_token()),
            proposal_id=current.id,
            author_uri=author_uri,
            content_html=content_html,
            local=author is not None,
            now=env.clock.now(),
        )
        if amendment is None:
            raise ProposalError("already_counted", "this amendment is already known")
        if author is not None:
            followers = env.urls.actor_followers(author.username)
            note = amendment_to_ap(amendment, current, followers=followers, with_context=False)
            await publish(
                conn,
                actor=author,
                activity=amendment_create(note, env.urls),
                audience=Audience(frozenset({current.author_uri}), followers=True),
                urls=env.urls,
                clock=env.clock,
            )
        await _announce(conn, current, env, first=False)
    return amendment


async def amend(
    conn: Connection, *, actor: Actor, proposal: Proposal, text: str, env: Env
) -> Amendment:
    """A citizen of this instance proposes an amendment from the proposal's page."""
    if not text.strip() or len(text) > MAX_TEXT:
        raise ProposalError("amendment_invalid", f"an amendment has 1 to {MAX_TEXT} characters")
    return await propose_amendment(
        conn,
        proposal=proposal,
        author_uri=env.urls.actor(actor.username),
        content_html=plain_to_html(text),
        env=env,
        author=actor,
    )


async def _amendment_and_proposal(
    conn: Connection, amendment_id: int
) -> tuple[Amendment, Proposal]:
    amendment = await queries.select_amendment(conn, amendment_id)
    if amendment is None:
        raise ProposalError("amendment_unknown", "no such amendment")
    proposal = await queries.select_proposal_for_update(conn, amendment.proposal_id)
    assert proposal is not None
    return amendment, proposal


async def vote_amendment(
    conn: Connection, *, actor: Actor, amendment_id: int, up: bool, env: Env
) -> Amendment:
    """One up or down vote per actor on a proposed amendment, during the amendment period; a
    vote the other way replaces the first."""
    async with conn.transaction():
        amendment, proposal = await _amendment_and_proposal(conn, amendment_id)
        _amendable(proposal, env.clock.now())
        if amendment.state != "proposed":
            raise ProposalError("amendment_decided", "this amendment was already decided")
        if not await queries.upsert_amendment_vote(
            conn,
            amendment_id=amendment.id,
            voter_uri=env.urls.actor(actor.username),
            up=up,
            now=env.clock.now(),
        ):
            raise ProposalError("already_counted", "this vote was already counted")
        found = await queries.select_amendment(conn, amendment.id)
    assert found is not None
    return found


async def decide_amendment(
    conn: Connection, *, actor: Actor, amendment_id: int, accept: bool, env: Env
) -> Amendment:
    """The proposal's author or organisation accepts or rejects an amendment while the proposal
    is amendable; the decision (and an accepted amendment's text) is kept and published in the
    Question's `amendments`."""
    async with conn.transaction():
        amendment, proposal = await _amendment_and_proposal(conn, amendment_id)
        if not _may_manage(actor, proposal, env.urls):
            raise ProposalError("not_allowed", "only the author or the organisation may do this")
        if proposal.state != "amendable":
            raise ProposalError("not_amendable", "amendments belong to the amendment period")
        if not await queries.set_amendment_state(
            conn,
            amendment.id,
            state="accepted" if accept else "rejected",
            decided_by=env.urls.actor(actor.username),
            now=env.clock.now(),
        ):
            raise ProposalError("amendment_decided", "this amendment was already decided")
        await _announce(conn, proposal, env, first=False)
        found = await queries.select_amendment(conn, amendment.id)
    assert found is not None
    return found


# --- automatic phase changes --------------------------------------------------------------------

DUE_BATCH = 20


async def advance_due(conn: Connection, env: Env, *, limit: int = DUE_BATCH) -> int:
    """Close the votes whose end has passed (with their result) and open the vote of amendable
    proposals that ask for it once their period is over; each change goes out as an Update.
    Rows are claimed with SKIP LOCKED and re-checked by state, so several workers never apply a
    change twice. Returns how many proposals changed."""
    async with conn.transaction():
        now = env.clock.now()
        due = await queries.claim_due(conn, now, limit=limit)
        for proposal in due:
            changes: dict[str, Any]
            if proposal.state == "voting":
                counts = await queries.tally(conn, proposal.id)
                changes = {"state": "closed", "result": compute_result(proposal, counts)}
            else:
                assert proposal.auto_voting_days is not None
                changes = {
                    "state": "voting",
                    "voting_opens": now,
                    "voting_ends": now + timedelta(days=proposal.auto_voting_days),
                }
            saved = await queries.upsert_proposal(
                conn, replace(proposal, updated=now, **changes).as_data()
            )
            await _announce(conn, saved, env, first=False)
    return len(due)
