"""Writing a proposal: the draft, private to its author, with every choice checked (options,
majority, who votes, links, trusted servers) and its owner (an organisation, a room, a place)."""

from __future__ import annotations

import asyncio

from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.moderation.policy import trusted_authority
from fedicity.organizations import queries as organization_queries
from fedicity.proposals import queries
from fedicity.proposals.models import (
    BALLOTS,
    DEFAULT_OPTIONS,
    ELECTORATES,
    MAX_ATTACHMENT_NAME,
    MAX_ATTACHMENTS,
    MAX_OPTIONS,
    Attachment,
    Ballot,
    Electorate,
    Proposal,
    ProposalData,
    Room,
)
from fedicity.proposals.service import MAX_TEXT, Env, ProposalError, check_room_access
from fedicity.sanitize import safe_url
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.textfmt import render_markdown
from fedicity.urls import Urls, new_token

MAX_TITLE = 200
MAX_OPTION = 100
MAX_TRUSTED_DOMAINS = 50


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


def _clean_options(options: list[str] | None, *, multiple: bool) -> tuple[str, ...]:
    """2 to 20 distinct options; Pour / Contre / Abstention, a single choice, by default."""
    cleaned = DEFAULT_OPTIONS
    if options:
        cleaned = tuple(dict.fromkeys(o.strip() for o in options if o.strip()))
        if not 2 <= len(cleaned) <= MAX_OPTIONS:
            raise ProposalError(
                "options_invalid", f"a vote has 2 to {MAX_OPTIONS} distinct options"
            )
        if any(len(option) > MAX_OPTION for option in cleaned):
            raise ProposalError("options_invalid", f"an option has at most {MAX_OPTION} characters")
    if multiple and cleaned == DEFAULT_OPTIONS:
        raise ProposalError("options_invalid", "Pour / Contre / Abstention is a single choice")
    return cleaned


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


async def _in_room(
    conn: Connection,
    room: Room,
    author_uri: str,
    *,
    organization_uri: str | None,
    territory: Territory | None,
    env: Env,
) -> tuple[str | None, Territory | None]:
    """A proposal written in a room belongs to the room's organisation, and lies in the room's
    territory (its place, when given, must be inside it): the owner and place it gets."""
    if not room.open:
        raise ProposalError("room_archived", "this room is archived")
    await check_room_access(conn, room, author_uri)
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
    return organization_uri, territory


async def _check_admin(conn: Connection, organization_uri: str, author_uri: str, env: Env) -> None:
    """Only an admin attaches a proposal to an organisation (a room's members need not be)."""
    organization = await actor_service.local_actor_for_uri(conn, env.urls, organization_uri)
    if organization is None or organization.kind != "organization":
        raise ProposalError("organization_invalid", "not an organisation of this instance")
    membership = await organization_queries.select_membership(conn, organization.id, author_uri)
    if membership is None or not membership.is_admin:
        raise ProposalError(
            "organization_invalid", "only the organisation's admins write in its name"
        )


def _check_text(title: str, text: str, majority: float) -> None:
    if not title.strip() or len(title) > MAX_TITLE:
        raise ProposalError("title_invalid", f"a title has 1 to {MAX_TITLE} characters")
    if len(text) > MAX_TEXT:
        raise ProposalError("too_long", f"a proposal has at most {MAX_TEXT} characters")
    if not 0 < majority < 1:
        raise ProposalError("majority_invalid", "the majority is a fraction between 0 and 1")


def _ballot(value: str) -> Ballot:
    if value not in BALLOTS:
        raise ProposalError("ballot_invalid", "a ballot is secret or nominal")
    ballot: Ballot = value
    return ballot


def _electorate(value: str) -> Electorate:
    if value not in ELECTORATES:
        raise ProposalError("electorate_invalid", f"who votes is one of {', '.join(ELECTORATES)}")
    electorate: Electorate = value
    return electorate


async def _check_electorate(
    conn: Connection,
    electorate: str,
    *,
    organization_uri: str | None,
    territory: Territory | None,
    env: Env,
) -> None:
    """Members' votes need a local organisation, residents' votes a territory."""
    if electorate == "members":
        # Members' votes: only a local organisation's accepted members can be checked.
        organization = await actor_service.local_actor_for_uri(conn, env.urls, organization_uri)
        if organization is None or organization.kind != "organization":
            raise ProposalError(
                "electorate_unavailable", "a members' vote needs an organisation of this instance"
            )
    if electorate == "residents" and territory is None:
        raise ProposalError("territory_required", "a residents' vote needs a territory")


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
    ballot: str = "secret",
    vote_change_allowed: bool = True,
    majority: float = 0.5,
    electorate: str = "federated",
    federated_votes_count: bool = True,
    room: Room | None = None,
    attachments: list[tuple[str, str]] | None = None,
    trusted_vote_domains: list[str] | None = None,
) -> Proposal:
    """A new proposal, private to its author until it opens for amendments or voting; its text
    is Markdown, its ballot secret unless `ballot` is "nominal".

    It may belong to an organisation where its author is an admin, or to a room (and through
    it to the room's organisation or territory)."""
    author_uri = env.urls.actor(actor.username)
    if room is not None:
        organization_uri, territory = await _in_room(
            conn, room, author_uri, organization_uri=organization_uri, territory=territory, env=env
        )
    elif organization_uri is not None:
        await _check_admin(conn, organization_uri, author_uri, env)
    links = clean_attachments(attachments)
    trusted = clean_trusted_domains(trusted_vote_domains)
    _check_text(title, text, majority)
    voters = _electorate(electorate)
    kind = _ballot(ballot)
    await _check_electorate(
        conn, voters, organization_uri=organization_uri, territory=territory, env=env
    )
    chosen = _clean_options(options, multiple=multiple)
    token = new_token()
    data = ProposalData(
        uri=env.urls.proposal(token),
        token=token,
        local_actor_id=actor.id,
        author_uri=author_uri,
        title=title.strip(),
        content_html=await asyncio.to_thread(render_markdown, text),
        content_source=text if text.strip() else None,
        options=chosen,
        published=env.clock.now(),
        organization_uri=organization_uri,
        territory_id=territory.id if territory else None,
        tags=tuple(dict.fromkeys(t.strip().lstrip("#").lower() for t in tags or [] if t.strip())),
        multiple=multiple,
        ballot=kind,
        vote_change_allowed=vote_change_allowed,
        majority=majority,
        electorate=voters,
        federated_votes_count=federated_votes_count,
        room_id=room.id if room else None,
        attachments=links,
        trusted_vote_domains=trusted,
    )
    return await queries.upsert_proposal(conn, data)
