"""What every operation of the cooperative space shares: its environment, its refusal, who may
manage a proposal or enter a room, and publishing a proposal's Question again.

The operations live in files named by their job: `drafts` (writing a proposal), `lifecycle`
(its state changes), `votes` (ballots and the result), `comments`, `amendments` and `phases`
(the automatic phase changes). Every rule is enforced there, for local and federated actors
alike. Each public state change, each new vote, comment or amendment publishes the Question
again (`Update`) in the same transaction, to the author's followers and every remote voter
(delivered to them, never listed in the addressing, so secret ballots stay secret), and to the
room's remote followers; a closed vote becomes a resolution (`resolutions`), and a room's
actions and followers live in `actions` and `room_follows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fedicity.activitypub.keys import KeyGenerator, generate_rsa_keypair
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.located.models import NewItem
from fedicity.organizations import queries as organization_queries
from fedicity.proposals import queries
from fedicity.proposals.document import MAX_COMMENTS_LISTED, question_activity, to_ap
from fedicity.proposals.models import Proposal, Room
from fedicity.sanitize import html_to_text
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.urls import Urls, new_token

MAX_TEXT = 20_000


class ProposalError(DomainError):
    """A proposal operation or a vote was refused; `code` says why."""


@dataclass(frozen=True)
class Env:
    """What publishing needs: URL minting, time, keys, and the served territory (if any)."""

    urls: Urls
    clock: Clock
    keygen: KeyGenerator = generate_rsa_keypair
    root: Territory | None = None


def may_manage(actor: Actor, proposal: Proposal, urls: Urls) -> bool:
    """Whether a citizen manages a local proposal: its author, or its organisation."""
    me = urls.actor(actor.username)
    return proposal.local and me in (proposal.author_uri, proposal.organization_uri)


async def is_member(conn: Connection, organization_id: int, member_uri: str) -> bool:
    """Whether an actor is an accepted member of a local organisation."""
    membership = await organization_queries.select_membership(conn, organization_id, member_uri)
    return membership is not None and membership.accepted


async def check_room_access(conn: Connection, room: Room, who_uri: str) -> None:
    """A members-only room admits its organisation's accepted members only."""
    if room.members_only and (
        room.organization_id is None or not await is_member(conn, room.organization_id, who_uri)
    ):
        raise ProposalError("room_members_only", "this room is for the organisation's members")


async def author_of(conn: Connection, proposal: Proposal) -> Actor:
    """The local author of a local proposal."""
    assert proposal.local_actor_id is not None
    author = await actor_queries.select_actor_by_id(conn, proposal.local_actor_id)
    assert author is not None
    return author


async def _audience_uri(conn: Connection, proposal: Proposal, env: Env) -> str | None:
    if proposal.territory_id is None:
        return None
    actor = await actor_queries.select_territory_actor(conn, proposal.territory_id)
    return env.urls.actor(actor.username) if actor else None


async def question(conn: Connection, proposal: Proposal, env: Env) -> dict[str, Any]:
    """The Question of a proposal with its current tallies."""
    counts = await queries.tally(conn, proposal.id) if proposal.local else None
    author = await author_of(conn, proposal) if proposal.local else None
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


async def announce(conn: Connection, proposal: Proposal, env: Env, *, first: bool) -> None:
    """Publish the proposal: Create the first time it leaves draft, Update afterwards."""
    author = await author_of(conn, proposal)
    activity = question_activity(
        await question(conn, proposal, env),
        proposal,
        env.urls,
        activity_id=env.urls.create_activity(proposal.uri)
        if first
        else env.urls.activity(new_token()),
        first=first,
        followers=env.urls.actor_followers(author.username),
        now=env.clock.now(),
    )
    from fedicity.proposals import resolutions, room_follows

    voters = await queries.select_remote_voter_uris(conn, proposal.id)
    extra = {proposal.organization_uri} if proposal.organization_uri else set()
    # A room's remote followers get every activity of its proposals.
    room_followers = await room_follows.remote_followers(conn, proposal.room_id)
    await publish(
        conn,
        actor=author,
        activity=activity,
        audience=Audience(frozenset(voters) | frozenset(extra) | room_followers, followers=True),
        urls=env.urls,
        clock=env.clock,
    )
    if first:
        await room_follows.tell_local_followers(
            conn,
            room_id=proposal.room_id,
            kind="room_proposal",
            actor_uri=proposal.author_uri,
            object_uri=proposal.uri,
            env=env,
        )
    if first and proposal.territory_id is not None and env.root is not None:
        await _locate(conn, proposal, env, activity["id"])
    # Every closing goes through here, in its transaction: the decision is recorded once.
    if proposal.state == "closed":
        await resolutions.record(conn, proposal, env)


async def _locate(conn: Connection, proposal: Proposal, env: Env, activity_uri: str) -> None:
    """A proposal placed in a served territory is located there, and its actor announces it."""
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
