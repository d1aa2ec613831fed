"""Rooms: themed spaces of the cooperative space.

A room is owned by an organisation (its accepted admins create and archive it) or by a territory
this instance serves (the instance's administrators manage it). It may admit only the
organisation's members; an archived room takes no new proposals. A room is not an actor: its
proposals name it in `fc:room`, and it is served as a JSON-LD object (fc:Room) at its URL.
"""

from __future__ import annotations

from typing import Any

from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.organizations import queries as organization_queries
from fedicity.proposals import queries
from fedicity.proposals.document import room_to_ap
from fedicity.proposals.models import ROOM_STATUSES, Room
from fedicity.proposals.service import Env, ProposalError
from fedicity.territories.models import Territory
from fedicity.textfmt import render_markdown
from fedicity.urls import new_token

MAX_NAME = 200
MAX_DESCRIPTION = 5000


async def may_manage(conn: Connection, room: Room, actor: Actor, env: Env) -> bool:
    """An organisation's room: its accepted admins; a territory's room: instance admins."""
    if room.organization_id is not None:
        membership = await organization_queries.select_membership(
            conn, room.organization_id, env.urls.actor(actor.username)
        )
        return membership is not None and membership.is_admin
    return await queries.is_instance_admin(conn, actor.id)


async def create_room(
    conn: Connection,
    *,
    actor: Actor,
    name: str,
    description: str,
    env: Env,
    organization: Actor | None = None,
    territory: Territory | None = None,
    members_only: bool = False,
) -> Room:
    """A new open room of an organisation (by one of its admins) or of a served territory (by
    an instance administrator)."""
    if (organization is None) == (territory is None):
        raise ProposalError("room_owner", "a room belongs to an organisation or a territory")
    if not name.strip() or len(name.strip()) > MAX_NAME:
        raise ProposalError("room_name_invalid", f"a room's name has 1 to {MAX_NAME} characters")
    if len(description) > MAX_DESCRIPTION:
        raise ProposalError("too_long", f"a description has at most {MAX_DESCRIPTION} characters")
    me = env.urls.actor(actor.username)
    if organization is not None:
        if organization.kind != "organization":
            raise ProposalError("room_owner", "a room belongs to an organisation or a territory")
        membership = await organization_queries.select_membership(conn, organization.id, me)
        if membership is None or not membership.is_admin:
            raise ProposalError("not_allowed", "only the organisation's admins create its rooms")
    else:
        from fedicity.territories import service as territory_service

        assert territory is not None
        if members_only:
            raise ProposalError("room_owner", "only an organisation's room is for its members")
        if not await territory_service.is_served(conn, env.root, territory.id):
            raise ProposalError("territory_unknown", "this territory is not served here")
        if not await queries.is_instance_admin(conn, actor.id):
            raise ProposalError("not_allowed", "only the instance's admins create its rooms")
    token = new_token()
    return await queries.insert_room(
        conn,
        token=token,
        uri=env.urls.room(token),
        name=name.strip(),
        description_html=render_markdown(description),
        organization_id=organization.id if organization else None,
        territory_id=territory.id if territory else None,
        members_only=members_only,
        created_by=me,
        now=env.clock.now(),
    )


async def set_status(conn: Connection, *, actor: Actor, room: Room, status: str, env: Env) -> Room:
    """Archive a room (no new proposals; its proposals stay) or open it again."""
    if status not in ROOM_STATUSES:
        raise ProposalError("room_status_invalid", "a room is open or archived")
    if not await may_manage(conn, room, actor, env):
        raise ProposalError("not_allowed", "only the room's managers may do this")
    await queries.set_room_status(conn, room.id, status, env.clock.now())
    found = await queries.select_room(conn, room.id)
    assert found is not None
    return found


async def owner_uri(conn: Connection, room: Room, env: Env) -> str:
    """The organisation actor, or the territory's actor (its Group), that owns the room."""
    if room.organization_id is not None:
        organization = await actor_queries.select_actor_by_id(conn, room.organization_id)
        assert organization is not None
        return env.urls.actor(organization.username)
    assert room.territory_id is not None
    territory_actor = await actor_queries.select_territory_actor(conn, room.territory_id)
    return env.urls.actor(territory_actor.username) if territory_actor else env.urls.root


async def document(conn: Connection, room: Room, env: Env) -> dict[str, Any]:
    """The room as a JSON-LD object."""
    return room_to_ap(room, owner_uri=await owner_uri(conn, room, env), urls=env.urls)
