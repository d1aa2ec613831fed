"""A citizen's own controls: /settings/blocks lists what they block, mute, block by domain and
whose boosts they hide, with undo buttons; /settings/blocks/actor is the choice about one actor
(linked from profiles and posts), local or remote."""

from __future__ import annotations

from quart import Blueprint, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub.accessors import host_of
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.service import local_actor_for_uri
from fedicity.follows import blocks
from fedicity.follows import queries as follow_queries
from fedicity.follows.blocks import BlockError
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import checked, local_path
from fedicity.web.messages import message
from fedicity.web.paging import PAGE_SIZE, cursor_arg
from fedicity.web.people import known_actors
from fedicity.web.session import check_csrf, current_account

blueprint = Blueprint("blocks", __name__)
blueprint.before_request(check_csrf)

# An actor id longer than this is not one we could have stored.
MAX_URI = 2000
_ACTIONS = frozenset({"block", "unblock", "mute", "unmute", "hide_boosts", "show_boosts"})


async def _me() -> Actor | WerkzeugResponse:
    account = current_account()
    if account is None:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")), 303)
    async with state().db.acquire() as conn:
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


def _next(target: str | None, fallback: str) -> str:
    """A local path to go back to (never an open redirect), else `fallback`."""
    return local_path(target) or fallback


async def _lists_page(me: Actor, *, domain_error: str | None = None, typed_domain: str = "") -> str:
    """The four lists, each a page at a time by its own cursor."""
    app_state = state()
    entries = {}
    more = {}
    async with app_state.db.acquire() as conn:
        for which in follow_queries.LISTS:
            fetched = await follow_queries.select_controls_page(
                conn, me.id, which, limit=PAGE_SIZE + 1, before_id=cursor_arg(f"{which}_before")
            )
            entries[which] = fetched[:PAGE_SIZE]
            more[which] = fetched[PAGE_SIZE - 1].id if len(fetched) > PAGE_SIZE else None
        people = await known_actors(
            conn,
            app_state.urls,
            (c.target for which in ("blocks", "mutes", "boosts") for c in entries[which]),
        )
    return await render_template(
        "blocks.html",
        lists=entries,
        more=more,
        people=people,
        domain_error=message(domain_error) if domain_error else None,
        typed_domain=typed_domain,
    )


@blueprint.get("/settings/blocks")
async def lists() -> str | WerkzeugResponse:
    """What I block, mute, block by domain, and whose boosts I hide, with undo buttons."""
    me = await _me()
    if not isinstance(me, Actor):
        return me
    return await _lists_page(me)


@blueprint.post("/settings/blocks/domain")
async def domain() -> str | tuple[str, int] | WerkzeugResponse:
    """Block a domain (the form on the lists page) or lift a domain block (its undo button)."""
    me = await _me()
    if not isinstance(me, Actor):
        return me
    form = await request.form
    typed = form.get("domain", "")
    app_state = state()
    async with app_state.db.acquire() as conn:
        if form.get("action") == "unblock":
            await blocks.unblock_domain(conn, owner=me, domain=typed)
            return redirect(url_for("blocks.lists"), 303)
        try:
            await blocks.block_domain(
                conn, owner=me, typed=typed, urls=app_state.urls, clock=app_state.clock
            )
        except BlockError as error:
            return await _lists_page(me, domain_error=error.code, typed_domain=typed[:300]), 400
    return redirect(url_for("blocks.lists"), 303)


async def _actor_page(me: Actor, uri: str) -> str:
    """The choices about one actor, with how they stand."""
    app_state = state()
    async with app_state.db.acquire() as conn:
        local = await local_actor_for_uri(conn, app_state.urls, uri)
        if uri == app_state.urls.actor(me.username) or (
            local is None and await actor_queries.select_remote_actor(conn, uri) is None
        ):
            raise Problem(404, message("block_unknown"))
        controls = await follow_queries.select_controls(conn, me.id, uri)
        following = await follow_queries.select_follow(conn, app_state.urls.actor(me.username), uri)
        people = await known_actors(conn, app_state.urls, [uri])
    return await render_template(
        "block_actor.html",
        uri=uri,
        people=people,
        controls=controls,
        following=following is not None,
        domain=None if local is not None else host_of(uri),
        back=_next(request.args.get("next"), ""),
    )


@blueprint.route("/settings/blocks/actor", methods=["GET", "POST"])
async def actor() -> str | WerkzeugResponse:
    """Block, mute or hide the boosts of one actor (named by its id in `uri`): the choices, and
    (POST) one of them done, then back to where the form was."""
    me = await _me()
    if not isinstance(me, Actor):
        return me
    if request.method == "GET":
        uri = request.args.get("uri", "")
        if not uri or len(uri) > MAX_URI:
            raise Problem(400, "uri names the actor")
        return await _actor_page(me, uri)
    return await _act(me, await request.form)


async def _act(me: Actor, form: MultiDict[str, str]) -> WerkzeugResponse:
    """One choice about an actor, done."""
    uri = form.get("uri", "")
    action = form.get("action", "")
    if not uri or len(uri) > MAX_URI:
        raise Problem(400, "uri names the actor")
    if action not in _ACTIONS:
        raise Problem(400, f"action is one of {', '.join(sorted(_ACTIONS))}")
    app_state = state()
    urls, clock = app_state.urls, app_state.clock
    async with app_state.db.acquire() as conn:
        try:
            if action == "block":
                await blocks.block(conn, owner=me, target=uri, urls=urls, clock=clock)
            elif action == "unblock":
                await blocks.unblock(conn, owner=me, target=uri, urls=urls, clock=clock)
            elif action == "mute":
                await blocks.mute(
                    conn,
                    owner=me,
                    target=uri,
                    notifications=checked(form, "notifications"),
                    urls=urls,
                    clock=clock,
                )
            elif action == "unmute":
                await blocks.unmute(conn, owner=me, target=uri)
            elif action == "hide_boosts":
                await blocks.hide_boosts(conn, owner=me, target=uri, urls=urls, clock=clock)
            else:
                await blocks.show_boosts(conn, owner=me, target=uri)
        except BlockError as error:
            status = 404 if error.code == "block_unknown" else 400
            raise Problem(status, message(error.code)) from error
    fallback = url_for("blocks.actor", uri=uri)
    return redirect(_next(form.get("next"), fallback), 303)
