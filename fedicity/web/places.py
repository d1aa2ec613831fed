"""Points of interest: a place's page (content-negotiated: its `Place` for servers) with a small
map of its point, its GeoJSON, the form to add one (/places/new), to edit or delete it (its
author or an admin), and a territory's places by kind."""

from __future__ import annotations

from typing import Any, Final

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.exports import geojson
from fedicity.media import pictures
from fedicity.media import service as media
from fedicity.media.models import MediaError
from fedicity.poi import queries
from fedicity.poi import service as places
from fedicity.poi.document import place_to_ap
from fedicity.poi.models import MAX_PHOTOS, PLACE_KINDS, Address, Photo, Place, PlaceError
from fedicity.poi.service import PlaceInput
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.web import schemaorg
from fedicity.web.activitypub import activity_response
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import POINT_ERRORS, degrees_text, point
from fedicity.web.limits import accepts_four_uploads
from fedicity.web.map import default_center, kind_label, place_kind_label
from fedicity.web.media import read_upload
from fedicity.web.messages import message
from fedicity.web.moderation import refuse_suspended
from fedicity.web.negotiation import wants_activitypub
from fedicity.web.paging import moment_cursor, moment_cursor_arg
from fedicity.web.people import known_actors
from fedicity.web.ratelimits import posting_wait, too_fast
from fedicity.web.session import check_csrf, current_account, current_actor
from fedicity.web.signed_fetch import serves_activitystreams
from fedicity.web.territories import resolve_place, served_root

blueprint = Blueprint("places", __name__)
blueprint.before_request(check_csrf)

PLACES_PAGE: Final = 50
# Refusals that are about the request's size or rate keep the form and say so by their status.
_STATUS: Final = {
    "image_too_large": 413,
    "image_too_many_pixels": 413,
    "upload_quota": 429,
    "not_place_author": 403,
}


def _is_admin() -> bool:
    account = current_account()
    return account is not None and account.is_admin


async def _place(token: str) -> Place:
    if not token.isascii() or len(token) > 64:
        raise Problem(404, "no such place here")
    async with state().db.acquire() as conn:
        found = await queries.select_place_by_token(conn, token)
    if found is None:
        raise Problem(404, "no such place here")
    if found.deleted_at is not None:
        raise Problem(410, "this place was deleted")
    await refuse_suspended(found.local_actor_id)
    return found


async def _audience(place: Place) -> str | None:
    async with state().db.acquire() as conn:
        actor = await actor_queries.select_territory_actor(conn, place.territory_id)
    return state().urls.actor(actor.username) if actor is not None else None


def _may_change(me: Actor | None, place: Place) -> bool:
    return me is not None and (me.id == place.local_actor_id or _is_admin())


@blueprint.get("/places/<token>")
@serves_activitystreams("negotiated")
async def place_page(token: str) -> Response | str:
    """A point of interest: its `Place` for servers, its page for browsers."""
    place = await _place(token)
    if wants_activitypub(request):
        return activity_response(
            place_to_ap(place, state().urls, audience_uri=await _audience(place))
        )
    me = await current_actor()
    async with state().db.acquire() as conn:
        people = await known_actors(conn, state().urls, [place.author_uri])
        territory = await territory_queries.select_territory_by_id(conn, place.territory_id)
    return await render_template(
        "place.html",
        place=place,
        territory=territory,
        people=people,
        me=me,
        may_change=_may_change(me, place),
        kind_label=place_kind_label(place.kind),
        features_url=url_for("places.place_geojson", token=token),
        center=f"{place.latitude:.6f},{place.longitude:.6f}",
        structured_data=schemaorg.point_of_interest(place, place_kind_label(place.kind)),
    )


@blueprint.get("/places/<token>.geojson")
async def place_geojson(token: str) -> Response:
    """The place's point as a GeoJSON FeatureCollection (its page's small map draws it)."""
    place = await _place(token)
    item = geojson.MapItem(
        "place",
        geojson.short_name(place.name),
        place.uri,
        place.latitude,
        place.longitude,
        contacts=(("placeKind", place.kind), ("placeKindLabel", place_kind_label(place.kind))),
    )
    body = geojson.feature_collection({"place": [item]}, kind_label)
    response = Response(body, content_type="application/geo+json; charset=utf-8")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# --- the form ------------------------------------------------------------------------------


def _values_of(place: Place) -> dict[str, str]:
    return {
        "kind": place.kind,
        "name": place.name,
        "description": place.description_source or "",
        "latitude": degrees_text(place.latitude),
        "longitude": degrees_text(place.longitude),
        "street": place.address.street,
        "postal_code": place.address.postal_code,
        "locality": place.address.locality,
    }


async def _form_page(
    place: Place | None, values: Any, *, error: str | None = None, territory: str = ""
) -> str:
    by_point = error in POINT_ERRORS or error == "place_point_missing"
    return await render_template(
        "place_form.html",
        place=place,
        values=values,
        territory_value=territory or values.get("territory", ""),
        kinds=[(kind, place_kind_label(kind)) for kind in PLACE_KINDS],
        error=message(error) if error and not by_point else None,
        place_error=message(error) if error and by_point else None,
        picker_center=await default_center(),
        max_photos=MAX_PHOTOS,
        max_upload_mib=max(1, state().settings.max_upload_bytes // (1024 * 1024)),
    )


def _input(form: MultiDict[str, str], photos: tuple[Photo, ...]) -> PlaceInput:
    where = point(form)
    if isinstance(where, str):
        raise PlaceError(where, "not a place on Earth")
    latitude, longitude = where
    if latitude is None or longitude is None:
        raise PlaceError("place_point_missing", "a place needs its point")
    return PlaceInput(
        kind=form.get("kind", ""),
        name=form.get("name", ""),
        description=form.get("description", ""),
        latitude=latitude,
        longitude=longitude,
        address=Address(
            street=form.get("street", ""),
            postal_code=form.get("postal_code", ""),
            locality=form.get("locality", ""),
        ),
        photos=photos,
    )


async def _uploads() -> list[bytes]:
    """The photos chosen, checked and encoded again before anything is stored."""
    max_bytes = state().settings.max_upload_bytes
    files = await request.files
    chosen = [f for f in files.getlist("photos") if f.filename]
    if len(chosen) > MAX_PHOTOS:
        raise PlaceError("place_too_many_photos", f"at most {MAX_PHOTOS} photos")
    uploads = []
    for storage in chosen:
        single = MultiDict([("photo", storage)])
        data = await read_upload(single, "photo", max_bytes=max_bytes)
        if data:
            media.check_image(data, max_bytes=max_bytes)
            # Decoded and encoded again, as profile pictures are: a phone's EXIF (where and
            # when it was taken, the device) is dropped, a polyglot refused, the size bounded.
            picture = await pictures.reencode_async(data, "photo")
            uploads.append(picture.data)
    return uploads


async def _photos(
    form: MultiDict[str, str],
    place: Place | None,
    uploads: list[bytes],
    me: Actor,
    conn: Connection,
) -> tuple[Photo, ...]:
    """The photos kept (of those the place had, the ones still ticked) and the new ones stored."""
    kept = [p for p in (place.photos if place else ()) if p.url in form.getlist("keep_photo")]
    if len(kept) + len(uploads) > MAX_PHOTOS:
        raise PlaceError("place_too_many_photos", f"at most {MAX_PHOTOS} photos")
    app_state = state()
    settings = app_state.settings
    for data in uploads:
        stored = await media.store_image(
            conn,
            data,
            data_dir=settings.data_dir,
            uploaded_by=me.id,
            now=app_state.clock.now(),
            max_bytes=settings.max_upload_bytes,
            quota_bytes=settings.upload_quota_bytes_per_day,
        )
        kept.append(
            Photo(
                media.url_of(app_state.urls, stored), stored.media_type, stored.width, stored.height
            )
        )
    return tuple(kept)


async def _territory(form: MultiDict[str, str]) -> Territory:
    typed = form.get("territory", "")
    if not typed.strip():
        raise PlaceError("place_territory_missing", "say in which commune the place is")
    found = await resolve_place(typed)
    if found is None:
        raise PlaceError("territory_unknown", "this territory is not served here")
    return found


async def _save(place: Place | None) -> str | Response | WerkzeugResponse | tuple[str, int]:
    me = await current_actor()
    if me is None:
        raise Problem(401, "log in first")
    if place is not None and not _may_change(me, place):
        raise Problem(403, message("not_place_author"))
    form = await request.form
    if place is None:
        wait = await posting_wait()
        if wait is not None:
            return too_fast(await _form_page(None, form, error="posting_too_fast"), wait)
    app_state = state()
    try:
        territory = await _territory(form)
        # The fields are checked before any upload is stored.
        places.check(_input(form, ()))
        uploads = await _uploads()
        root = await served_root()
        async with app_state.db.acquire() as conn, conn.transaction():
            data = _input(form, await _photos(form, place, uploads, me, conn))
            if place is None:
                saved = await places.create_place(
                    conn,
                    actor=me,
                    data=data,
                    territory=territory,
                    root=root,
                    urls=app_state.urls,
                    clock=app_state.clock,
                    keygen=app_state.keygen,
                )
            else:
                saved = await places.update_place(
                    conn,
                    editor=me,
                    is_admin=_is_admin(),
                    place=place,
                    data=data,
                    territory=territory,
                    root=root,
                    urls=app_state.urls,
                    clock=app_state.clock,
                    keygen=app_state.keygen,
                )
    except (PlaceError, MediaError) as error:
        page = await _form_page(place, form, error=error.code)
        return page, _STATUS.get(error.code, 422)
    assert saved.token is not None
    return redirect(url_for("places.place_page", token=saved.token), 303)


@blueprint.route("/places/new", methods=["GET", "POST"])
@accepts_four_uploads
async def new_place() -> str | Response | WerkzeugResponse | tuple[str, int]:
    """The form to add a point of interest (GET), and adding it (POST)."""
    if await current_actor() is None:
        if request.method == "POST":
            raise Problem(401, "log in first")
        return redirect(url_for("accounts.login", next=url_for("places.new_place")), 303)
    if request.method == "POST":
        return await _save(None)
    return await _form_page(None, {"kind": "other"})


@blueprint.route("/places/<token>/edit", methods=["GET", "POST"])
@accepts_four_uploads
async def edit_place(token: str) -> str | Response | WerkzeugResponse | tuple[str, int]:
    """The author's (or an admin's) form to change a place, and saving it."""
    place = await _place(token)
    if request.method == "POST":
        return await _save(place)
    me = await current_actor()
    if me is None:
        raise Problem(401, "log in first")
    if not _may_change(me, place):
        raise Problem(403, message("not_place_author"))
    async with state().db.acquire() as conn:
        territory = await territory_queries.select_territory_by_id(conn, place.territory_id)
    code = f"{territory.level}:{territory.code}" if territory is not None else ""
    return await _form_page(place, _values_of(place), territory=code)


@blueprint.post("/places/<token>/delete")
async def delete_place(token: str) -> WerkzeugResponse:
    """The author (or an admin) deletes the place."""
    place = await _place(token)
    me = await current_actor()
    if me is None:
        raise Problem(401, "log in first")
    app_state = state()
    async with app_state.db.acquire() as conn:
        try:
            await places.delete_place(
                conn,
                editor=me,
                is_admin=_is_admin(),
                place=place,
                urls=app_state.urls,
                clock=app_state.clock,
            )
        except PlaceError as error:
            raise Problem(403, message(error.code)) from error
        territory = await territory_queries.select_territory_by_id(conn, place.territory_id)
    if territory is None:
        return redirect(url_for("map.map_page"), 303)
    return redirect(
        url_for("places.territory_places", level=territory.level, code=territory.code), 303
    )


# --- a territory's places --------------------------------------------------------------------


@blueprint.get("/territoires/<level>/<code>/places")
async def territory_places(level: str, code: str) -> str:
    """The points of interest of a territory and below it, by kind (`?kind=`), newest first,
    a page at a time (`?before=`)."""
    kind = request.args.get("kind", "").strip() or None
    if kind is not None and kind not in PLACE_KINDS:
        raise Problem(400, "kind: not a kind of place")
    if len(level) > 20 or len(code) > 80:
        raise Problem(404, "no such territory here")
    async with state().db.acquire() as conn:
        territory = await territory_queries.select_territory(conn, level, code)
        if territory is None:
            raise Problem(404, "no such territory here")
        found = await queries.select_in_scope(
            conn, territory.id, kind=kind, limit=PLACES_PAGE + 1, before=moment_cursor_arg()
        )
    following = (
        moment_cursor(found[PLACES_PAGE - 1].published, found[PLACES_PAGE - 1].id)
        if len(found) > PLACES_PAGE
        else None
    )
    found = found[:PLACES_PAGE]
    by_kind: dict[str, list[Place]] = {}
    for place in found:
        by_kind.setdefault(place.kind, []).append(place)
    return await render_template(
        "territory_places.html",
        territory=territory,
        kind=kind,
        kinds=[(k, place_kind_label(k)) for k in PLACE_KINDS],
        by_kind=[(k, place_kind_label(k), by_kind[k]) for k in PLACE_KINDS if k in by_kind],
        total=len(found),
        next_url=url_for(
            "places.territory_places",
            level=territory.level,
            code=territory.code,
            kind=kind,
            before=following,
        )
        if following
        else None,
        map_url=url_for("map.map_page", territory=f"{territory.level}:{territory.code}"),
    )
