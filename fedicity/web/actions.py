"""What follows a vote, on the web: a resolution's page, a room's actions (create, take, leave,
status, edit, remove), following a room and its followers' collection, and "my dashboard".
Resolutions and actions are served as ActivityStreams at the same URL to servers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub.vocab import ACTIVITY_JSON
from fedicity.actors.models import Actor
from fedicity.proposals import actions, resolutions, room_follows, rooms, votes
from fedicity.proposals import followup_queries as queries
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals.document import room_followers_collection
from fedicity.proposals.models import TASK_STATUSES, Resolution, Room, Task
from fedicity.proposals.service import ProposalError
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.messages import message, query_error
from fedicity.web.negotiation import wants_activitypub
from fedicity.web.people import known_actors
from fedicity.web.proposals import request_env, signed_in_actor
from fedicity.web.ratelimits import posting_wait, too_fast
from fedicity.web.session import check_csrf
from fedicity.web.signed_fetch import serves_activitystreams

blueprint = Blueprint("actions", __name__)
blueprint.before_request(check_csrf)

LISTED = 200
DASHBOARD_LISTED = 50
# A refusal's status: who may not (403), what is not there (404), what was typed (422).
STATUS_OF = {
    "not_allowed": 403,
    "room_members_only": 403,
    "action_unknown": 404,
    "resolution_unknown": 404,
    "room_unknown": 404,
}


def _activity_json(document: dict[str, Any]) -> Response:
    return Response(json.dumps(document), content_type=f"{ACTIVITY_JSON}; charset=utf-8")


async def _room(token: str) -> Room:
    async with state().db.acquire() as conn:
        room = await proposal_queries.select_room_by_token(conn, token)
    if room is None:
        raise Problem(404, "no such room")
    return room


async def _task(token: str) -> Task:
    async with state().db.acquire() as conn:
        task = await queries.select_task_by_token(conn, token)
    if task is None:
        raise Problem(404, "no such action")
    return task


def _login(next_url: str) -> WerkzeugResponse:
    return redirect(url_for("accounts.login", next=next_url), 303)


def _day(form: MultiDict[str, str], name: str) -> datetime | None:
    """A form's date (YYYY-MM-DD) as midnight UTC; None when empty; a refusal when unreadable."""
    raw = form.get(name, "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ProposalError("action_date_invalid", "unreadable date") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _fields(form: MultiDict[str, str]) -> actions.TaskFields:
    return actions.TaskFields(
        title=form.get("title", ""),
        description=form.get("description", ""),
        starts=_day(form, "starts"),
        ends=_day(form, "ends"),
    )


# -- resolutions ---------------------------------------------------------------------------------


@blueprint.get("/resolutions/<token>")
@serves_activitystreams("negotiated")
async def resolution_page(token: str) -> str | Response:
    """A resolution: its Article for servers; its outcome, tally, text and actions for
    browsers."""
    env = await request_env()
    async with state().db.acquire() as conn:
        resolution = await queries.select_resolution_by_token(conn, token)
        if resolution is None:
            raise Problem(404, "no such resolution")
        if wants_activitypub(request):
            return _activity_json(await resolutions.as_document(conn, resolution, env))
        me = await signed_in_actor()
        room = await resolutions.room_of(conn, resolution)
        tasks = await queries.select_resolution_tasks(conn, resolution.uri, limit=LISTED)
        proposal = (
            await proposal_queries.select_proposal(conn, resolution.proposal_uri)
            if resolution.proposal_id
            else None
        )
        people = await known_actors(
            conn, env.urls, [resolution.attributed_to, *(u for t in tasks for u in t.assignees)]
        )
    return await render_template(
        "resolution.html",
        resolution=resolution,
        proposal=proposal,
        room=room,
        tasks=tasks,
        people=people,
        me=me,
        error=query_error(),
    )


# -- actions -------------------------------------------------------------------------------------


async def _form_page(
    room: Room,
    *,
    resolution: Resolution | None,
    values: dict[str, str],
    error: str | None,
    task: Task | None = None,
) -> str:
    return await render_template(
        "action_form.html",
        room=room,
        resolution=resolution,
        task=task,
        values=values,
        error=error,
        max_title=actions.MAX_TITLE,
        max_description=actions.MAX_DESCRIPTION,
    )


async def _resolution_of_form(token: str) -> Resolution | None:
    if not token:
        return None
    async with state().db.acquire() as conn:
        found = await queries.select_resolution_by_token(conn, token)
    if found is None:
        raise Problem(404, "no such resolution")
    return found


@blueprint.get("/rooms/<token>/actions/new")
async def new_action(token: str) -> str | WerkzeugResponse:
    """The form of a new action in a room (from a resolution when `?resolution=` names one)."""
    me = await signed_in_actor()
    if me is None:
        return _login(request.full_path)
    room = await _room(token)
    resolution = await _resolution_of_form(request.args.get("resolution", ""))
    return await _form_page(room, resolution=resolution, values={}, error=None)


@blueprint.post("/rooms/<token>/actions")
async def create_action(token: str) -> Response | WerkzeugResponse | tuple[str, int]:
    """Create an action; a refusal shows the form again with its message and what was typed."""
    me = await signed_in_actor()
    if me is None:
        return _login(url_for("rooms.room_page", token=token))
    room = await _room(token)
    form = await request.form
    resolution = await _resolution_of_form(form.get("resolution", ""))
    # An action is published as the room's owner: the account's publishing limit applies.
    wait = await posting_wait()
    try:
        if wait is not None:
            raise ProposalError("posting_too_fast")
        fields = _fields(form)
        async with state().db.acquire() as conn:
            task = await actions.create(
                conn,
                actor=me,
                room=room,
                fields=fields,
                env=await request_env(),
                resolution=resolution,
            )
    except ProposalError as refused:
        values = {
            key: form.get(key, "")[:20_000] for key in ("title", "description", "starts", "ends")
        }
        page = await _form_page(
            room, resolution=resolution, values=values, error=message(refused.code)
        )
        if wait is not None:
            return too_fast(page, wait)
        return page, STATUS_OF.get(refused.code, 422)
    assert task.token is not None
    return redirect(url_for("actions.action_page", token=task.token), 303)


@blueprint.get("/actions/<token>")
@serves_activitystreams("negotiated")
async def action_page(token: str) -> str | Response:
    """An action: its Page for servers; its status, dates, contributors and buttons for
    browsers."""
    task = await _task(token)
    if wants_activitypub(request):
        async with state().db.acquire() as conn:
            return _activity_json(await actions.as_document(conn, task, await request_env()))
    return await _action_view(task, query_error())


async def _action_view(task: Task, error: str | None) -> str:
    env = await request_env()
    me = await signed_in_actor()
    async with state().db.acquire() as conn:
        room = await proposal_queries.select_room(conn, task.room_id) if task.room_id else None
        resolution = (
            await queries.select_resolution(conn, task.resolution_uri)
            if task.resolution_uri
            else None
        )
        people = await known_actors(conn, env.urls, [task.created_by, *task.assignees])
        manages = (
            me is not None
            and room is not None
            and (
                env.urls.actor(me.username) == task.created_by
                or await rooms.may_manage(conn, room, me, env)
            )
        )
    me_uri = env.urls.actor(me.username) if me else None
    return await render_template(
        "action.html",
        task=task,
        room=room,
        resolution=resolution,
        people=people,
        me=me,
        mine=me_uri in task.assignees,
        manages=manages,
        statuses=TASK_STATUSES,
        error=error,
    )


async def _on_action(token: str, run: Any) -> WerkzeugResponse | tuple[str, int]:
    """A change to an action by a signed-in citizen, then back to its page; a refusal is the
    page's message with its status (403, 404, 422)."""
    me = await signed_in_actor()
    if me is None:
        return _login(url_for("actions.action_page", token=token))
    task = await _task(token)
    form = await request.form
    try:
        async with state().db.acquire() as conn:
            await run(conn, me, task, form)
    except ProposalError as refused:
        return await _refused_page(task, refused.code)
    return redirect(url_for("actions.action_page", token=token), 303)


async def _refused_page(task: Task, code: str) -> tuple[str, int]:
    """The action's page with the refusal's message, under its status."""
    return await _action_view(task, message(code)), STATUS_OF.get(code, 422)


@blueprint.post("/actions/<token>/take")
async def take_action(token: str) -> WerkzeugResponse | tuple[str, int]:
    """ "Je m'en occupe"."""

    async def run(conn: Any, me: Actor, task: Task, form: Any) -> None:
        await actions.take(conn, actor=me, task=task, env=await request_env())

    return await _on_action(token, run)


@blueprint.post("/actions/<token>/leave")
async def leave_action(token: str) -> WerkzeugResponse | tuple[str, int]:
    """Stop taking part in an action."""

    async def run(conn: Any, me: Actor, task: Task, form: Any) -> None:
        await actions.leave(conn, actor=me, task=task, env=await request_env())

    return await _on_action(token, run)


@blueprint.post("/actions/<token>/status")
async def action_status(token: str) -> WerkzeugResponse | tuple[str, int]:
    """To do, in progress, done, abandoned."""

    async def run(conn: Any, me: Actor, task: Task, form: Any) -> None:
        await actions.set_status(
            conn, actor=me, task=task, status=form.get("status", ""), env=await request_env()
        )

    return await _on_action(token, run)


@blueprint.post("/actions/<token>/delete")
async def delete_action(token: str) -> WerkzeugResponse | tuple[str, int]:
    """Remove an action (its creator or the room's managers)."""
    me = await signed_in_actor()
    if me is None:
        return _login(url_for("actions.action_page", token=token))
    task = await _task(token)
    try:
        async with state().db.acquire() as conn:
            await actions.remove(conn, actor=me, task=task, env=await request_env())
    except ProposalError as refused:
        return await _refused_page(task, refused.code)
    return redirect(task.room_uri or url_for("actions.dashboard"), 303)


@blueprint.get("/actions/<token>/edit")
async def edit_action_form(token: str) -> str | WerkzeugResponse:
    """The form to change an action."""
    me = await signed_in_actor()
    if me is None:
        return _login(url_for("actions.action_page", token=token))
    task = await _task(token)
    async with state().db.acquire() as conn:
        room = await proposal_queries.select_room(conn, task.room_id) if task.room_id else None
    if room is None:
        raise Problem(404, "no such action")
    values = {
        "title": task.title,
        "description": task.description_source or "",
        "starts": task.starts.date().isoformat() if task.starts else "",
        "ends": task.ends.date().isoformat() if task.ends else "",
    }
    return await _form_page(room, resolution=None, values=values, error=None, task=task)


@blueprint.post("/actions/<token>/edit")
async def edit_action(token: str) -> WerkzeugResponse | tuple[str, int]:
    """Change an action's title, description and dates."""
    me = await signed_in_actor()
    if me is None:
        return _login(url_for("actions.action_page", token=token))
    task = await _task(token)
    form = await request.form
    try:
        fields = _fields(form)
        async with state().db.acquire() as conn:
            await actions.edit(conn, actor=me, task=task, fields=fields, env=await request_env())
    except ProposalError as refused:
        async with state().db.acquire() as conn:
            room = await proposal_queries.select_room(conn, task.room_id or 0)
        assert room is not None
        values = {
            key: form.get(key, "")[:20_000] for key in ("title", "description", "starts", "ends")
        }
        page = await _form_page(
            room, resolution=None, values=values, error=message(refused.code), task=task
        )
        return page, STATUS_OF.get(refused.code, 422)
    return redirect(url_for("actions.action_page", token=token), 303)


# -- following a room ----------------------------------------------------------------------------


@blueprint.post("/rooms/<token>/follow")
async def follow_room(token: str) -> WerkzeugResponse:
    """Follow a room (or stop, with `stop`): its news in one's notifications and dashboard."""
    me = await signed_in_actor()
    if me is None:
        return _login(url_for("rooms.room_page", token=token))
    room = await _room(token)
    form = await request.form
    env = await request_env()
    async with state().db.acquire() as conn:
        try:
            if form.get("stop"):
                await room_follows.unfollow(conn, room=room, actor=me, env=env)
            else:
                await room_follows.follow(conn, room=room, actor=me, env=env)
        except ProposalError as refused:
            return redirect(url_for("rooms.room_page", token=token, error=refused.code), 303)
    return redirect(url_for("rooms.room_page", token=token), 303)


@blueprint.get("/rooms/<token>/followers")
@serves_activitystreams("always")
async def room_followers(token: str) -> Response:
    """How many follow a room (not who)."""
    room = await _room(token)
    async with state().db.acquire() as conn:
        count = await queries.count_room_followers(conn, room.id)
    return _activity_json(room_followers_collection(room, count, state().urls))


# -- my dashboard --------------------------------------------------------------------------------


@blueprint.get("/dashboard")
async def dashboard() -> str | WerkzeugResponse:
    """My rooms' open proposals, the votes I may still cast, the actions I took and those of my
    rooms nobody took, each with its deadline."""
    me = await signed_in_actor()
    if me is None:
        return _login(url_for("actions.dashboard"))
    env = await request_env()
    me_uri = env.urls.actor(me.username)
    async with state().db.acquire() as conn:
        room_ids = await queries.select_my_room_ids(conn, me_uri, me.home_territory_id)
        open_proposals = await queries.select_my_open_proposals(
            conn, room_ids, limit=DASHBOARD_LISTED
        )
        to_vote = []
        for proposal in await queries.select_votes_to_cast(
            conn, me_uri, room_ids, env.clock.now(), limit=DASHBOARD_LISTED
        ):
            if await votes.may_vote(conn, proposal, me, env):
                to_vote.append(proposal)
        my_tasks = await queries.select_my_tasks(conn, me_uri, limit=DASHBOARD_LISTED)
        untaken = await queries.select_untaken_tasks(conn, room_ids, limit=DASHBOARD_LISTED)
    return await render_template(
        "dashboard.html",
        open_proposals=open_proposals,
        to_vote=to_vote,
        my_tasks=my_tasks,
        untaken=untaken,
    )
