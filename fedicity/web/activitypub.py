"""ActivityPub GET routes: actors (content-negotiated), collections, objects, activities."""

from __future__ import annotations

import json
import time
from typing import Any

from quart import Blueprint, Response, redirect, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub import collections
from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.vocab import ACTIVITY_JSON, AS_CONTEXT
from fedicity.activitypub.vocab import fedicity_context as vocab_fedicity_context
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.document import actor_to_ap, tombstone
from fedicity.actors.models import Actor
from fedicity.delivery import queries as delivery_queries
from fedicity.follows import queries as follow_queries
from fedicity.organizations import service as organizations
from fedicity.organizations.service import Env
from fedicity.posts import queries as post_queries
from fedicity.posts.document import note_to_ap
from fedicity.posts.models import Post
from fedicity.projects import service as projects
from fedicity.territories import queries as territory_queries
from fedicity.territories.document import territory_actor_to_ap
from fedicity.urls import ACTOR_ROUTE, front_route
from fedicity.web import asgi
from fedicity.web.app import AppState, FedicityQuart, program_request, state
from fedicity.web.asgi import Receive, Scope, Send
from fedicity.web.avatars import avatar_png
from fedicity.web.errors import Problem, problem_response
from fedicity.web.messages import message
from fedicity.web.metrics import record
from fedicity.web.moderation import refuse_suspended
from fedicity.web.negotiation import accepts_activitypub, wants_activitypub
from fedicity.web.pages import render_post_page, render_profile
from fedicity.web.paging import cursor_arg
from fedicity.web.signed_fetch import serves_activitystreams
from fedicity.web.territories import territory_path

blueprint = Blueprint("activitypub", __name__)

AP_CONTENT_TYPE = f"{ACTIVITY_JSON}; charset=utf-8"
# What activity_response sets, as a cached actor document answered in front of Quart sends it.
_CACHED_ACTOR_HEADERS = (
    (b"content-type", AP_CONTENT_TYPE.encode("ascii")),
    (b"vary", b"Accept, Signature"),
)
PAGE = collections.PAGE_SIZE


def activity_response(document: dict[str, Any] | bytes) -> Response:
    """A JSON-LD document served as application/activity+json."""
    body = document if isinstance(document, bytes) else json.dumps(document).encode("utf-8")
    response = Response(body, content_type=AP_CONTENT_TYPE)
    response.headers["Vary"] = "Accept, Signature"
    return response


def serve_cached_actors(app: FedicityQuart) -> None:
    """Answer a GET of a local actor's document in front of Quart while it is in the cache:
    every peer verifying one of our signatures fetches it, and Quart's request, hooks and
    response were most of its cost. Anything else (a page, a query, HEAD, a document not
    cached, authorized fetch and its gate) goes on to the `actor` view."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"]:
            return False
        found = front_route(scope["path"])
        if found is None or found[0] != ACTOR_ROUTE or found[1] is None:
            return False
        username = found[1]
        app_state: AppState = app.extensions["fedicity"]
        if app_state.settings.authorized_fetch:
            return False
        body = app_state.actor_documents.get(username)
        accept = asgi.header(scope, b"accept")
        if body is None or not accepts_activitypub(parse_accept_header(accept, MIMEAccept)):
            return False
        started = time.perf_counter()
        await asgi.answer(send, 200, body, _CACHED_ACTOR_HEADERS)
        record("GET", ACTOR_ROUTE, 200, time.perf_counter() - started, None)
        return True

    app.put_in_front(serve)


async def _minimal_actor(view_args: dict[str, Any]) -> Response:
    """What an unsigned fetch of an actor gets under authorized fetch, as in Mastodon: who it
    is and its key. That is how a peer fetches our key to verify us; demanding a signature there
    would make two servers that both require them wait on each other forever."""
    found = await _local_actor(str(view_args.get("username", "")))
    document = await _actor_document(found)
    kept = (
        "@context",
        "id",
        "type",
        "preferredUsername",
        "inbox",
        "outbox",
        "endpoints",
        "publicKey",
        "url",
    )
    return activity_response({key: document[key] for key in kept if key in document})


async def _local_actor(username: str) -> Actor:
    async with state().db.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, username)
        closed = await actor_queries.select_deleted_actor(conn, username) if actor is None else None
    if closed is not None:
        raise Gone(closed)
    if actor is None or actor.kind == "application":
        raise Problem(404, f"no actor named {username!r} here")
    await refuse_suspended(actor.id)
    return actor


class Gone(Exception):
    """A closed account's actor: its id answers 410 with a Tombstone (see accounts/closing)."""

    def __init__(self, actor: Actor) -> None:
        super().__init__(actor.username)
        self.actor = actor


@blueprint.errorhandler(Gone)
async def _gone(error: Gone) -> Response:
    actor = error.actor
    assert actor.deleted_at is not None
    if not wants_activitypub(request):
        return await problem_response(410, message("account_closed"))
    former = "Person"
    if actor.kind == "organization":
        former = "Group" if actor.organization_kind == "project" else "Organization"
    response = activity_response(
        tombstone(
            state().urls.actor(actor.username),
            format_datetime(actor.deleted_at),
            former,
        )
    )
    response.status_code = 410
    return response


@blueprint.get("/actors/<username>")
@serves_activitystreams("negotiated", unsigned=_minimal_actor)
async def actor(username: str) -> Response | WerkzeugResponse | str:
    """An actor: its ActivityStreams document for servers, its profile page for browsers."""
    # program_request: the Accept header as read once for this request (a negotiated route).
    if program_request():
        # The hot path of federation (every peer verifying a signature fetches it): a cached
        # document needs no database round trip (see DocumentCache for how it expires).
        cached = state().actor_documents.get(username)
        if cached is not None:
            return activity_response(cached)
    found = await _local_actor(username)
    if found.username != username:
        return redirect(state().urls.actor(found.username), 301)
    if not program_request():
        if found.kind == "territory" and found.territory_id is not None:
            async with state().db.acquire() as conn:
                territory = await territory_queries.select_territory_by_id(conn, found.territory_id)
            if territory is not None:
                return redirect(territory_path(territory), 303)
        response = Response(await render_profile(found), content_type="text/html; charset=utf-8")
        response.headers["Vary"] = "Accept"
        return response
    cache = state().actor_documents
    body = cache.get(found.username)
    if body is None:
        body = json.dumps(await _actor_document(found)).encode("utf-8")
        cache.put(found.username, body)
    return activity_response(body)


async def _actor_document(found: Actor) -> dict[str, Any]:
    if found.kind == "organization":
        # Organisations add their members, moderators and verified identifier; an imported one
        # gets its keys here if nothing needed them before.
        async with state().db.acquire() as conn:
            keyed = await actor_service.with_keys(conn, found, keygen=state().keygen)
            if found.organization_kind == "project":
                # A project's Group: the organisation's document and the project's fields.
                return await projects.enrich_actor_document(
                    conn,
                    keyed,
                    actor_to_ap(keyed, state().urls),
                    Env(urls=state().urls, clock=state().clock),
                )
            return await organizations.enrich_actor_document(
                conn, keyed, actor_to_ap(keyed, state().urls), state().urls
            )
    if found.kind != "territory" or found.territory_id is None:
        return actor_to_ap(found, state().urls)
    app_state = state()
    async with app_state.db.acquire() as conn:
        keyed = await actor_service.with_keys(conn, found, keygen=app_state.keygen)
        territory = await territory_queries.select_territory_by_id(conn, found.territory_id)
        assert territory is not None
        ancestors = []
        for parent in await territory_queries.select_ancestors(conn, territory.id):
            if parent.id == territory.id:
                continue
            parent_actor = await actor_queries.select_territory_actor(conn, parent.id)
            ancestors.append(
                (parent, app_state.urls.actor(parent_actor.username) if parent_actor else None)
            )
    return territory_actor_to_ap(
        keyed,
        territory,
        ancestors,
        app_state.urls,
        app_state.urls.territory(territory.level, territory.code),
    )


@blueprint.get("/ns/fedicity.jsonld")
@serves_activitystreams("public")
async def fedicity_context() -> Response:
    """Our JSON-LD context for fc: terms (also bundled for offline processing)."""
    response = Response(
        json.dumps(vocab_fedicity_context()), content_type="application/ld+json; charset=utf-8"
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@blueprint.get("/actor")
@serves_activitystreams("public")
async def instance_actor() -> Response:
    """The instance actor, always served as ActivityStreams (never behind authorized fetch)."""
    app_state = state()
    async with app_state.db.acquire() as conn:
        found = await actor_service.ensure_instance_actor(conn, keygen=app_state.keygen)
    return activity_response(actor_to_ap(found, app_state.urls))


def _wants_page() -> bool:
    return request.args.get("page") in {"true", "1"}


@blueprint.get("/actors/<username>/outbox")
@serves_activitystreams("always")
async def outbox(username: str) -> Response:
    """A local actor's public activities."""
    found = await _local_actor(username)
    collection_id = state().urls.actor_outbox(found.username)
    async with state().db.acquire() as conn:
        if not _wants_page():
            return activity_response(
                collections.collection(
                    collection_id, await delivery_queries.count_outbox(conn, found.id)
                )
            )
        cursor = cursor_arg()
        rows = await delivery_queries.select_outbox_page(
            conn, found.id, limit=PAGE, before_id=cursor
        )
    items = [{k: v for k, v in raw.items() if k != "@context"} for _, raw in rows]
    next_cursor = str(rows[-1][0]) if len(rows) == PAGE else None
    return activity_response(
        collections.page(
            collection_id, items, cursor=request.args.get("cursor"), next_cursor=next_cursor
        )
    )


async def _follow_collection(username: str, *, followers: bool) -> Response:
    found = await _local_actor(username)
    urls = state().urls
    me = urls.actor(found.username)
    collection_id = (
        urls.actor_followers(found.username) if followers else urls.actor_following(found.username)
    )
    async with state().db.acquire() as conn:
        total = await (
            follow_queries.count_followers if followers else follow_queries.count_following
        )(conn, me)
        if found.hide_network or not _wants_page():
            return activity_response(
                collections.collection(collection_id, total, first=not found.hide_network)
            )
        cursor = cursor_arg() or 0
        if followers:
            rows = await follow_queries.select_followers_page(conn, me, limit=PAGE, after_id=cursor)
            items = [row.follower for row in rows]
        else:
            rows = await follow_queries.select_following_page(conn, me, limit=PAGE, after_id=cursor)
            items = [row.followee for row in rows]
    next_cursor = str(rows[-1].id) if len(rows) == PAGE else None
    return activity_response(
        collections.page(
            collection_id,
            items,
            cursor=request.args.get("cursor"),
            next_cursor=next_cursor,
            total=total,
        )
    )


@blueprint.get("/actors/<username>/followers")
@serves_activitystreams("always")
async def followers(username: str) -> Response:
    """A local actor's followers: the count always, members unless the actor hides them."""
    return await _follow_collection(username, followers=True)


@blueprint.get("/actors/<username>/following")
@serves_activitystreams("always")
async def following(username: str) -> Response:
    """Whom a local actor follows."""
    return await _follow_collection(username, followers=False)


@blueprint.get("/actors/<username>/liked")
@serves_activitystreams("always")
async def liked(username: str) -> Response:
    """What a local actor liked."""
    found = await _local_actor(username)
    urls = state().urls
    me = urls.actor(found.username)
    collection_id = urls.actor_liked(found.username)
    async with state().db.acquire() as conn:
        total = await post_queries.count_liked(conn, me)
        if found.hide_network or not _wants_page():
            return activity_response(
                collections.collection(collection_id, total, first=not found.hide_network)
            )
        cursor = cursor_arg()
        rows = await post_queries.select_liked_page(conn, me, limit=PAGE, before_id=cursor)
    next_cursor = str(rows[-1][0]) if len(rows) == PAGE else None
    return activity_response(
        collections.page(
            collection_id,
            [uri for _, uri in rows],
            cursor=request.args.get("cursor"),
            next_cursor=next_cursor,
        )
    )


@blueprint.get("/actors/<username>/avatar.png")
async def avatar(username: str) -> Response | WerkzeugResponse:
    """The actor's default avatar."""
    found = await _local_actor(username)
    if found.avatar_name:
        # Every page that shows an avatar by this address shows the uploaded one; briefly
        # cached, so a new picture shows soon.
        moved = redirect(state().urls.media(found.avatar_name), 302)
        moved.headers["Cache-Control"] = "public, max-age=300"
        return moved
    response = Response(avatar_png(found.username), content_type="image/png")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


async def _visible_local_post(token: str) -> Post:
    uri = state().urls.note(token)
    async with state().db.acquire() as conn:
        post = await post_queries.select_post(conn, uri, include_deleted=True)
    if post is None or post.local_actor_id is None or post.visibility not in ("public", "unlisted"):
        raise Problem(404, "no such post here")
    if post.deleted_at is not None:
        raise Problem(410, "this post was deleted")
    await refuse_suspended(post.local_actor_id)
    return post


async def note_document(post: Post) -> dict[str, Any]:
    """The Note of a local post, with its mentions and tags read back."""
    async with state().db.acquire() as conn:
        mentions = await post_queries.select_post_mentions(conn, post.id)
        tags = await post_queries.select_post_tags(conn, post.id)
        named = await actor_queries.select_remote_actors(conn, mentions)
    names = {remote.uri: remote.handle for remote in named}
    urls = state().urls
    return note_to_ap(
        post,
        urls,
        mentions=[(uri, names.get(uri, uri)) for uri in mentions],
        tags=tags,
        tag_url=urls.tag_template,
    )


@blueprint.get("/notes/<token>")
@serves_activitystreams("negotiated")
async def note(token: str) -> Response | str:
    """A public post: its Note for servers, a page for browsers."""
    post = await _visible_local_post(token)
    if not wants_activitypub(request):
        return await render_post_page(post)
    return activity_response(await note_document(post))


@blueprint.get("/notes/<token>/replies")
@serves_activitystreams("always")
async def replies(token: str) -> Response:
    """Public replies to a local post."""
    post = await _visible_local_post(token)
    collection_id = state().urls.replies(post.uri)
    async with state().db.acquire() as conn:
        total = await post_queries.count_replies(conn, post.uri)
        if not _wants_page():
            return activity_response(collections.collection(collection_id, total))
        cursor = cursor_arg() or 0
        rows = await post_queries.select_replies(conn, post.uri, limit=PAGE, after_id=cursor)
    next_cursor = str(rows[-1].id) if len(rows) == PAGE else None
    return activity_response(
        collections.page(
            collection_id,
            [row.uri for row in rows],
            cursor=request.args.get("cursor"),
            next_cursor=next_cursor,
        )
    )


async def _activity(uri: str) -> Response:
    async with state().db.acquire() as conn:
        raw = await delivery_queries.select_activity(conn, uri)
    if raw is None:
        raise Problem(404, "no such public activity here")
    return activity_response(
        {"@context": AS_CONTEXT, **{k: v for k, v in raw.items() if k != "@context"}}
    )


@blueprint.get("/notes/<token>/activity")
@serves_activitystreams("always")
async def note_activity(token: str) -> Response:
    """The Create activity of a local post."""
    urls = state().urls
    return await _activity(urls.create_activity(urls.note(token)))


@blueprint.get("/activities/<token>")
@serves_activitystreams("always")
async def published_activity(token: str) -> Response:
    """A public activity we published."""
    return await _activity(state().urls.activity(token))
