"""ActivityPub GET routes: actor documents with content negotiation, collections, avatars."""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub.vocab import ACTIVITY_JSON, AS_CONTEXT
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.ap import actor_to_ap
from fedicity.actors.models import Actor
from fedicity.app import state
from fedicity.web.avatars import avatar_png
from fedicity.web.errors import Problem
from fedicity.web.negotiation import wants_activitypub
from fedicity.web.pages import render_profile

blueprint = Blueprint("activitypub", __name__)

AP_CONTENT_TYPE = f"{ACTIVITY_JSON}; charset=utf-8"


def activity_response(document: dict[str, Any] | bytes) -> Response:
    """A JSON-LD document served as application/activity+json."""
    body = document if isinstance(document, bytes) else json.dumps(document).encode("utf-8")
    response = Response(body, content_type=AP_CONTENT_TYPE)
    response.headers["Vary"] = "Accept"
    return response


async def _local_actor(username: str) -> Actor:
    async with state().db.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, username)
    if actor is None or actor.kind == "application":
        raise Problem(404, f"no actor named {username!r} here")
    return actor


@blueprint.get("/actors/<username>")
async def actor(username: str) -> Response | WerkzeugResponse | str:
    """An actor: its ActivityStreams document for servers, its profile page for browsers."""
    found = await _local_actor(username)
    if found.username != username:
        return redirect(state().urls.actor(found.username), 301)
    if not wants_activitypub(request):
        response = Response(await render_profile(found), content_type="text/html; charset=utf-8")
        response.headers["Vary"] = "Accept"
        return response
    cache = state().actor_documents
    body = cache.get(found.username)
    if body is None:
        body = json.dumps(actor_to_ap(found, state().urls)).encode("utf-8")
        cache[found.username] = body
    return activity_response(body)


@blueprint.get("/actor")
async def instance_actor() -> Response:
    """The instance actor, always served as ActivityStreams."""
    app_state = state()
    async with app_state.db.acquire() as conn:
        found = await actor_service.ensure_instance_actor(conn, keygen=app_state.keygen)
    return activity_response(actor_to_ap(found, app_state.urls))


def _empty_collection(collection_id: str) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": 0,
        "orderedItems": [],
    }


@blueprint.get("/actors/<username>/outbox")
async def outbox(username: str) -> Response:
    """A local actor's outbox; activities arrive with federation."""
    found = await _local_actor(username)
    return activity_response(_empty_collection(state().urls.actor_outbox(found.username)))


@blueprint.get("/actors/<username>/followers")
async def followers(username: str) -> Response:
    """A local actor's followers."""
    found = await _local_actor(username)
    return activity_response(_empty_collection(state().urls.actor_followers(found.username)))


@blueprint.get("/actors/<username>/following")
async def following(username: str) -> Response:
    """Whom a local actor follows."""
    found = await _local_actor(username)
    return activity_response(_empty_collection(state().urls.actor_following(found.username)))


@blueprint.get("/actors/<username>/avatar.png")
async def avatar(username: str) -> Response:
    """The actor's default avatar."""
    found = await _local_actor(username)
    response = Response(avatar_png(found.username), content_type="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
