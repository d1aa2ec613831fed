"""Search (/search): words through the full-text search, a handle or an address to what it names,
here or on its own server; and remote follow (/remote-follow), which sends a visitor to their own
server's subscribe page to follow one of our actors.

A lookup on another server is made only for a logged-in citizen, within her share
(search/resolve.py), and on a GET only when the request came from one of our pages or was typed
in the address bar (Sec-Fetch-Site): a link on another site must not make the server fetch
anything. Otherwise the page asks to confirm with a form that carries the CSRF token.
"""

from __future__ import annotations

import re
from typing import Any

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.events.text import when_in_words
from fedicity.follows import queries as follow_queries
from fedicity.posts import queries as post_queries
from fedicity.posts.models import Post
from fedicity.projects.parse import parse_project
from fedicity.search import service
from fedicity.search.models import KINDS, MAX_QUERY_CHARS, Cursor, Kind, Results
from fedicity.search.remote_follow import RemoteFollowRefusal, subscribe_url
from fedicity.search.resolve import (
    Found,
    FoundActor,
    FoundEvent,
    FoundPost,
    NotResolved,
    OurPage,
    Target,
    resolve,
    resolve_known,
    target_of,
)
from fedicity.urls import territory_path
from fedicity.web.app import state
from fedicity.web.clientip import client_ip
from fedicity.web.errors import Problem, problem_response
from fedicity.web.messages import message
from fedicity.web.negotiation import wants_html
from fedicity.web.people import Shown, known_actors
from fedicity.web.session import check_csrf, current_account
from fedicity.web.times import reader_locale

blueprint = Blueprint("search", __name__)
blueprint.before_request(check_csrf)

OVERVIEW_SIZE = 5
PAGE_SIZE = 20
_CURSOR = re.compile(r"(\d{1,12})-(\d{1,19})")
# Navigations from our own pages, and addresses typed or bookmarked, may fetch; links from
# other sites (cross-site) and clients that do not say (no header) are asked to confirm.
_MAY_FETCH_FROM = {"same-origin", "none"}
_LOOKUP_STATUS = {
    "unknown_local": 404,
    "blocked": 422,
    "refused": 403,
    "unreachable": 502,
    "unsupported": 422,
    "not_public": 404,
    "needs_login": 200,
    "rate_limited": 429,
}
_REMOTE_FOLLOW_STATUS = {
    "bad_handle": 422,
    "local_handle": 422,
    "blocked": 422,
    "refused": 403,
    "unreachable": 502,
    "no_template": 502,
    "rate_limited": 429,
}


def _kind_arg() -> Kind | None:
    raw = request.args.get("kind") or None
    if raw is None:
        return None
    for kind in KINDS:
        if raw == kind:
            return kind
    raise Problem(400, f"kind: one of {', '.join(KINDS)}", extra={"reason": "bad_kind"})


def _cursor_arg() -> Cursor | None:
    raw = request.args.get("after") or None
    if raw is None:
        return None
    matched = _CURSOR.fullmatch(raw)
    if matched is None:
        raise Problem(400, "after: not a page cursor", extra={"reason": "bad_cursor"})
    return Cursor(int(matched[1]), int(matched[2]))


async def _people(results: Results) -> dict[str, Shown]:
    """Everyone the results name, by name: the actors found, organisers and authors."""
    uris = [
        *(hit.uri for hit in results.actors.hits),
        *(hit.organizer_uri for hit in results.events.hits),
        *(hit.author_uri for hit in results.proposals.hits),
        *(hit.author_uri for hit in results.posts.hits),
    ]
    urls = state().urls
    async with state().db.acquire() as conn:
        people = await known_actors(conn, urls, uris)
    for hit in results.actors.hits:
        # A territory's page is its place in the tree, not a profile.
        if hit.territory_level and hit.territory_code and hit.uri in people:
            shown = people[hit.uri]
            people[hit.uri] = Shown(
                shown.name,
                shown.handle,
                urls.absolute(territory_path(hit.territory_level, hit.territory_code)),
                remote=False,
            )
    return people


def _when(hit: Any) -> str:
    return when_in_words(
        hit.starts_at, hit.ends_at, hit.timezone, all_day=hit.all_day, locale=reader_locale()
    )


@blueprint.route("/search", methods=["GET", "POST"])
async def search_page() -> str | tuple[str, int] | Response | WerkzeugResponse:
    """The search form, and what it found: by kind, or one kind page by page (GET); a lookup
    on another server the citizen confirmed (POST)."""
    if request.method == "POST":
        return await _confirmed_lookup()
    query = request.args.get("q", "")
    kind = _kind_arg()
    after = _cursor_arg()
    if after is not None and kind is None:
        raise Problem(
            400, "after: pages are per kind; give kind too", extra={"reason": "bad_cursor"}
        )
    text = query.strip()
    if not text:
        return await render_template("search.html", q=query, kind=None, results=None)
    target = target_of(text) if len(text) <= MAX_QUERY_CHARS else None
    if target is not None:
        may_fetch = request.headers.get("Sec-Fetch-Site", "") in _MAY_FETCH_FROM
        return await _lookup(query, target, network=may_fetch)
    async with state().db.acquire() as conn:
        found = await service.search(
            conn,
            text,
            urls=state().urls,
            kinds=[kind] if kind else KINDS,
            limit=PAGE_SIZE if kind else OVERVIEW_SIZE,
            after=after,
        )
    if not isinstance(found, Results):
        error = message(f"search_{found.code}")
        page = await render_template("search.html", q=query, kind=kind, error=error)
        return await _refused(page, 422, error, reason=found.code)
    return await render_template(
        "search.html",
        q=query,
        kind=kind,
        results=found,
        people=await _people(found),
        when=_when,
    )


async def _confirmed_lookup() -> str | tuple[str, int] | Response | WerkzeugResponse:
    """Look up a handle or address on its server, once the citizen confirmed it."""
    form = await request.form
    # One character past the limit is enough for the search page to say it is too long.
    query = form.get("q", "")[: MAX_QUERY_CHARS + 1]
    if current_account() is None:
        return redirect(url_for("accounts.login", next=url_for("search.search_page", q=query)), 303)
    target = target_of(query) if len(query) <= MAX_QUERY_CHARS else None
    if target is None:
        return redirect(url_for("search.search_page", q=query), 303)
    return await _lookup(query, target, network=True)


async def look_up(query: str) -> Found | NotResolved:
    """What a typed handle or address names, looked up on its server when needed (for the
    logged-in citizen, within her share)."""
    target = target_of(query)
    return await _resolved(target) if target is not None else NotResolved("unsupported")


async def _resolved(target: Target) -> Found | NotResolved:
    app_state = state()
    account = current_account()
    return await resolve(
        app_state.db,
        app_state.fed.directory,
        target,
        account_id=account.id if account is not None else None,
        now=app_state.clock.now(),
    )


async def _lookup(
    query: str, target: Target, *, network: bool
) -> str | tuple[str, int] | Response | WerkzeugResponse:
    """The page of what a handle or address names (or why nothing is shown)."""
    app_state = state()
    account = current_account()
    found: Found | NotResolved | None
    if network and account is not None:
        found = await _resolved(target)
    else:
        async with app_state.db.acquire() as conn:
            found = await resolve_known(
                conn, target, urls=app_state.urls, refuse_host=app_state.fed.fetcher.refuse_host
            )
        if found is None and account is None:
            found = NotResolved("needs_login")
    if found is None:
        # Logged in, but the request did not come from our pages: ask first.
        return await render_template("search.html", q=query, kind=None, confirm=True)
    return await render_found(query, found)


async def render_found(
    query: str, found: Found | NotResolved
) -> str | tuple[str, int] | Response | WerkzeugResponse:
    """What a lookup found, on the search page; our own pages by redirect."""
    if isinstance(found, OurPage):
        return redirect(found.url, 303)
    if isinstance(found, NotResolved):
        return await _not_resolved(query, found)
    if isinstance(found, FoundActor) and found.remote is None:
        return redirect(await _local_page(found.uri), 303)
    return await render_template("search.html", q=query, kind=None, **await _shown(found))


async def _not_resolved(query: str, refused: NotResolved) -> Response:
    error = message(f"lookup_{refused.reason}")
    page = await render_template(
        "search.html",
        q=query,
        kind=None,
        lookup_error=error,
        needs_login=refused.reason == "needs_login",
    )
    status = _LOOKUP_STATUS.get(refused.reason, 422)
    return await _refused(
        page, status, error, reason=refused.reason, retry_after=refused.retry_after
    )


async def _refused(
    page: str, status: int, detail: str, *, reason: str, retry_after: int = 0
) -> Response:
    """A refusal: the page again for a browser, a problem document for a program."""
    if status < 400 or wants_html(request):
        response = Response(page, status=status, content_type="text/html; charset=utf-8")
    else:
        response = await problem_response(status, detail, {"reason": reason})
    if status == 429:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _page_of(actor: Actor) -> str:
    """The page of one of our actors: an organisation's page, a profile, or (through its id,
    which redirects browsers) a territory's page."""
    urls = state().urls
    if actor.organization_kind == "project":
        return urls.project_page(actor.username)
    if actor.kind == "organization":
        return urls.organization_page(actor.username)
    return urls.profile(actor.username) if actor.kind == "person" else urls.actor(actor.username)


async def _local_page(uri: str) -> str:
    """The page of the local actor with this id."""
    urls = state().urls
    username = urls.username_in(uri.removeprefix(urls.base.rstrip("/"))) or ""
    async with state().db.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, username)
    return _page_of(actor) if actor is not None else urls.actor(username)


async def _shown(found: FoundActor | FoundPost | FoundEvent) -> dict[str, Any]:
    """What the page needs to show a found remote actor, post or event."""
    app_state = state()
    account = current_account()
    me = app_state.urls.actor(account.username) if account is not None else ""
    async with app_state.db.acquire() as conn:
        if isinstance(found, FoundActor):
            assert found.remote is not None
            follow = await follow_queries.select_follow(conn, me, found.uri) if me else None
            return {
                "found_actor": found.remote,
                # A remote project (a Group with kind Project): its maturity, dates, parents.
                "found_project": parse_project(found.remote.raw),
                "following_state": follow.state if follow is not None else None,
            }
        if isinstance(found, FoundPost):
            people = await known_actors(conn, app_state.urls, [found.post.author_uri])
            kept = found.post if isinstance(found.post, Post) else None
            states = (
                await post_queries.select_interaction_states(conn, me, [kept.uri])
                if kept is not None
                else {}
            )
            return {"found_post": found.post, "kept": kept, "people": people, "states": states}
        people = await known_actors(conn, app_state.urls, [found.event.organizer_uri])
        event = found.event
        return {
            "found_event": event,
            "event_local": event.token is not None,
            "event_when": when_in_words(
                event.starts_at,
                event.ends_at,
                event.timezone,
                all_day=event.all_day,
                locale=reader_locale(),
            ),
            "people": people,
        }


async def _followable(username: str) -> Actor:
    """One of our actors a visitor may follow from elsewhere, or 404."""
    async with state().db.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, username[:100])
    if actor is None or actor.kind not in ("person", "organization", "territory"):
        raise Problem(404, "no such account here")
    return actor


@blueprint.route("/remote-follow", methods=["GET", "POST"])
async def remote_follow() -> str | tuple[str, int] | Response | WerkzeugResponse:
    """Follow one of our actors from one's own server: the handle typed is WebFingered and the
    visitor sent (303) to their server's subscribe page with our actor's id."""
    source = await request.form if request.method == "POST" else request.args
    actor = await _followable(source.get("account", ""))
    if request.method == "GET":
        return await render_template(
            "remote_follow.html", actor=actor, back=_page_of(actor), typed="", error=None
        )
    typed = source.get("handle", "")
    app_state = state()
    found = await subscribe_url(
        app_state.db,
        app_state.fed.fetcher,
        typed,
        app_state.urls.actor(actor.username),
        local_host=app_state.settings.host,
        client=client_ip(),
        now=app_state.clock.now(),
    )
    if isinstance(found, str):
        return redirect(found, 303)
    return await _remote_follow_refused(actor, typed, found)


async def _remote_follow_refused(
    actor: Actor, typed: str, refused: RemoteFollowRefusal
) -> Response:
    error = message(f"remote_follow_{refused.code}")
    page = await render_template(
        "remote_follow.html", actor=actor, back=_page_of(actor), typed=typed[:320], error=error
    )
    status = _REMOTE_FOLLOW_STATUS.get(refused.code, 422)
    return await _refused(page, status, error, reason=refused.code, retry_after=refused.retry_after)
