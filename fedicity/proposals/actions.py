"""Actions (tasks) of a room, maybe following an adopted resolution.

The room's participants create them (a members-only room: its members; any other: any citizen
here); contributors take one ("Je m'en occupe") or leave it; its creator, its contributors and the
room's managers change its status; its creator and the room's managers edit or remove it. Each
change goes out in the same transaction as the action's `Page` (fc:kind Task): Create, then
Update on every change, Delete when removed, to the room owner's followers and the room's.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.proposals import followup_queries as queries
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals import room_follows, rooms
from fedicity.proposals.document import follow_up_activity, task_to_ap
from fedicity.proposals.models import TASK_STATUSES, Resolution, Room, Task
from fedicity.proposals.service import Env, ProposalError, check_room_access
from fedicity.textfmt import render_markdown
from fedicity.urls import new_token

MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_ASSIGNEES = 100
# Links a browser would run or read as code: refused, not silently dropped, so the writer knows.
UNSAFE_LINK = re.compile(r"(?i)(?:javascript|vbscript|data)\s*:")
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200


@dataclass(frozen=True)
class TaskFields:
    """What a citizen writes of an action."""

    title: str
    description: str = ""
    starts: datetime | None = None
    ends: datetime | None = None


def checked(fields: TaskFields) -> TaskFields:
    """The fields as stored (title trimmed), or the refusal naming what is wrong."""
    title = fields.title.strip()
    if "\x00" in fields.title or "\x00" in fields.description:
        raise ProposalError("text_invalid", "a text may not hold a NUL character")
    if not title or len(title) > MAX_TITLE:
        raise ProposalError("action_title_invalid", f"a title has 1 to {MAX_TITLE} characters")
    if len(fields.description) > MAX_DESCRIPTION:
        raise ProposalError("too_long", f"a description has at most {MAX_DESCRIPTION} characters")
    if UNSAFE_LINK.search(fields.description):
        raise ProposalError("link_unsafe", "links are http or https web addresses")
    for moment in (fields.starts, fields.ends):
        if moment is not None and not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
            raise ProposalError("action_date_invalid", "this date is out of range")
    if fields.starts and fields.ends and fields.ends < fields.starts:
        raise ProposalError("action_dates_invalid", "an action ends after it starts")
    return TaskFields(title, fields.description, fields.starts, fields.ends)


async def _room_of(conn: Connection, task: Task) -> Room:
    if not task.local or task.room_id is None:
        raise ProposalError("action_unknown", "no such action here")
    room = await proposal_queries.select_room(conn, task.room_id)
    assert room is not None
    return room


async def _names(conn: Connection, uris: tuple[str, ...], env: Env) -> dict[str, str]:
    """Local contributors by their handle, for the text Mastodon shows."""
    names: dict[str, str] = {}
    for uri in uris:
        local = await actor_service.local_actor_for_uri(conn, env.urls, uri)
        if local is not None:
            names[uri] = "@" + local.username
    return names


async def as_document(conn: Connection, task: Task, env: Env) -> dict[str, Any]:
    """An action's Page."""
    return task_to_ap(
        task,
        owner_followers=env.urls.followers_of(task.attributed_to),
        room_followers=env.urls.room_followers(task.room_uri) if task.room_uri else None,
        names=await _names(conn, task.assignees, env),
    )


async def _publish(conn: Connection, task: Task, room: Room, type_: str, env: Env) -> None:
    owner = await room_follows.owner_actor(conn, room)
    if owner is None:
        return
    document = await as_document(conn, task, env)
    activity_id = (
        env.urls.create_activity(task.uri) if type_ == "Create" else env.urls.activity(new_token())
    )
    await room_follows.publish_in_room(
        conn,
        room=room,
        owner=owner,
        activity=follow_up_activity(type_, document, activity_id=activity_id, now=env.clock.now()),
        env=env,
        kind="room_action" if type_ == "Create" else None,
        object_uri=task.uri,
    )


async def create(
    conn: Connection,
    *,
    actor: Actor,
    room: Room,
    fields: TaskFields,
    env: Env,
    resolution: Resolution | None = None,
) -> Task:
    """A new action in a room (by one of its participants), maybe following an adopted
    resolution of that room."""
    me = env.urls.actor(actor.username)
    fields = checked(fields)
    if not room.open:
        raise ProposalError("room_archived", "this room is archived")
    await check_room_access(conn, room, me)
    if resolution is not None:
        if resolution.room_id != room.id:
            raise ProposalError("resolution_unknown", "this resolution is not of this room")
        if resolution.outcome not in ("adopted", "chosen"):
            raise ProposalError("resolution_not_adopted", "only a decision leads to actions")
    owner = await room_follows.owner_actor(conn, room)
    if owner is None:
        raise ProposalError("room_unknown", "this room has no actor to speak for it")
    description_html = await asyncio.to_thread(render_markdown, fields.description)
    token = new_token()
    now = env.clock.now()
    async with conn.transaction():
        task = await queries.insert_task(
            conn,
            {
                "uri": env.urls.action(token),
                "token": token,
                "local": True,
                "room_id": room.id,
                "room_uri": room.uri,
                "resolution_uri": resolution.uri if resolution else None,
                "attributed_to": env.urls.actor(owner.username),
                "created_by": me,
                "title": fields.title,
                "description_html": description_html,
                "description_source": fields.description or None,
                "status": "todo",
                "starts": fields.starts,
                "ends": fields.ends,
                "published": now,
                "updated": None,
            },
        )
        await _publish(conn, task, room, "Create", env)
    return task


async def _change(
    conn: Connection, task: Task, actor: Actor, env: Env, rule: str, **values: Any
) -> Task:
    """Apply a change under the action's row lock after `rule` allowed it, and publish the
    Update in the same transaction."""
    me = env.urls.actor(actor.username)
    async with conn.transaction():
        current = await queries.select_task_for_update(conn, task.id)
        if current is None:
            raise ProposalError("action_unknown", "no such action here")
        room = await _room_of(conn, current)
        await _allowed(conn, current, room, actor, me, rule, env)
        if callable(values.get("assignees")):
            values["assignees"] = values["assignees"](current.assignees, me)
        values["updated"] = env.clock.now()
        saved = await queries.update_task(conn, current.id, values)
        await _publish(conn, saved, room, "Update", env)
    return saved


async def _allowed(
    conn: Connection, task: Task, room: Room, actor: Actor, me: str, rule: str, env: Env
) -> None:
    """`participant`: anyone who may enter the room; `status`: its creator, contributors and
    the room's managers; `manage`: its creator and the room's managers."""
    await check_room_access(conn, room, me)
    if rule == "participant":
        return
    if me == task.created_by or (rule == "status" and me in task.assignees):
        return
    if await rooms.may_manage(conn, room, actor, env):
        return
    raise ProposalError("not_allowed", "only the action's creator or the room's managers")


def _with(assignees: tuple[str, ...], me: str) -> list[str]:
    if me in assignees:
        raise ProposalError("already_taken", "you already take part in this action")
    if len(assignees) >= MAX_ASSIGNEES:
        raise ProposalError("too_many", f"an action has at most {MAX_ASSIGNEES} contributors")
    return [*assignees, me]


def _without(assignees: tuple[str, ...], me: str) -> list[str]:
    if me not in assignees:
        raise ProposalError("not_taken", "you do not take part in this action")
    return [uri for uri in assignees if uri != me]


async def take(conn: Connection, *, actor: Actor, task: Task, env: Env) -> Task:
    """ "Je m'en occupe": the citizen joins the action's contributors."""
    if task.finished:
        raise ProposalError("action_finished", "this action is finished")
    return await _change(conn, task, actor, env, "participant", assignees=_with)


async def leave(conn: Connection, *, actor: Actor, task: Task, env: Env) -> Task:
    """The citizen leaves the action's contributors."""
    return await _change(conn, task, actor, env, "participant", assignees=_without)


async def set_status(conn: Connection, *, actor: Actor, task: Task, status: str, env: Env) -> Task:
    """To do, in progress, done or abandoned."""
    if status not in TASK_STATUSES:
        raise ProposalError("action_status_invalid", "unknown status")
    return await _change(conn, task, actor, env, "status", status=status)


async def edit(conn: Connection, *, actor: Actor, task: Task, fields: TaskFields, env: Env) -> Task:
    """Change an action's title, description and dates."""
    fields = checked(fields)
    description_html = await asyncio.to_thread(render_markdown, fields.description)
    return await _change(
        conn,
        task,
        actor,
        env,
        "manage",
        title=fields.title,
        description_html=description_html,
        description_source=fields.description or None,
        starts=fields.starts,
        ends=fields.ends,
    )


async def remove(conn: Connection, *, actor: Actor, task: Task, env: Env) -> None:
    """Remove an action; its Delete goes out."""
    me = env.urls.actor(actor.username)
    async with conn.transaction():
        current = await queries.select_task_for_update(conn, task.id)
        if current is None:
            raise ProposalError("action_unknown", "no such action here")
        room = await _room_of(conn, current)
        await _allowed(conn, current, room, actor, me, "manage", env)
        await _publish(conn, current, room, "Delete", env)
        await queries.delete_task(conn, current.id)
