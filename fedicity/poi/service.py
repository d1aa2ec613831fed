"""Local points of interest: create, change and delete (by their author, or an admin for them);
each publishes its activity as the author to the author's followers in the same transaction, and
the territory the place is in announces it, as it does located posts and events."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.located import queries as located_queries
from fedicity.located.models import NewItem, point_problem
from fedicity.poi import queries
from fedicity.poi.document import place_activity, place_to_ap, tombstone
from fedicity.poi.models import (
    MAX_ADDRESS_PART,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_PHOTOS,
    PLACE_KINDS,
    Address,
    Photo,
    Place,
    PlaceData,
    PlaceError,
    PlaceKind,
)
from fedicity.sanitize import html_to_text
from fedicity.territories.models import Territory
from fedicity.territories.service import locate_and_announce, territory_actor
from fedicity.textfmt import render_markdown
from fedicity.urls import Urls, new_token


@dataclass(frozen=True)
class PlaceInput:
    """What the author fills in."""

    kind: str
    name: str
    latitude: float
    longitude: float
    description: str = ""
    address: Address = field(default_factory=Address)
    photos: tuple[Photo, ...] = ()


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 and c not in "\n\r\t" for c in text)


def check(data: PlaceInput) -> None:
    """Refuse what cannot be a point of interest, with the code of the first problem."""
    if data.kind not in PLACE_KINDS:
        raise PlaceError("place_kind_invalid", "not a kind of place")
    name = data.name.strip()
    if not name:
        raise PlaceError("place_name_missing", "a place needs a name")
    if len(name) > MAX_NAME or _has_control(name):
        raise PlaceError("place_name_invalid", f"a name is at most {MAX_NAME} characters")
    if len(data.description) > MAX_DESCRIPTION or "\x00" in data.description:
        raise PlaceError(
            "place_description_invalid", f"a description is at most {MAX_DESCRIPTION} characters"
        )
    problem = point_problem(data.latitude, data.longitude)
    if problem is not None:
        raise PlaceError(problem, "not a place on Earth")
    for part in (data.address.street, data.address.postal_code, data.address.locality):
        if len(part) > MAX_ADDRESS_PART or _has_control(part):
            raise PlaceError("place_address_invalid", "an address part is one short line")
    if len(data.photos) > MAX_PHOTOS:
        raise PlaceError("place_too_many_photos", f"at most {MAX_PHOTOS} photos")


def _data(
    data: PlaceInput, *, author: Actor, urls: Urls, token: str, now: datetime, place: Territory
) -> PlaceData:
    uri = urls.place(token)
    kind: PlaceKind = next(k for k in PLACE_KINDS if k == data.kind)
    return PlaceData(
        uri=uri,
        token=token,
        url=uri,
        kind=kind,
        name=" ".join(data.name.split()),
        description_source=data.description,
        description_html=render_markdown(data.description) if data.description.strip() else "",
        latitude=data.latitude,
        longitude=data.longitude,
        address=Address(
            *(
                " ".join(p.split())
                for p in (data.address.street, data.address.postal_code, data.address.locality)
            )
        ),
        territory_id=place.id,
        photos=data.photos,
        author_uri=urls.actor(author.username),
        local_actor_id=author.id,
        local=True,
        published=now,
    )


def located_item(place: Place, *, origin_host: str) -> NewItem:
    """The point of interest as an item located in its territory, at its own point."""
    return NewItem(
        object_uri=place.uri,
        kind="place",
        territory_id=place.territory_id,
        title=place.name,
        summary=html_to_text(place.description_html)[:500],
        url=place.url or place.uri,
        author_uri=place.author_uri,
        origin_host=origin_host,
        published=place.published,
        latitude=place.latitude,
        longitude=place.longitude,
        via=place.via,
    )


async def _publish(
    conn: Connection,
    *,
    author: Actor,
    place: Place,
    kind: str,
    territory: Territory,
    root: Territory | None,
    urls: Urls,
    clock: Clock,
    keygen: KeyGenerator,
) -> None:
    place_actor = await territory_actor(conn, territory, keygen=keygen)
    audience_uri = urls.actor(place_actor.username)
    document = place_to_ap(place, urls, audience_uri=audience_uri, with_context=False)
    activity = place_activity(
        kind,
        place,
        urls,
        id=urls.create_activity(place.uri) if kind == "Create" else urls.activity(new_token()),
        object=document,
        audience_uri=audience_uri,
        published=document["published"],
    )
    await publish(
        conn,
        actor=author,
        activity=activity,
        audience=Audience(followers=True),
        urls=urls,
        clock=clock,
    )
    await locate_and_announce(
        conn,
        item=located_item(place, origin_host=host_of(urls.base)),
        activity_uri=activity["id"],
        root=root,
        urls=urls,
        clock=clock,
        keygen=keygen,
    )


def _check_author(actor: Actor) -> None:
    if actor.kind not in ("person", "organization"):
        raise PlaceError("not_place_author", "only citizens and organisations add places")


async def create_place(
    conn: Connection,
    *,
    actor: Actor,
    data: PlaceInput,
    territory: Territory,
    root: Territory | None,
    urls: Urls,
    clock: Clock,
    keygen: KeyGenerator,
) -> Place:
    """Add a point of interest: stored, its Create published, located and announced, in one
    transaction."""
    _check_author(actor)
    check(data)
    async with conn.transaction():
        stored = await queries.upsert_place(
            conn,
            _data(
                data, author=actor, urls=urls, token=new_token(), now=clock.now(), place=territory
            ),
        )
        assert stored is not None
        await _publish(
            conn,
            author=actor,
            place=stored,
            kind="Create",
            territory=territory,
            root=root,
            urls=urls,
            clock=clock,
            keygen=keygen,
        )
    return stored


async def _author_of(conn: Connection, place: Place, editor: Actor, *, is_admin: bool) -> Actor:
    """The place's local author, when `editor` may act for it (the author, or an admin)."""
    if place.local_actor_id is None or place.token is None:
        raise PlaceError("not_place_author", "only the author changes a place")
    if editor.id != place.local_actor_id and not is_admin:
        raise PlaceError("not_place_author", "only the author or an admin changes a place")
    if place.deleted_at is not None:
        raise PlaceError("place_deleted", "this place was deleted")
    author = await actor_queries.select_actor_by_id(conn, place.local_actor_id)
    if author is None:
        raise PlaceError("not_place_author", "the author of this place is gone")
    return author


async def update_place(
    conn: Connection,
    *,
    editor: Actor,
    is_admin: bool,
    place: Place,
    data: PlaceInput,
    territory: Territory,
    root: Territory | None,
    urls: Urls,
    clock: Clock,
    keygen: KeyGenerator,
) -> Place:
    """Change a point of interest (its author, or an admin): the Update goes out as the author."""
    check(data)
    async with conn.transaction():
        author = await _author_of(conn, place, editor, is_admin=is_admin)
        assert place.token is not None
        new = _data(
            data, author=author, urls=urls, token=place.token, now=clock.now(), place=territory
        )
        stored = await queries.upsert_place(
            conn, replace(new, published=place.published, updated=clock.now())
        )
        if stored is None:
            raise PlaceError("place_deleted", "this place was deleted")
        await _publish(
            conn,
            author=author,
            place=stored,
            kind="Update",
            territory=territory,
            root=root,
            urls=urls,
            clock=clock,
            keygen=keygen,
        )
    return stored


async def delete_place(
    conn: Connection, *, editor: Actor, is_admin: bool, place: Place, urls: Urls, clock: Clock
) -> None:
    """Delete (its author, or an admin): tombstoned, unlocated, Delete to the followers."""
    async with conn.transaction():
        author = await _author_of(conn, place, editor, is_admin=is_admin)
        if not await queries.mark_deleted(conn, place.uri, place.author_uri, clock.now()):
            raise PlaceError("place_deleted", "this place was deleted")
        await located_queries.mark_deleted(conn, place.uri, clock.now())
        await publish(
            conn,
            actor=author,
            activity=place_activity(
                "Delete", place, urls, id=urls.activity(new_token()), object=tombstone(place.uri)
            ),
            audience=Audience(followers=True),
            urls=urls,
            clock=clock,
        )
