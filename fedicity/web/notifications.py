"""The notifications page and the header's unread count."""

from __future__ import annotations

from dataclasses import dataclass

from quart import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.db.pool import Connection
from fedicity.notifications import queries
from fedicity.notifications.models import Notification
from fedicity.posts import queries as post_queries
from fedicity.web.app import state
from fedicity.web.paging import cursor_arg
from fedicity.web.people import Shown, known_actors
from fedicity.web.session import check_csrf, current_account

blueprint = Blueprint("notifications", __name__)
blueprint.before_request(check_csrf)

PAGE_SIZE = 30


@dataclass(frozen=True)
class Line:
    """One notification as shown: who did it (by name) and where the object is seen."""

    notification: Notification
    who: str
    href: str | None
    unread: bool


@blueprint.app_context_processor
async def unread_count() -> dict[str, object]:
    """The header's unread count, for logged-in people only."""
    account = g.get("account")
    if account is None:
        return {}
    async with state().db.acquire() as conn:
        return {"unread_notifications": await queries.count_unread(conn, account.actor_id)}


async def _object_href(conn: Connection, uri: str, actors: dict[str, Shown]) -> str:
    """Where the object of a notification is seen: an actor's page, a post's page, or its id."""
    if uri in actors:
        return actors[uri].href or uri
    post = await post_queries.select_post(conn, uri)
    if post is not None and post.local_actor_id is None and post.url:
        return post.url
    return uri


@blueprint.get("/notifications")
async def notifications() -> str | WerkzeugResponse:
    """My notifications, newest first, a page at a time; those shown are then read."""
    account = current_account()
    if account is None:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")), 303)
    before = cursor_arg("before")
    app_state = state()
    async with app_state.db.acquire() as conn:
        page = await queries.select_page(
            conn, account.actor_id, limit=PAGE_SIZE + 1, before_id=before
        )
        shown = page[:PAGE_SIZE]
        # Who did it is always named (guessed from the id when unknown); an object is linked to
        # an actor's page only when it is an actor we know.
        who = await known_actors(conn, app_state.urls, (n.actor_uri for n in shown))
        actors = await known_actors(
            conn, app_state.urls, (n.object_uri for n in shown), guess=False
        )
        lines = [
            Line(
                notification=n,
                who=who[n.actor_uri].name,
                href=await _object_href(conn, n.object_uri, actors),
                unread=n.read_at is None,
            )
            for n in shown
        ]
        await queries.mark_read(
            conn, account.actor_id, [n.id for n in shown], app_state.clock.now()
        )
    return await render_template(
        "notifications.html",
        lines=lines,
        older=shown[-1].id if len(page) > PAGE_SIZE else None,
    )
