"""Room pages: open a room (an organisation's, or a served territory's), its proposals by state,
archive it or open it again; its JSON-LD object (fc:Room) for servers at the same URL."""

from __future__ import annotations

import json

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub.vocab import ACTIVITY_JSON
from fedicity.actors import queries as actor_queries
from fedicity.proposals import drafts, followup_queries, queries, rooms
from fedicity.proposals.models import STATES, Room
from fedicity.proposals.service import ProposalError
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import checked
from fedicity.web.messages import query_error
from fedicity.web.negotiation import wants_activitypub
from fedicity.web.people import known_actors
from fedicity.web.proposals import request_env, signed_in_actor
from fedicity.web.session import check_csrf
from fedicity.web.signed_fetch import serves_activitystreams
from fedicity.web.territories import resolve_place, served_root

blueprint = Blueprint("rooms", __name__)
blueprint.before_request(check_csrf)


async def _room(token: str) -> Room:
    async with state().db.acquire() as conn:
        room = await queries.select_room_by_token(conn, token)
    if room is None:
        raise Problem(404, "no such room")
    return room


@blueprint.get("/rooms/new")
async def new_room() -> str | WerkzeugResponse:
    """The form to open a room: for one's organisations, or a served territory (instance
    admins)."""
    me = await signed_in_actor()
    if me is None:
        return redirect(url_for("accounts.login", next=url_for("rooms.new_room")), 303)
    env = await request_env()
    async with state().db.acquire() as conn:
        organizations = await drafts.admin_organizations(conn, me, env.urls)
        instance_admin = await queries.is_instance_admin(conn, me.id)
    return await render_template(
        "room_new.html",
        error=query_error(),
        organizations=[(o.username, o.display_name or o.username) for o in organizations],
        instance_admin=instance_admin,
    )


@blueprint.post("/rooms")
async def create_room() -> WerkzeugResponse:
    """Open a room."""
    me = await signed_in_actor()
    if me is None:
        return redirect(url_for("accounts.login", next=url_for("rooms.new_room")), 303)
    form = await request.form
    owner = form.get("owner", "")
    territory = None
    organization = None
    async with state().db.acquire() as conn:
        if owner == "territory":
            territory = await resolve_place(form.get("territory", "")) or (
                await served_root() if not form.get("territory", "").strip() else None
            )
            if territory is None:
                return redirect(url_for("rooms.new_room", error="territory_unknown"), 303)
        else:
            organization = await actor_queries.select_actor_by_username(conn, owner)
            if organization is None:
                return redirect(url_for("rooms.new_room", error="room_owner"), 303)
        try:
            room = await rooms.create_room(
                conn,
                actor=me,
                name=form.get("name", ""),
                description=form.get("description", ""),
                env=await request_env(),
                organization=organization,
                territory=territory,
                members_only=checked(form, "members_only"),
            )
        except ProposalError as refused:
            return redirect(url_for("rooms.new_room", error=refused.code), 303)
    return redirect(url_for("rooms.room_page", token=room.token), 303)


@blueprint.get("/rooms/<token>")
@serves_activitystreams("negotiated")
async def room_page(token: str) -> str | Response:
    """A room: its JSON-LD object (fc:Room) for servers, its proposals by state for browsers."""
    room = await _room(token)
    env = await request_env()
    async with state().db.acquire() as conn:
        if wants_activitypub(request):
            document = await rooms.document(conn, room, env)
            return Response(json.dumps(document), content_type=f"{ACTIVITY_JSON}; charset=utf-8")
        me = await signed_in_actor()
        found = await queries.select_room_proposals(conn, room.id, limit=500)
        owner_uri = await rooms.owner_uri(conn, room, env)
        people = await known_actors(conn, env.urls, [owner_uri])
        manages = me is not None and await rooms.may_manage(conn, room, me, env)
        tasks = await followup_queries.select_room_tasks(conn, room.id, limit=200)
        following = me is not None and await followup_queries.is_following_room(
            conn, room.id, env.urls.actor(me.username)
        )
        followers = await followup_queries.count_room_followers(conn, room.id)
    by_state = {name: [p for p in found if p.state == name] for name in STATES if name != "draft"}
    return await render_template(
        "room.html",
        room=room,
        owner_uri=owner_uri,
        people=people,
        by_state=by_state,
        me=me,
        manages=manages,
        tasks=tasks,
        following=following,
        followers=followers,
        error=query_error(),
    )


@blueprint.post("/rooms/<token>/status")
async def room_status(token: str) -> WerkzeugResponse:
    """Archive a room, or open it again (its managers)."""
    me = await signed_in_actor()
    if me is None:
        return redirect(
            url_for("accounts.login", next=url_for("rooms.room_page", token=token)), 303
        )
    room = await _room(token)
    form = await request.form
    async with state().db.acquire() as conn:
        try:
            await rooms.set_status(
                conn, actor=me, room=room, status=form.get("status", ""), env=await request_env()
            )
        except ProposalError as refused:
            return redirect(url_for("rooms.room_page", token=token, error=refused.code), 303)
    return redirect(url_for("rooms.room_page", token=token), 303)
