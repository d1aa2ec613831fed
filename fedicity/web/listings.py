"""Listings' pages: the list (filtered by kind, section, category, territory and its
descendants, text), a listing (content-negotiated: its `Page` for servers), the author's form to
post, edit, renew and delete, and "Contacter" (a direct message to the author, here or remote)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.listings import queries, service
from fedicity.listings.models import (
    CATEGORIES,
    CURRENCIES,
    CURRENCY_SIGNS,
    DEFAULT_VALIDITY,
    KINDS,
    SECTIONS,
    Listing,
)
from fedicity.listings.parse import currency_of, has_nul, price_of
from fedicity.listings.service import Env, ListingError, ListingInput
from fedicity.listings.text import format_price, until_words
from fedicity.organizations import queries as organization_queries
from fedicity.posts.service import PostError
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.web.activitypub import activity_response
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import POINT_ERRORS, degrees_text, point
from fedicity.web.i18n import gettext, lazy
from fedicity.web.map import default_center
from fedicity.web.messages import message, query_error
from fedicity.web.negotiation import wants_activitypub
from fedicity.web.paging import moment_cursor, moment_cursor_arg
from fedicity.web.people import known_actors
from fedicity.web.ratelimits import posting_wait, too_fast
from fedicity.web.session import check_csrf, current_actor, require_actor
from fedicity.web.signed_fetch import serves_activitystreams
from fedicity.web.territories import resolve_place, served_root, territory_path
from fedicity.web.times import reader_locale

blueprint = Blueprint("listings", __name__)
blueprint.before_request(check_csrf)

PAGE = 20
MAX_QUERY = 100
_ZONE = ZoneInfo("Europe/Paris")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ALL_SECTIONS = tuple(dict.fromkeys(s for sections in SECTIONS.values() for s in sections))
ALL_CATEGORIES = tuple(c for categories in CATEGORIES.values() for c in categories)
KIND_LABELS = {
    "ressource": lazy("Needs and offers"),
    "job": lazy("Jobs"),
    "classified": lazy("Sales and rentals"),
}
SECTION_LABELS = {
    "need": lazy("Need"),
    "offer": lazy("Offer"),
    "for_sale": lazy("For sale"),
    "for_rent": lazy("For rent"),
}
CATEGORY_LABELS = {
    "service": lazy("Service"),
    "skill": lazy("Skill"),
    "material": lazy("Material"),
    "job_offer": lazy("Job offer"),
    "training": lazy("Training"),
    "internship": lazy("Internship"),
    "technology": lazy("Technology"),
    "property": lazy("Property"),
    "vehicles": lazy("Vehicles"),
    "home": lazy("Home and garden"),
    "leisure": lazy("Leisure"),
    "fashion": lazy("Fashion"),
    "other": lazy("Other"),
}
# Form refusals answer 422 with the form; these say who may not (403) or what is gone (410).
_STATUS = {"not_listing_author": 403, "not_admin": 403, "listing_deleted": 410}


def labels() -> dict[str, Any]:
    """The words of kinds, sections, categories and currencies in the reader's language, for
    the templates."""
    return {
        "kinds": KINDS,
        "sections_of": SECTIONS,
        "categories_of": CATEGORIES,
        "currencies": CURRENCIES,
        "currency_signs": CURRENCY_SIGNS,
        "kind_labels": {code: gettext(words) for code, words in KIND_LABELS.items()},
        "section_labels": {code: gettext(words) for code, words in SECTION_LABELS.items()},
        "category_labels": {code: gettext(words) for code, words in CATEGORY_LABELS.items()},
    }


def _env() -> Env:
    app_state = state()
    return Env(
        urls=app_state.urls,
        clock=app_state.clock,
        keygen=app_state.keygen,
        local_host=app_state.settings.host,
    )


async def _listing(token: str) -> Listing:
    if not token.isascii() or len(token) > 64:
        raise Problem(404, "no such listing here")
    async with state().db.acquire() as conn:
        found = await queries.select_by_token(conn, token)
    if found is None:
        raise Problem(404, "no such listing here")
    if found.deleted_at is not None:
        raise Problem(410, message("listing_deleted"))
    return found


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name, "")
    if value == "":
        return None
    if value not in allowed:
        raise Problem(
            400, f"{name} is one of {', '.join(allowed)}", extra={"reason": f"bad_{name}"}
        )
    return value


@dataclass(frozen=True)
class Shown:
    """A listing as a list or its page shows it."""

    listing: Listing
    price: str
    expired: bool


def _shown(listing: Listing) -> Shown:
    return Shown(
        listing,
        format_price(listing.price, listing.currency, reader_locale()),
        listing.expired(state().clock.now()),
    )


@blueprint.route("/listings", methods=["GET", "POST"])
async def listings_index() -> str | Response | WerkzeugResponse | tuple[str, int]:
    """Live listings (GET), here and federated, newest first, paged, filtered by kind, section,
    category, territory (and every territory under it) and text; or post one (POST, the form of
    /listings/new)."""
    if request.method == "POST":
        return await _save(None)
    kind = _choice("kind", KINDS)
    section = _choice("section", ALL_SECTIONS)
    category = _choice("category", ALL_CATEGORIES)
    text = request.args.get("q", "").strip()
    if len(text) > MAX_QUERY or has_nul(text):
        raise Problem(400, f"q has at most {MAX_QUERY} characters", extra={"reason": "bad_q"})
    place_text = request.args.get("territory", "").strip()
    place = await resolve_place(place_text[:MAX_QUERY]) if place_text else None
    if place_text and place is None:
        raise Problem(404, message("territory_unknown"), extra={"reason": "territory_unknown"})
    before = moment_cursor_arg()
    async with state().db.acquire() as conn:
        found = await queries.select_live(
            conn,
            state().clock.now(),
            limit=PAGE + 1,
            scope_id=place.id if place else None,
            kind=kind,
            section=section,
            category=category,
            text=text or None,
            before=before,
        )
        shown = found[:PAGE]
        people = await known_actors(conn, state().urls, [item.author_uri for item in shown])
    last = shown[-1] if len(found) > PAGE else None
    return await render_template(
        "listings.html",
        listings=[_shown(item) for item in shown],
        people=people,
        filters={
            "kind": kind or "",
            "section": section or "",
            "category": category or "",
            "q": text,
            "territory": place_text,
        },
        place=place,
        place_path=territory_path,
        paged=before is not None,
        later=moment_cursor(last.published, last.id) if last else None,
        **labels(),
    )


async def _document(listing: Listing) -> dict[str, Any]:
    async with state().db.acquire() as conn:
        document: dict[str, Any] = await service.document_of(
            conn, listing, state().urls, state().settings.host
        )
    return document


@blueprint.get("/listings/<token>")
@serves_activitystreams("negotiated")
async def listing_page(token: str) -> Response | str:
    """A listing: its `Page` for servers, its page for browsers."""
    listing = await _listing(token)
    if wants_activitypub(request):
        return activity_response(await _document(listing))
    return await _page(listing)


async def _page(listing: Listing, *, error: str | None = None, typed: str = "") -> str:
    me = await current_actor()
    async with state().db.acquire() as conn:
        people = await known_actors(conn, state().urls, [listing.author_uri])
        place = await territory_queries.select_territory_by_id(conn, listing.territory_id)
        manages = me is not None and await service.may_manage(conn, listing, me, state().urls)
    return await render_template(
        "listing.html",
        item=_shown(listing),
        listing=listing,
        people=people,
        place=place,
        place_path=territory_path,
        me=me,
        manages=manages,
        error=error or query_error(),
        typed=typed,
        notice=request.args.get("notice"),
        **labels(),
    )


# --- the author's form -------------------------------------------------------------------------


async def _admin_of(me: Actor) -> list[Actor]:
    """The organisations I administer, which I may post as."""
    async with state().db.acquire() as conn:
        found = []
        for organization_id, role in await organization_queries.select_organizations_of(
            conn, state().urls.actor(me.username)
        ):
            if role != "admin":
                continue
            organization = await actor_queries.select_actor_by_id(conn, organization_id)
            if organization is not None and organization.kind == "organization":
                found.append(organization)
    return found


async def _form_page(
    listing: Listing | None, values: Any, me: Actor, *, error: str | None = None
) -> str:
    by_place = error in POINT_ERRORS
    return await render_template(
        "listing_form.html",
        listing=listing,
        values=values,
        error=message(error) if error and not by_place else None,
        place_error=message(error) if error and by_place else None,
        picker_center=await default_center(),
        organizations=await _admin_of(me) if listing is None else [],
        **labels(),
    )


def _expiry(raw: str) -> datetime | str | None:
    """The form's last day (the end of that day in Paris), None when empty, or a refusal code."""
    value = raw.strip()
    if not value:
        return None
    if not _DAY.fullmatch(value):
        return "expiry_invalid"
    try:
        day = date.fromisoformat(value)
        return datetime.combine(day, time(23, 59, 59), _ZONE)
    except (ValueError, OverflowError):
        return "expiry_invalid"


def form_input(form: MultiDict[str, str]) -> ListingInput:
    """The posted form as an input, or a ListingError naming the field that is wrong."""
    price = price_of(form.get("price", "").strip())
    if isinstance(price, str):
        raise ListingError(price)
    currency = currency_of(form.get("currency", "EUR") or "EUR")
    if price is not None and currency is None:
        raise ListingError("currency_invalid")
    expires_at = _expiry(form.get("expires_on", ""))
    if isinstance(expires_at, str):
        raise ListingError(expires_at)
    located = point(form)
    if isinstance(located, str):
        raise ListingError(located)
    return ListingInput(
        kind=form.get("kind", ""),
        section=form.get("section", ""),
        category=form.get("category", ""),
        title=form.get("title", ""),
        description=form.get("description", ""),
        price=price,
        currency=currency,
        expires_at=expires_at,
        latitude=located[0],
        longitude=located[1],
    )


def values_of(listing: Listing) -> dict[str, str]:
    """The form fields of an existing listing."""
    place_point = (listing.latitude, listing.longitude)
    return {
        "kind": listing.kind,
        "section": listing.section,
        "category": listing.category,
        "title": listing.title,
        "description": listing.description_source or "",
        "price": "" if listing.price is None else format(listing.price.normalize(), "f"),
        "currency": listing.currency or "EUR",
        "expires_on": listing.expires_at.astimezone(_ZONE).date().isoformat(),
        "latitude": degrees_text(place_point[0]),
        "longitude": degrees_text(place_point[1]),
    }


@blueprint.get("/listings/new")
async def new_listing() -> str | WerkzeugResponse:
    """The form to post a listing."""
    me = await current_actor()
    if me is None:
        return redirect(url_for("accounts.login", next=url_for("listings.new_listing")), 303)
    expires = (state().clock.now() + DEFAULT_VALIDITY).astimezone(_ZONE).date()
    home = ""
    if me.home_territory_id is not None:
        async with state().db.acquire() as conn:
            found = await territory_queries.select_territory_by_id(conn, me.home_territory_id)
        home = f"{found.level}:{found.code}" if found else ""
    values = {
        "kind": request.args.get("kind", "ressource"),
        "currency": "EUR",
        "expires_on": expires.isoformat(),
        "territory": home,
    }
    return await _form_page(None, values, me)


async def _author(me: Actor, chosen: str) -> Actor:
    """Myself, or the organisation I chose to post as (its admins only: checked again below)."""
    if not chosen:
        return me
    async with state().db.acquire() as conn:
        organization = await actor_queries.select_actor_by_username(conn, chosen[:100])
    if organization is None or organization.kind != "organization":
        raise ListingError("not_admin")
    return organization


async def _save(listing: Listing | None) -> str | Response | WerkzeugResponse | tuple[str, int]:
    """Post (`listing` None) or edit a listing from the posted form."""
    me = await require_actor()
    form = await request.form
    if listing is None:
        wait = await posting_wait()
        if wait is not None:
            return too_fast(await _form_page(None, form, me, error="posting_too_fast"), wait)
    place_text = form.get("territory", "").strip()
    place: Territory | None = await resolve_place(place_text[:MAX_QUERY]) if place_text else None
    try:
        if listing is not None and place is None and not place_text:
            async with state().db.acquire() as conn:
                place = await territory_queries.select_territory_by_id(conn, listing.territory_id)
        if place is None:
            raise ListingError("territory_unknown" if place_text else "territory_missing")
        data = form_input(form)
        root = await served_root()
        async with state().db.acquire() as conn:
            if listing is None:
                saved = await service.create_listing(
                    conn,
                    author=await _author(me, form.get("as", "")),
                    by=me,
                    data=data,
                    place=place,
                    root=root,
                    env=_env(),
                )
            else:
                saved = await service.update_listing(
                    conn, listing=listing, by=me, data=data, place=place, root=root, env=_env()
                )
    except ListingError as error:
        status = _STATUS.get(error.code, 422)
        if status != 422:
            raise Problem(status, message(error.code), extra={"reason": error.code}) from error
        return await _form_page(listing, form, me, error=error.code), 422
    assert saved.token is not None
    return redirect(url_for("listings.listing_page", token=saved.token), 303)


@blueprint.route("/listings/<token>/edit", methods=["GET", "POST"])
async def edit(token: str) -> str | Response | WerkzeugResponse | tuple[str, int]:
    """The author's form to change a listing, and saving it."""
    listing = await _listing(token)
    if request.method == "POST":
        return await _save(listing)
    me = await require_actor()
    async with state().db.acquire() as conn:
        if not await service.may_manage(conn, listing, me, state().urls):
            raise Problem(403, message("not_listing_author"))
        place = await territory_queries.select_territory_by_id(conn, listing.territory_id)
    values = values_of(listing)
    values["territory"] = f"{place.level}:{place.code}" if place else ""
    return await _form_page(listing, values, me)


@blueprint.post("/listings/<token>/renew")
async def renew(token: str) -> WerkzeugResponse:
    """The author gives the listing another 30 days."""
    listing = await _listing(token)
    me = await require_actor()
    root = await served_root()
    async with state().db.acquire() as conn:
        try:
            await service.renew_listing(conn, listing=listing, by=me, root=root, env=_env())
        except ListingError as error:
            raise Problem(_STATUS.get(error.code, 422), message(error.code)) from error
    return redirect(url_for("listings.listing_page", token=token, notice="renewed"), 303)


@blueprint.post("/listings/<token>/delete")
async def delete(token: str) -> WerkzeugResponse:
    """The author deletes the listing."""
    listing = await _listing(token)
    me = await require_actor()
    root = await served_root()
    async with state().db.acquire() as conn:
        try:
            await service.delete_listing(conn, listing=listing, by=me, root=root, env=_env())
        except ListingError as error:
            raise Problem(_STATUS.get(error.code, 422), message(error.code)) from error
    return redirect(url_for("listings.listings_index"), 303)


# --- "Contacter" -------------------------------------------------------------------------------


async def _any_listing(uri: str) -> Listing:
    """A listing here or from another instance, by its id."""
    if not uri or len(uri) > 2000 or has_nul(uri):
        raise Problem(400, "listing is the id of a listing", extra={"reason": "bad_listing"})
    async with state().db.acquire() as conn:
        found = await queries.select_listing(conn, uri)
    if found is None:
        raise Problem(404, "no such listing here")
    if found.deleted_at is not None:
        raise Problem(410, message("listing_deleted"))
    return found


@blueprint.route("/listings/contact", methods=["GET", "POST"])
async def contact() -> str | Response | WerkzeugResponse | tuple[str, int]:
    """Write to a listing's author (GET: the form, for a listing of another instance too; POST:
    sent as a direct message, mentioning them and linking the listing)."""
    me = await current_actor()
    if request.method == "GET":
        listing = await _any_listing(request.args.get("listing", ""))
        if me is None:
            back = url_for("listings.contact", listing=listing.uri)
            return redirect(url_for("accounts.login", next=back), 303)
        return await _page(listing)
    if me is None:
        raise Problem(401, "log in first")
    form = await request.form
    listing = await _any_listing(form.get("listing", ""))
    wait = await posting_wait()
    if wait is not None:
        return too_fast(await _page(listing, error=message("posting_too_fast")), wait)
    if listing.local_actor_id is None:
        # A listing aggregated through its territory's announce: its author may be new here.
        await state().fed.directory.actor(listing.author_uri)
    async with state().db.acquire() as conn:
        try:
            await service.contact(
                conn, me=me, listing=listing, text=form.get("text", ""), env=_env()
            )
        except (ListingError, PostError) as error:
            status = 410 if error.code == "listing_expired" else _STATUS.get(error.code, 422)
            page = await _page(listing, error=message(error.code), typed=form.get("text", ""))
            return page, status
    if listing.token is not None:
        return redirect(url_for("listings.listing_page", token=listing.token, notice="sent"), 303)
    return redirect(url_for("listings.contact", listing=listing.uri, notice="sent"), 303)


def listing_path(listing: Listing) -> str:
    """Where a listing is shown here: its page, or (another instance's) its contact page."""
    if listing.token is not None:
        return url_for("listings.listing_page", token=listing.token)
    return url_for("listings.contact", listing=listing.uri)


blueprint.add_app_template_global(listing_path, "listing_path")


# On a territory's page: its newest live listings (and those of the territories within).
TERRITORY_BLOCK = 5


async def latest_listings(territory_id: int) -> list[Shown]:
    """The newest live listings of a territory and below, for its page's block."""
    async with state().db.acquire() as conn:
        found = await queries.select_live(
            conn, state().clock.now(), limit=TERRITORY_BLOCK, scope_id=territory_id
        )
    return [_shown(item) for item in found]


blueprint.add_app_template_global(latest_listings, "latest_listings")
blueprint.add_app_template_global(labels, "listing_labels")


def listing_day(moment: datetime) -> str:
    """A listing's last day in the reader's language ("3 janvier 2027")."""
    return until_words(moment, reader_locale())


blueprint.add_app_template_filter(listing_day, "listing_day")
