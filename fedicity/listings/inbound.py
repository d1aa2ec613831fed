"""The listings' inbound handlers, which workers/router.py calls: a remote Create or Update of a
`Page` carrying `listingKind` (a Page without it is not a listing: the posts keep it), and the
Delete of one we keep. A remote listing is kept when it is located in a territory served here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fedicity.activitypub.accessors import get_id, get_object, get_type, host_of
from fedicity.activitypub.fetch import FetchError
from fedicity.activitypub.routing import Outcome
from fedicity.actors import queries as actor_queries
from fedicity.actors.context import InboundContext
from fedicity.listings import queries
from fedicity.listings.parse import listing_from_ap, place_of
from fedicity.listings.service import located_item
from fedicity.located import queries as located_queries
from fedicity.territories import queries as territory_queries


def is_listing(document: Mapping[str, Any]) -> bool:
    """A Page that says it is a listing (anything else is left to the posts)."""
    return get_type(document) == "Page" and "listingKind" in document


async def _store(
    ctx: InboundContext,
    document: Mapping[str, Any],
    *,
    author: str | None = None,
    via: str | None = None,
) -> Outcome:
    """Keep a listing of `author` (the activity's actor unless a territory announced it, `via`)."""
    author = author or ctx.actor_uri
    if get_id(document.get("attributedTo")) != author:
        return Outcome.ignored("the listing's author is not the activity's actor")
    if host_of(get_id(document) or "") == host_of(ctx.urls.base):
        return Outcome.ignored("a remote actor cannot write our listings")
    place = place_of(document)
    if isinstance(place, str):
        return Outcome.ignored(place)
    territory = await territory_queries.select_territory(ctx.conn, place.level, place.code)
    # Served here = the territory has its actor (prepared for every territory under the root).
    if (
        territory is None
        or await actor_queries.select_territory_actor(ctx.conn, territory.id) is None
    ):
        return Outcome.ignored("the listing is not located in a territory served here")
    data = listing_from_ap(
        document,
        author=author,
        territory_id=territory.id,
        place=place,
        now=ctx.clock.now(),
    )
    if isinstance(data, str):
        return Outcome.ignored(data)
    if data.latitude is None:
        # No point of its own: the territory's centre, as for ours.
        data = replace(data, latitude=territory.latitude, longitude=territory.longitude)
    stored = await queries.upsert_listing(ctx.conn, data)
    if stored is None:
        return Outcome.ignored("only its author can change a listing")
    await located_queries.upsert_item(ctx.conn, located_item(stored, handle=None, via=via))
    return Outcome.done(f"listing located in {territory.level} {territory.code}")


async def forget_author(ctx: InboundContext) -> None:
    """The activity's actor deleted itself: its listings go with it."""
    await queries.delete_listings_of(ctx.conn, ctx.actor_uri, ctx.clock.now())


async def claim_created(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome | None:
    """A created Page with `listingKind`, stored (or refused with its reason); None for any
    other object."""
    if not is_listing(document):
        return None
    return await _store(ctx, document)


async def claim_updated(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome | None:
    """An edited (or renewed) remote listing: replaced only when its author sends it; None for
    any other object."""
    if not is_listing(document):
        return None
    existing = await queries.select_listing(ctx.conn, get_id(document) or "")
    if existing is not None and existing.author_uri != ctx.actor_uri:
        return Outcome.ignored("only its author can update a listing")
    if existing is not None and existing.deleted_at is not None:
        return Outcome.ignored("this listing was deleted")
    return await _store(ctx, document)


async def delete_stored_listing(ctx: InboundContext, object_uri: str) -> Outcome | None:
    """Delete of a remote listing we keep (by bare id or Tombstone): tombstoned and unlocated
    when its author sends it; None when no listing has that id."""
    existing = await queries.select_listing(ctx.conn, object_uri)
    if existing is None:
        return None
    if existing.author_uri != ctx.actor_uri or existing.is_local:
        return Outcome.ignored("only its author can delete a listing")
    await queries.mark_deleted(ctx.conn, object_uri, ctx.actor_uri, ctx.clock.now())
    await located_queries.mark_deleted(ctx.conn, object_uri, ctx.clock.now())
    return Outcome.done()


async def claim_announced(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome | None:
    """A Create (or Update: an edit, a renewal) of a listing that a territory actor (of a
    commune another instance serves) re-shares: kept as a listing, located here, attributed to
    the activity's actor and to the announcer (`via`); None when the announced object is no
    listing (the territories aggregate it as a post, the posts take the rest)."""
    create = get_object(activity)
    if create is not None and get_type(create) == "Delete":
        return await _announced_deletion(ctx, create)
    if create is None or get_type(create) not in ("Create", "Update"):
        return None
    document = get_object(create)
    if document is None or not is_listing(document):
        return None
    author, object_uri = get_id(create.get("actor")), get_id(document)
    if author is None or object_uri is None:
        return Outcome.ignored("the announced Create has no actor or object")
    if host_of(object_uri) != host_of(ctx.actor_uri):
        # Only the announcer's own server vouches for an embedded copy; fetch the others.
        fetched = await ctx.directory.fetcher.document(object_uri)
        if isinstance(fetched, FetchError):
            return Outcome.ignored(f"cannot fetch the announced listing: {fetched.detail}")
        document = fetched.document
        if not is_listing(document) or get_id(document) != object_uri:
            return Outcome.ignored("the announced object is no listing")
    return await _store(ctx, document, author=author, via=ctx.actor_uri)


async def _announced_deletion(ctx: InboundContext, delete: Mapping[str, Any]) -> Outcome | None:
    """A listing's Delete re-shared by a territory actor of the listing's own server (which
    vouches for it): tombstoned and unlocated when its author sent it; None when no listing
    here has that id."""
    object_uri, author = get_id(delete.get("object")), get_id(delete.get("actor"))
    existing = await queries.select_listing(ctx.conn, object_uri or "")
    if existing is None:
        return None
    if existing.is_local or existing.author_uri != author:
        return Outcome.ignored("only its author can delete a listing")
    if host_of(existing.uri) != host_of(ctx.actor_uri):
        return Outcome.ignored("only the listing's own server vouches for its deletion")
    await queries.mark_deleted(ctx.conn, existing.uri, existing.author_uri, ctx.clock.now())
    await located_queries.mark_deleted(ctx.conn, existing.uri, ctx.clock.now())
    return Outcome.done()
