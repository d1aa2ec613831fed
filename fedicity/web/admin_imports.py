"""/admin/imports: the calendar feeds the instance follows (iCalendar, OpenAgenda JSON), each
with its state, last fetch, last error and count of events; follow one for a local account,
fetch one now, stop following one. Every change goes through imports/feeds.py, which writes
the audit log."""

from __future__ import annotations

from quart import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.actors import queries as actor_queries
from fedicity.imports import feeds
from fedicity.imports import queries as import_queries
from fedicity.web.admin import admin_actor
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.i18n import lazy
from fedicity.web.messages import message
from fedicity.web.session import check_csrf, require_admin

blueprint = Blueprint("admin_imports", __name__)
blueprint.before_request(check_csrf)

NOTICES = {
    "added": lazy("The feed is followed; it was fetched."),
    "fetched": lazy("The feed was fetched."),
    "stopped": lazy("The feed is no longer followed; its events stay."),
}


def env() -> feeds.FeedEnv:
    """The feeds' env of this process."""
    app_state = state()
    return feeds.feed_env(app_state.urls, app_state.clock, app_state.keygen, app_state.settings)


def _source_id(text: str) -> int:
    # Read here rather than by an int converter: any other text is a 404 of ours.
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise Problem(404, "no such feed")
    return int(text)


async def _page(
    *, values: dict[str, str] | None = None, error: str | None = None, status: int = 200
) -> tuple[str, int]:
    async with state().db.acquire() as conn:
        found = await import_queries.select_feeds(conn)
    urls = state().urls
    sources = [(source, count, owner, urls.profile(owner)) for source, count, owner in found]
    html = await render_template(
        "admin_imports.html",
        sources=sources,
        values=values or {"format": "auto"},
        error=message(error) if error else None,
        notice=NOTICES.get(request.args.get("notice", "")),
        formats=feeds.FORMAT_CHOICES,
    )
    return html, status


@blueprint.get("/admin/imports")
async def imports_page() -> tuple[str, int]:
    """The followed feeds and the form to follow one."""
    require_admin()
    return await _page()


@blueprint.post("/admin/imports")
async def add() -> tuple[str, int] | WerkzeugResponse:
    """Follow a feed for a local account, and fetch it at once."""
    require_admin()
    form = await request.form
    values = {
        "url": form.get("url", "")[:2100],
        "format": form.get("format", "auto")[:20],
        "owner": form.get("owner", "").strip().lstrip("@")[:100],
    }
    app_state = state()
    try:
        async with app_state.db.acquire() as conn:
            owner = await actor_queries.select_actor_by_username(conn, values["owner"])
            if owner is None:
                raise feeds.FeedError("feed_owner_unknown", "no such local account")
            added = await feeds.add_feed(
                conn,
                env(),
                actor=admin_actor(),
                owner=owner,
                url=values["url"],
                format=values["format"],
            )
    except feeds.FeedError as error:
        return await _page(values=values, error=error.code, status=400)
    await feeds.fetch_now(
        app_state.db, app_state.fed.fetcher, env(), actor=admin_actor(), source_id=added.id
    )
    return redirect(url_for("admin_imports.imports_page", notice="added"), 303)


@blueprint.post("/admin/imports/<source_id>/fetch")
async def fetch(source_id: str) -> tuple[str, int] | WerkzeugResponse:
    """Fetch one feed now; what it did is shown with the feed."""
    require_admin()
    app_state = state()
    try:
        await feeds.fetch_now(
            app_state.db,
            app_state.fed.fetcher,
            env(),
            actor=admin_actor(),
            source_id=_source_id(source_id),
        )
    except feeds.FeedError as error:
        return await _page(error=error.code, status=409 if error.code == "feed_busy" else 404)
    return redirect(url_for("admin_imports.imports_page", notice="fetched"), 303)


@blueprint.post("/admin/imports/<source_id>/stop")
async def stop(source_id: str) -> WerkzeugResponse:
    """Stop following a feed; its events and their provenance stay."""
    require_admin()
    async with state().db.acquire() as conn:
        if not await feeds.stop_following(
            conn, env(), actor=admin_actor(), source_id=_source_id(source_id)
        ):
            raise Problem(404, "no such feed")
    return redirect(url_for("admin_imports.imports_page", notice="stopped"), 303)
