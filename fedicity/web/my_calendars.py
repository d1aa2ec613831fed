"""A person's own followed calendars (the settings page): their events are the person's.
Following and stopping go through imports/feeds.py, which writes the audit log."""

from __future__ import annotations

from quart import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.actors import queries as actor_queries
from fedicity.imports import feeds
from fedicity.imports import queries as import_queries
from fedicity.web.admin import acting
from fedicity.web.admin_imports import env
from fedicity.web.app import state
from fedicity.web.session import check_csrf, require_account

blueprint = Blueprint("my_calendars", __name__)
blueprint.before_request(check_csrf)


def _back(error: str | None = None) -> WerkzeugResponse:
    return redirect(url_for("accounts.settings_page", error=error) + "#calendars", 303)


@blueprint.post("/settings/calendars")
async def add() -> WerkzeugResponse:
    """Follow a calendar for oneself: the worker fetches it at once."""
    account = require_account()
    form = await request.form
    async with state().db.acquire() as conn:
        me = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert me is not None
        try:
            await feeds.add_feed(
                conn,
                env(),
                actor=acting(account),
                owner=me,
                url=form.get("url", "")[:2100],
                format=form.get("format", "auto")[:20],
            )
        except feeds.FeedError as error:
            return _back(error=error.code)
    return _back()


@blueprint.post("/settings/calendars/<source_id>/stop")
async def stop(source_id: str) -> WerkzeugResponse:
    """Stop following one of one's own calendars."""
    account = require_account()
    async with state().db.acquire() as conn:
        mine = [
            found[0].id
            for found in await import_queries.select_feeds(conn, owner_actor_id=account.actor_id)
        ]
        if not source_id.isdigit() or len(source_id) > 18 or int(source_id) not in mine:
            return _back(error="feed_unknown")
        await feeds.stop_following(conn, env(), actor=acting(account), source_id=int(source_id))
    return _back()
