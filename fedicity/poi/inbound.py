"""The points of interest's inbound handlers, which workers/router.py calls: Create, Update and
Delete of remote `Place`s, and Places announced by a remote territory actor we aggregate. A Place
is kept only in one of our territories (its `audience` a territory actor, or its postal code a
served commune's) or when a followed territory announces it; every refusal says why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fedicity.activitypub.accessors import get_id, get_ids, get_object, get_type, host_of
from fedicity.activitypub.fetch import FetchError
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors import queries as actor_queries
from fedicity.actors.context import InboundContext
from fedicity.actors.models import RemoteActor
from fedicity.follows import queries as follow_queries
from fedicity.located import queries as located_queries
from fedicity.poi import queries
from fedicity.poi.parse import place_from_ap
from fedicity.poi.service import located_item
from fedicity.territories import queries as territory_queries
from fedicity.territories.inbound import territory_of
from fedicity.territories.models import Territory


async def _served(ctx: InboundContext, territory: Territory | None) -> Territory | None:
    """The territory when this instance serves it (it has a territory actor here)."""
    if territory is None:
        return None
    found = await actor_queries.select_territory_actor(ctx.conn, territory.id)
    return territory if found is not None else None


async def _by_audience(ctx: InboundContext, uri: str) -> Territory | None:
    if ctx.directory.is_local(uri):
        username = uri.removeprefix(ctx.urls.actor(""))
        actor = await actor_queries.select_actor_by_username(ctx.conn, username)
        if actor is None or actor.kind != "territory" or actor.territory_id is None:
            return None
        return await territory_queries.select_territory_by_id(ctx.conn, actor.territory_id)
    group = await ctx.directory.actor(uri)
    if not isinstance(group, RemoteActor) or group.type != "Group":
        return None
    return await territory_of(ctx, group)


async def _territory_for(
    ctx: InboundContext, document: Mapping[str, Any], postal_code: str
) -> Territory | None:
    """A served territory the Place says it is in: its audience (a territory actor, ours or a
    remote one standing for a territory we serve), else a served commune of its postal code."""
    for uri in get_ids(document.get("audience"))[:4]:
        found = await _served(ctx, await _by_audience(ctx, uri))
        if found is not None:
            return found
    code = postal_code.strip()
    if code.isdigit() and len(code) == 5:
        for territory in await territory_queries.search_territories(ctx.conn, code, limit=5):
            if territory.level in ("commune", "quartier"):
                found = await _served(ctx, territory)
                if found is not None:
                    return found
    return None


async def _store(
    ctx: InboundContext,
    document: Mapping[str, Any],
    *,
    author: str,
    via: str | None = None,
    territory: Territory | None = None,
) -> Outcome:
    attributed = get_id(document.get("attributedTo"))
    if attributed is not None and attributed != author:
        return Outcome.ignored("the Place's attributedTo is not the activity's actor")
    uri = get_id(document) or ""
    if ctx.directory.is_local(uri):
        return Outcome.ignored("a remote actor cannot write our places")
    data = place_from_ap(document, author=author, now=ctx.clock.now())
    if isinstance(data, str):
        return Outcome.ignored(data)
    where = territory or await _territory_for(ctx, document, data.address.postal_code)
    if where is None:
        return Outcome.ignored("the Place is in no territory this instance serves")
    existing = await queries.select_place(ctx.conn, data.uri)
    if existing is not None and existing.author_uri != author:
        return Outcome.ignored("only its author changes a place")
    if existing is not None and existing.deleted_at is not None:
        return Outcome.ignored("this place was deleted")
    stored = await queries.upsert_place(ctx.conn, replace(data, territory_id=where.id, via=via))
    if stored is None:
        return Outcome.ignored("only its author changes a place")
    await located_queries.upsert_item(ctx.conn, located_item(stored, origin_host=host_of(uri)))
    return Outcome.done(f"place located in {where.level} {where.code}")


async def on_create_place(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote Place (embedded): kept when it is in one of our territories."""
    document = get_object(activity)
    if document is None:
        return Outcome.ignored("the Create does not embed the Place")
    return await _store(ctx, document, author=ctx.actor_uri)


async def on_update_place(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """An edited remote Place: replaced only when its author sends it (new here: kept)."""
    return await on_create_place(ctx, activity)


async def delete_stored_place(ctx: InboundContext, object_uri: str) -> Outcome | None:
    """Delete of a stored remote Place (bare id or Tombstone) by its author; None when no place
    has that id."""
    existing = await queries.select_place(ctx.conn, object_uri)
    if existing is None:
        return None
    if existing.local or existing.author_uri != ctx.actor_uri:
        return Outcome.ignored("only its author deletes a place")
    await queries.mark_deleted(ctx.conn, object_uri, ctx.actor_uri, ctx.clock.now())
    await located_queries.mark_deleted(ctx.conn, object_uri, ctx.clock.now())
    return Outcome.done()


def announces_place(activity: Mapping[str, Any]) -> bool:
    """Whether an Announce carries a Create or Update of a Place (the router asks, then calls
    us)."""
    inner = get_object(activity)
    document = get_object(inner) if inner is not None else None
    return document is not None and get_type(document) == "Place"


async def on_announced_place(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A followed remote territory actor re-shares the Create (or Update) of a Place: kept in its
    territory, with the announcer as `via`, changed only by its author. Only the announcer's own
    server vouches for an embedded copy."""
    create = get_object(activity)
    if create is None or get_type(create) not in ("Create", "Update"):
        return Outcome.ignored("not an announced Create or Update")
    group = await actor_queries.select_remote_actor(ctx.conn, ctx.actor_uri)
    if group is None or group.type != "Group":
        return Outcome.ignored("only territory actors' announces are aggregated")
    if not await follow_queries.select_local_followers_of(
        ctx.conn, ctx.actor_uri, ctx.urls.actor("")
    ):
        return Outcome.ignored("nobody here follows this territory actor")
    author = get_id(create.get("actor"))
    object_uri = get_id(create.get("object"))
    document = get_object(create)
    if author is None or object_uri is None:
        return Outcome.ignored("the announced activity has no actor or object")
    if document is None or host_of(object_uri) != host_of(ctx.actor_uri):
        fetched = await ctx.directory.fetcher.document(object_uri)
        if isinstance(fetched, FetchError):
            return Outcome.ignored(f"cannot fetch the announced Place: {fetched.detail}")
        document = fetched.document
    territory = await territory_of(ctx, group)
    if territory is None:
        return Outcome.ignored("the announcing territory is unknown here")
    return await _store(ctx, document, author=author, via=ctx.actor_uri, territory=territory)


def register(router: Router[InboundContext]) -> None:
    """Add the Place handlers to the routing table (Delete and Announce go through the router's
    compositions)."""
    router.register("Create", "Place")(on_create_place)
    router.register("Update", "Place")(on_update_place)
