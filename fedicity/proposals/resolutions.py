"""Resolutions: what a closed vote decided.

Every closing of a local proposal's vote (by its author or organisation, or by the phase loop
when its end has passed) publishes the Question once more through `service.announce`, which
calls `record` in the same transaction: the result becomes one resolution row (never two, however
often the closed proposal is published again), sent as a `Create` of an `Article` (fc:kind
Resolution) by the room's owner, to its followers and the room's. Remote resolutions (another
fedicity's) are kept as they came, beside the remote proposal.
"""

from __future__ import annotations

from typing import Any

from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.db.pool import Connection
from fedicity.proposals import followup_queries, queries, room_follows, votes
from fedicity.proposals.document import follow_up_activity, resolution_to_ap
from fedicity.proposals.models import ADOPTED, Proposal, Resolution, Room
from fedicity.proposals.service import Env, author_of
from fedicity.urls import new_token


async def publisher(conn: Connection, proposal: Proposal, room: Room | None, env: Env) -> Actor:
    """Who speaks for a proposal's decision: its room's owner, else its (local) organisation,
    else its author."""
    if room is not None:
        owner = await room_follows.owner_actor(conn, room)
        if owner is not None:
            return owner
    organization = await actor_service.local_actor_for_uri(
        conn, env.urls, proposal.organization_uri
    )
    if organization is not None and organization.kind == "organization":
        return organization
    return await author_of(conn, proposal)


async def record(conn: Connection, proposal: Proposal, env: Env) -> Resolution | None:
    """The resolution of a local proposal whose vote closed, made and published once; None when
    it already had one (or is not closed, or not ours)."""
    if not proposal.local or proposal.state != "closed" or proposal.token is None:
        return None
    if await followup_queries.select_resolution_of(conn, proposal.uri) is not None:
        return None
    counts = await queries.tally(conn, proposal.id)
    where = votes.standing(proposal, counts, await queries.select_voter_servers(conn, proposal.id))
    outcome = votes.outcome(proposal, proposal.result, where)
    room = await queries.select_room(conn, proposal.room_id) if proposal.room_id else None
    speaker = await publisher(conn, proposal, room, env)
    token = new_token()
    now = env.clock.now()
    saved = await followup_queries.insert_resolution(
        conn,
        {
            "uri": env.urls.resolution(token),
            "token": token,
            "proposal_id": proposal.id,
            "proposal_uri": proposal.uri,
            "room_id": room.id if room else None,
            "room_uri": room.uri if room else None,
            "attributed_to": env.urls.actor(speaker.username),
            "title": proposal.title,
            "adopted": (proposal.result == ADOPTED) if proposal.is_default_ballot else None,
            "outcome": outcome.kind,
            "chosen": outcome.option,
            "tally": {count.option: count.counted for count in where.options},
            "voters": where.counted_voters,
            "content_html": proposal.content_html,
            "closed_at": proposal.voting_ends or now,
            "local": True,
            "created_at": now,
        },
    )
    if saved is None:
        return None  # a concurrent closing made it first
    document = await as_document(conn, saved, env)
    activity = follow_up_activity(
        "Create", document, activity_id=env.urls.create_activity(saved.uri), now=now
    )
    if room is not None:
        await room_follows.publish_in_room(
            conn,
            room=room,
            owner=speaker,
            activity=activity,
            env=env,
            kind="room_resolution",
            object_uri=saved.uri,
        )
    else:
        await publish(
            conn,
            actor=speaker,
            activity=activity,
            audience=Audience(followers=True),
            urls=env.urls,
            clock=env.clock,
            keygen=env.keygen,
        )
    return saved


async def as_document(conn: Connection, resolution: Resolution, env: Env) -> dict[str, Any]:
    """A resolution's Article."""
    return resolution_to_ap(
        resolution,
        owner_followers=env.urls.followers_of(resolution.attributed_to),
        room_followers=env.urls.room_followers(resolution.room_uri)
        if resolution.room_uri
        else None,
    )


async def room_of(conn: Connection, resolution: Resolution) -> Room | None:
    """A resolution's room, when it is one of ours."""
    return await queries.select_room(conn, resolution.room_id) if resolution.room_id else None
