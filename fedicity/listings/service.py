"""Local listings: written, edited, renewed and deleted by their author (a person, or an
organisation one of its admins posts as); each publishes its activity to the author's followers
in the same transaction, and the territory it is in announces it like a located post. Contact
goes through the platform: a direct note to the author, written by the posts' machinery."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.listings import queries
from fedicity.listings.document import (
    essentials,
    listing_activity,
    listing_to_ap,
    tombstone,
)
from fedicity.listings.models import (
    CATEGORIES,
    CURRENCIES,
    DEFAULT_VALIDITY,
    MAX_DESCRIPTION,
    MAX_PRICE,
    MAX_TITLE,
    MAX_VALIDITY,
    SECTIONS,
    Listing,
    ListingData,
)
from fedicity.listings.parse import has_nul
from fedicity.located import queries as located_queries
from fedicity.located.models import NewItem, point_problem
from fedicity.organizations import queries as organization_queries
from fedicity.posts import service as posts
from fedicity.posts.compose import Mention
from fedicity.posts.models import Post
from fedicity.sanitize import html_to_text
from fedicity.territories import queries as territory_queries
from fedicity.territories.document import announce
from fedicity.territories.models import Territory
from fedicity.territories.service import locate_and_announce, territory_actor
from fedicity.textfmt import render_markdown
from fedicity.urls import Urls, new_token

MAX_MESSAGE = 2000
# Expired listings taken out of the located items per housekeeping step.
UNLOCATE_BATCH = 500


class ListingError(DomainError):
    """A listing (or a message about one) was refused; `code` says why."""


@dataclass(frozen=True)
class ListingInput:
    """What an author fills in."""

    kind: str
    section: str
    category: str
    title: str
    description: str = ""
    price: Decimal | None = None
    currency: str | None = None
    # None: DEFAULT_VALIDITY from now.
    expires_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Env:
    """What every operation needs besides its connection."""

    urls: Urls
    clock: Clock
    keygen: KeyGenerator
    local_host: str


def check(data: ListingInput, now: datetime) -> None:
    """Refuse what breaks a rule, with a code the web layer translates."""
    if data.kind not in SECTIONS:
        raise ListingError("listing_kind_invalid", "a ressource, a job or a classified")
    if data.section not in SECTIONS[data.kind]:
        raise ListingError("listing_section_invalid", "unknown section for this kind")
    if data.category not in CATEGORIES[data.kind]:
        raise ListingError("listing_category_invalid", "unknown category for this kind")
    if has_nul(data.title, data.description):
        raise ListingError("text_nul", "the text holds a NUL character")
    if not data.title.strip():
        raise ListingError("title_missing", "a listing needs a title")
    if len(data.title) > MAX_TITLE:
        raise ListingError("title_too_long", f"a title has at most {MAX_TITLE} characters")
    if len(data.description) > MAX_DESCRIPTION:
        raise ListingError("description_too_long", "the description is too long")
    if data.price is not None and not (Decimal(0) <= data.price <= MAX_PRICE):
        raise ListingError("price_invalid", "a price is an amount from 0 (free)")
    if data.price is not None and data.currency not in CURRENCIES:
        raise ListingError("currency_invalid", f"the currency is one of {', '.join(CURRENCIES)}")
    if data.expires_at is not None:
        if data.expires_at.tzinfo is None or data.expires_at <= now:
            raise ListingError("expiry_invalid", "a listing expires in the future")
        if data.expires_at - now > MAX_VALIDITY:
            raise ListingError("expiry_too_far", "a listing is valid for at most a year")
    problem = point_problem(data.latitude, data.longitude)
    if problem is not None:
        raise ListingError(problem, "a place is a latitude and a longitude in degrees")


async def may_manage(conn: Connection, listing: Listing, me: Actor, urls: Urls) -> bool:
    """Whether `me` may edit, renew or delete a local listing: its author, or an admin of the
    organisation it was posted as."""
    if listing.local_actor_id is None:
        return False
    if listing.local_actor_id == me.id:
        return True
    membership = await organization_queries.select_membership(
        conn, listing.local_actor_id, urls.actor(me.username)
    )
    return membership is not None and membership.is_admin


async def _check_author(conn: Connection, author: Actor, by: Actor, urls: Urls) -> None:
    """A person posts as themselves, or as an organisation they administer."""
    if author.id == by.id and author.kind == "person":
        return
    if author.kind == "organization":
        membership = await organization_queries.select_membership(
            conn, author.id, urls.actor(by.username)
        )
        if membership is not None and membership.is_admin:
            return
    raise ListingError("not_listing_author", "only its author or the organisation's admins")


def _data(
    data: ListingInput,
    *,
    author: Actor,
    by: Actor,
    place: Territory,
    token: str,
    now: datetime,
    urls: Urls,
) -> ListingData:
    uri = urls.listing(token)
    latitude, longitude = data.latitude, data.longitude
    if latitude is None:
        # No point of its own: the commune's centre, as the map places what it locates.
        latitude, longitude = place.latitude, place.longitude
    return ListingData(
        uri=uri,
        token=token,
        url=uri,
        kind=data.kind,
        section=data.section,
        category=data.category,
        title=data.title.strip(),
        description_source=data.description,
        description_html=render_markdown(data.description),
        price=data.price,
        currency=data.currency if data.price is not None else None,
        # To the second, as it is published (validThrough has no fraction).
        expires_at=(data.expires_at or now + DEFAULT_VALIDITY).replace(microsecond=0),
        territory_id=place.id,
        latitude=latitude,
        longitude=longitude,
        author_uri=urls.actor(author.username),
        local_actor_id=author.id,
        posted_by=by.id,
        raw=None,
        published=now,
    )


def located_item(listing: Listing, *, handle: str | None, via: str | None = None) -> NewItem:
    """The listing as an item of its territory: its title, the essentials and the start of its
    description as the summary, its page, its point."""
    line = essentials(listing, handle=handle)
    text = html_to_text(listing.description_html)
    return NewItem(
        object_uri=listing.uri,
        kind="listing",
        territory_id=listing.territory_id,
        title=listing.title,
        summary=(line + ("\n" + text if text else ""))[:500],
        url=listing.url or listing.uri,
        author_uri=listing.author_uri,
        origin_host=host_of(listing.uri),
        published=listing.published,
        latitude=listing.latitude,
        longitude=listing.longitude,
        via=via,
    )


def handle_of(author: Actor, local_host: str) -> str:
    """@name@host of a local author."""
    return f"@{author.username}@{local_host}"


async def document_of(conn: Connection, listing: Listing, urls: Urls, local_host: str) -> Any:
    """The `Page` of a local listing (with its territory and the territory actor as audience)."""
    author = (
        await actor_queries.select_actor_by_id(conn, listing.local_actor_id)
        if listing.local_actor_id is not None
        else None
    )
    place = await territory_queries.select_territory_by_id(conn, listing.territory_id)
    actor = await actor_queries.select_territory_actor(conn, listing.territory_id)
    return listing_to_ap(
        listing,
        urls,
        handle=handle_of(author, local_host) if author else None,
        territory=(place.level, place.code, place.name) if place else None,
        audience_uri=urls.actor(actor.username) if actor else None,
    )


async def _publish(
    conn: Connection,
    *,
    author: Actor,
    listing: Listing,
    kind: str,
    place: Territory,
    root: Territory | None,
    env: Env,
) -> None:
    urls = env.urls
    place_actor = await territory_actor(conn, place, keygen=env.keygen)
    audience_uri = urls.actor(place_actor.username)
    handle = handle_of(author, env.local_host)
    document = listing_to_ap(
        listing,
        urls,
        handle=handle,
        territory=(place.level, place.code, place.name),
        audience_uri=audience_uri,
        with_context=False,
    )
    activity = listing_activity(
        kind,
        listing,
        urls,
        id=urls.create_activity(listing.uri) if kind == "Create" else urls.activity(new_token()),
        object=document,
        audience_uri=audience_uri,
    )
    await publish(
        conn,
        actor=author,
        activity=activity,
        audience=Audience(followers=True),
        urls=urls,
        clock=env.clock,
    )
    await locate_and_announce(
        conn,
        item=located_item(listing, handle=handle),
        activity_uri=activity["id"],
        root=root,
        urls=urls,
        clock=env.clock,
        keygen=env.keygen,
    )


async def create_listing(
    conn: Connection,
    *,
    author: Actor,
    by: Actor,
    data: ListingInput,
    place: Territory,
    root: Territory | None,
    env: Env,
) -> Listing:
    """Post a listing: stored, its Create published, located and announced, in one transaction."""
    now = env.clock.now()
    check(data, now)
    async with conn.transaction():
        await _check_author(conn, author, by, env.urls)
        stored = await queries.upsert_listing(
            conn,
            _data(
                data, author=author, by=by, place=place, token=new_token(), now=now, urls=env.urls
            ),
        )
        assert stored is not None
        await _publish(
            conn, author=author, listing=stored, kind="Create", place=place, root=root, env=env
        )
    return stored


async def _author_of(conn: Connection, listing: Listing) -> Actor:
    assert listing.local_actor_id is not None
    author = await actor_queries.select_actor_by_id(conn, listing.local_actor_id)
    assert author is not None
    return author


async def update_listing(
    conn: Connection,
    *,
    listing: Listing,
    by: Actor,
    data: ListingInput,
    place: Territory,
    root: Territory | None,
    env: Env,
) -> Listing:
    """Edit a listing (its author or the organisation's admins): Update published, located
    again (in its new territory if it moved)."""
    if listing.deleted_at is not None or listing.token is None:
        raise ListingError("listing_deleted", "this listing was deleted")
    now = env.clock.now()
    check(data, now)
    async with conn.transaction():
        if not await may_manage(conn, listing, by, env.urls):
            raise ListingError("not_listing_author", "only its author or the organisation's admins")
        author = await _author_of(conn, listing)
        new = _data(
            data,
            author=author,
            by=by,
            place=place,
            token=listing.token,
            now=now,
            urls=env.urls,
        )
        new = replace(new, published=listing.published, updated=now, posted_by=listing.posted_by)
        stored = await queries.upsert_listing(conn, new)
        assert stored is not None
        await _publish(
            conn, author=author, listing=stored, kind="Update", place=place, root=root, env=env
        )
    return stored


def input_of(listing: Listing) -> ListingInput:
    """The form values of an existing listing."""
    return ListingInput(
        kind=listing.kind,
        section=listing.section,
        category=listing.category,
        title=listing.title,
        description=listing.description_source or "",
        price=listing.price,
        currency=listing.currency,
        expires_at=listing.expires_at,
        latitude=listing.latitude,
        longitude=listing.longitude,
    )


async def renew_listing(
    conn: Connection, *, listing: Listing, by: Actor, root: Territory | None, env: Env
) -> Listing:
    """Give a listing DEFAULT_VALIDITY more from now (back in the lists if it had expired)."""
    place = await territory_queries.select_territory_by_id(conn, listing.territory_id)
    assert place is not None
    data = replace(input_of(listing), expires_at=env.clock.now() + DEFAULT_VALIDITY)
    return await update_listing(
        conn, listing=listing, by=by, data=data, place=place, root=root, env=env
    )


async def delete_listing(
    conn: Connection, *, listing: Listing, by: Actor, root: Territory | None, env: Env
) -> None:
    """Delete: tombstoned here, Delete{Tombstone} to the followers and announced by the
    territories that announced it (instances aggregating them may follow nobody else), unlocated."""
    async with conn.transaction():
        if not await may_manage(conn, listing, by, env.urls):
            raise ListingError("not_listing_author", "only its author or the organisation's admins")
        now = env.clock.now()
        if not await queries.mark_deleted(conn, listing.uri, listing.author_uri, now):
            raise ListingError("listing_deleted", "this listing was deleted")
        await located_queries.mark_deleted(conn, listing.uri, now)
        author = await _author_of(conn, listing)
        deletion = listing_activity(
            "Delete",
            listing,
            env.urls,
            id=env.urls.activity(new_token()),
            object=tombstone(listing.uri),
            audience_uri=None,
        )
        await publish(
            conn,
            actor=author,
            activity=deletion,
            audience=Audience(followers=True),
            urls=env.urls,
            clock=env.clock,
        )
        served = (
            await territory_queries.select_served_ancestors(conn, root.id, listing.territory_id)
            if root is not None
            else []
        )
        for territory in served:
            actor = await territory_actor(conn, territory, keygen=env.keygen)
            await publish(
                conn,
                actor=actor,
                activity=announce(actor, deletion, env.urls, env.urls.activity(new_token())),
                audience=Audience(followers=True),
                urls=env.urls,
                clock=env.clock,
            )


async def author_mention(conn: Connection, listing: Listing, env: Env) -> Mention | None:
    """The listing's author as a note mentions it (local or remote), None when unknown here."""
    if listing.local_actor_id is not None:
        author = await actor_queries.select_actor_by_id(conn, listing.local_actor_id)
        if author is None:
            return None
        return Mention(
            handle_of(author, env.local_host),
            env.urls.actor(author.username),
            env.urls.profile(author.username),
        )
    remote = await actor_queries.select_remote_actor(conn, listing.author_uri)
    if remote is None or remote.username is None or remote.deleted_at is not None:
        return None
    return Mention(f"@{remote.username}@{remote.domain}", remote.uri, remote.url or remote.uri)


async def contact(conn: Connection, *, me: Actor, listing: Listing, text: str, env: Env) -> Post:
    """ "Contacter": a direct note to the listing's author only, mentioning them and linking the
    listing, written like any direct message (the author's server delivers it; a local author
    finds it in their notifications)."""
    if listing.deleted_at is not None:
        raise ListingError("listing_deleted", "this listing was deleted")
    if listing.expired(env.clock.now()):
        raise ListingError("listing_expired", "this listing has expired")
    if has_nul(text):
        raise ListingError("text_nul", "the text holds a NUL character")
    if not text.strip():
        raise ListingError("message_missing", "write a message")
    if len(text) > MAX_MESSAGE:
        raise ListingError("message_too_long", f"a message has at most {MAX_MESSAGE} characters")
    mention = await author_mention(conn, listing, env)
    if mention is None:
        raise ListingError("author_unknown", "the author of this listing is not known here")
    if mention.actor_uri == env.urls.actor(me.username):
        raise ListingError("contact_self", "this is your own listing")
    user, _at, host = mention.text.lstrip("@").partition("@")
    body = f"{mention.text} {text.strip()}\n\n« {listing.title} » {listing.url or listing.uri}"
    return await posts.create_note(
        conn,
        actor=me,
        text=body,
        visibility="direct",
        urls=env.urls,
        clock=env.clock,
        local_host=env.local_host,
        resolved={(user.lower(), host.lower()): mention},
    )


async def unlocate_expired(conn: Connection, now: datetime) -> int:
    """Housekeeping: expired listings leave the scope queries, the map and the API."""
    return await queries.unlocate_expired(conn, now, limit=UNLOCATE_BATCH)
