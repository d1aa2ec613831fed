"""Needs of organisations and projects: the needs panel of an owner's page (templates/_needs.html),
a need's page (its `Page` for servers), the owner's needs collection, the admins' forms (create,
edit, fulfilled, closed, deleted, offers accepted or declined) and a person's offer to help."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from babel.dates import DateTimePattern, get_date_format
from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub import collections
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.needs import queries, service
from fedicity.needs.document import need_to_ap
from fedicity.needs.models import NEED_KINDS, Need, NeedOffer
from fedicity.needs.service import Env, NeedError
from fedicity.organizations import queries as organization_queries
from fedicity.sanitize import safe_url
from fedicity.urls import Urls
from fedicity.web.activitypub import activity_response
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.messages import message
from fedicity.web.moderation import refuse_suspended
from fedicity.web.negotiation import wants_activitypub
from fedicity.web.paging import cursor_arg
from fedicity.web.people import Shown, known_actors
from fedicity.web.session import check_csrf, current_actor, require_actor
from fedicity.web.signed_fetch import serves_activitystreams
from fedicity.web.times import reader_locale

blueprint = Blueprint("needs", __name__)
blueprint.before_request(check_csrf)


@lru_cache(maxsize=8)
def _long_date(locale: str) -> DateTimePattern:
    # format_date parses the locale's pattern on every call: five times the cost of applying it.
    return get_date_format("long", locale=locale)


def need_day(day: date) -> str:
    """A need's day in the reader's language: 20 décembre 2026."""
    locale = reader_locale()
    return _long_date(locale).apply(day, locale)


blueprint.add_app_template_filter(need_day, "need_day")

# An owner's page shows this many open needs; the collection pages through them all.
PANEL_SIZE = 20
OFFERS_SHOWN = 200
COLLECTION_PAGE = collections.PAGE_SIZE
# Refusals and their statuses: a form typed wrong is 422, a state that forbids it 409.
_STATUS = {
    "not_admin": 403,
    "not_an_organization": 403,
    "need_not_found": 404,
    "offer_missing": 404,
    "offer_exists": 409,
    "offer_not_pending": 409,
    "need_not_open": 409,
    "offer_not_person": 403,
}


def _env() -> Env:
    return Env(urls=state().urls, clock=state().clock)


@dataclass(frozen=True)
class NeedsPanel:
    """What templates/_needs.html shows of one owner: its open needs, the accepted helpers of
    each, the viewer's own offers, and whether the viewer may offer or manage."""

    owner: Actor
    needs: list[Need]
    helpers: dict[int, int]
    mine: dict[int, NeedOffer] = field(default_factory=dict)
    can_offer: bool = False
    is_admin: bool = False


async def _is_admin(conn: Connection, owner: Actor, me: Actor | None, urls: Urls) -> bool:
    if me is None or owner.kind != "organization":
        return False
    found = await organization_queries.select_membership(conn, owner.id, urls.actor(me.username))
    return found is not None and found.is_admin


async def needs_panel(conn: Connection, owner: Actor, me: Actor | None, urls: Urls) -> NeedsPanel:
    """The needs panel of an organisation's (or project's) page, for the viewer `me`."""
    owner_uri = urls.actor(owner.username)
    needs = await queries.select_owner_needs(conn, owner_uri, states=("open",), limit=PANEL_SIZE)
    helpers = await queries.count_helpers(conn, [need.id for need in needs]) if needs else {}
    ids = [need.id for need in needs]
    mine: dict[int, NeedOffer] = (
        await queries.select_live_offers_of(conn, ids, urls.actor(me.username))
        if me is not None and ids
        else {}
    )
    return NeedsPanel(
        owner=owner,
        needs=needs,
        helpers=helpers,
        mine=mine,
        can_offer=me is not None and me.kind == "person",
        is_admin=await _is_admin(conn, owner, me, urls),
    )


async def _owner(username: str) -> Actor:
    if len(username) > 64:
        raise Problem(404, "no such organisation here")
    async with state().db.acquire() as conn:
        found = await actor_queries.select_actor_by_username(conn, username)
    if found is None or found.kind != "organization":
        raise Problem(404, f"no organisation named {username!r} here")
    await refuse_suspended(found.id)
    return found


async def _need(username: str, token: str) -> tuple[Actor, Need]:
    owner = await _owner(username)
    if not token.isascii() or len(token) > 64:
        raise Problem(404, "no such need here")
    async with state().db.acquire() as conn:
        need = await queries.select_need_by_token(conn, token)
    if need is None or need.local_owner_id != owner.id:
        raise Problem(404, "no such need here")
    if need.deleted_at is not None:
        raise Problem(410, "this need was deleted")
    return owner, need


def _refused(error: NeedError) -> Problem:
    return Problem(_STATUS.get(error.code, 422), message(error.code), extra={"reason": error.code})


def owner_page(owner: Actor) -> str:
    """Where an owner's needs are shown: its project page, or its organisation page."""
    # str(): the kinds' Literal gains "project" with the projects package (migration 0033).
    if str(owner.organization_kind) == "project":
        return state().urls.project_page(owner.username)
    return url_for("organizations.organization_page", username=owner.username)


# --- reading -------------------------------------------------------------------------------------


@blueprint.get("/actors/<username>/needs")
@serves_activitystreams("negotiated")
async def needs_collection(username: str) -> Response | WerkzeugResponse:
    """The owner's needs: an OrderedCollection of its `Page`s for servers (newest first, paged),
    its page's needs panel for browsers."""
    owner = await _owner(username)
    if not wants_activitypub(request):
        return redirect(owner_page(owner) + "#needs", 303)
    urls = state().urls
    owner_uri = urls.actor(owner.username)
    collection_id = urls.actor_needs(owner_uri)
    async with state().db.acquire() as conn:
        total = await queries.count_owner_needs(conn, owner_uri)
        if request.args.get("page") not in {"true", "1"}:
            return activity_response(collections.collection(collection_id, total))
        found = await queries.select_owner_needs(
            conn,
            owner_uri,
            states=("open", "fulfilled", "closed"),
            limit=COLLECTION_PAGE + 1,
            before_id=cursor_arg(),
        )
    shown = found[:COLLECTION_PAGE]
    return activity_response(
        collections.page(
            collection_id,
            [need_to_ap(need, urls, with_context=False) for need in shown],
            cursor=request.args.get("cursor"),
            next_cursor=str(shown[-1].id) if len(found) > COLLECTION_PAGE else None,
            total=total,
        )
    )


async def _need_page(owner: Actor, need: Need, *, offer_error: str | None = None) -> str:
    me = await current_actor()
    urls = state().urls
    async with state().db.acquire() as conn:
        is_admin = await _is_admin(conn, owner, me, urls)
        shown_states = ("pending", "accepted") if is_admin else ("accepted",)
        offers = await queries.select_offers(conn, need.id, states=shown_states, limit=OFFERS_SHOWN)
        mine = (
            await queries.select_live_offer(conn, need.id, urls.actor(me.username))
            if me is not None
            else None
        )
        people = await known_actors(
            conn, urls, [urls.actor(owner.username), *(o.helper_uri for o in offers)]
        )
    return await render_template(
        "need.html",
        owner=owner,
        owner_uri=urls.actor(owner.username),
        need=need,
        offers=offers,
        people=people,
        mine=mine,
        me=me,
        is_admin=is_admin,
        can_offer=me is not None and me.kind == "person",
        offer_error=offer_error,
        notice=request.args.get("notice"),
    )


@blueprint.get("/actors/<username>/needs/<token>")
@serves_activitystreams("negotiated")
async def need_page(username: str, token: str) -> Response | str:
    """A need: its `Page` for servers, its page for browsers (what, how many, until when, who
    helps, and the offer form)."""
    owner, need = await _need(username, token)
    if wants_activitypub(request):
        return activity_response(need_to_ap(need, state().urls))
    return await _need_page(owner, need)


@blueprint.get("/needs/remote")
async def remote_need() -> str:
    """A need of another server's organisation or project, kept here because someone follows it,
    with the offer form."""
    uri = safe_url(request.args.get("uri", ""))
    if uri is None:
        raise Problem(400, "uri is the http(s) address of a need")
    me = await current_actor()
    urls = state().urls
    async with state().db.acquire() as conn:
        need = await queries.select_need(conn, uri)
        if need is None or need.is_local:
            raise Problem(404, "no such need kept here")
        if need.deleted_at is not None:
            raise Problem(410, "this need was deleted")
        mine = (
            await queries.select_live_offer(conn, need.id, urls.actor(me.username))
            if me is not None
            else None
        )
        people = await known_actors(conn, urls, [need.owner_uri])
    owner: Shown = people[need.owner_uri]
    return await render_template(
        "need_remote.html",
        need=need,
        owner=owner,
        people=people,
        mine=mine,
        me=me,
        can_offer=me is not None and me.kind == "person",
        notice=request.args.get("notice"),
    )


# --- the admins' forms -------------------------------------------------------------------------


def _form_values(form: MultiDict[str, str]) -> dict[str, str]:
    return {
        name: form.get(name, "")
        for name in ("title", "description", "kind", "quantity", "starts_on", "ends_on")
    }


async def _form(
    owner: Actor, need: Need | None, values: dict[str, str], error: str | None = None
) -> str:
    return await render_template(
        "need_form.html",
        owner=owner,
        need=need,
        values=values,
        kinds=NEED_KINDS,
        error=message(error) if error else None,
    )


async def _require_admin(owner: Actor) -> Actor:
    me = await require_actor()
    async with state().db.acquire() as conn:
        if not await _is_admin(conn, owner, me, state().urls):
            raise Problem(403, message("not_admin"), extra={"reason": "not_admin"})
    return me


def _values_of(need: Need) -> dict[str, str]:
    return {
        "title": need.title,
        "description": need.description_source or "",
        "kind": need.kind,
        "quantity": str(need.quantity) if need.quantity is not None else "",
        "starts_on": need.starts_on.isoformat() if need.starts_on else "",
        "ends_on": need.ends_on.isoformat() if need.ends_on else "",
    }


async def _save(owner: Actor, need: Need | None) -> str | tuple[str, int] | WerkzeugResponse:
    me = await _require_admin(owner)
    values = _form_values(await request.form)
    try:
        checked = service.need_input(**values)
        async with state().db.acquire() as conn:
            if need is None:
                saved = await service.create_need(
                    conn, owner=owner, by=me, values=checked, env=_env()
                )
            else:
                saved = await service.update_need(
                    conn, need=need, owner=owner, by=me, values=checked, env=_env()
                )
    except NeedError as refused:
        if refused.code in _STATUS:
            raise _refused(refused) from refused
        return await _form(owner, need, values, refused.code), 422
    assert saved.token is not None
    return redirect(
        url_for("needs.need_page", username=owner.username, token=saved.token, notice="saved"),
        303,
    )


@blueprint.route("/actors/<username>/needs/new", methods=["GET", "POST"])
async def new_need(username: str) -> str | tuple[str, int] | WerkzeugResponse:
    """An admin's form for a new need of the organisation (or project), and publishing it."""
    owner = await _owner(username)
    if request.method == "POST":
        return await _save(owner, None)
    await _require_admin(owner)
    return await _form(owner, None, {"kind": "material"})


@blueprint.route("/actors/<username>/needs/<token>/edit", methods=["GET", "POST"])
async def edit_need(username: str, token: str) -> str | tuple[str, int] | WerkzeugResponse:
    """An admin's form to change a need, and saving it (Update to the followers)."""
    owner, need = await _need(username, token)
    if request.method == "POST":
        return await _save(owner, need)
    await _require_admin(owner)
    return await _form(owner, need, _values_of(need))


@blueprint.post("/actors/<username>/needs/<token>/state")
async def need_state(username: str, token: str) -> WerkzeugResponse:
    """An admin marks the need fulfilled, closes it, or opens it again."""
    owner, need = await _need(username, token)
    me = await require_actor()
    form = await request.form
    try:
        async with state().db.acquire() as conn:
            await service.set_state(
                conn, need=need, owner=owner, by=me, state=form.get("state", ""), env=_env()
            )
    except NeedError as refused:
        raise _refused(refused) from refused
    return redirect(url_for("needs.need_page", username=username, token=token), 303)


@blueprint.post("/actors/<username>/needs/<token>/delete")
async def delete_need(username: str, token: str) -> WerkzeugResponse:
    """An admin deletes the need (Delete to the followers)."""
    owner, need = await _need(username, token)
    me = await require_actor()
    try:
        async with state().db.acquire() as conn:
            await service.delete_need(conn, need=need, owner=owner, by=me, env=_env())
    except NeedError as refused:
        raise _refused(refused) from refused
    return redirect(owner_page(owner), 303)


@blueprint.post("/actors/<username>/needs/<token>/offers/<offer>")
async def answer_offer(username: str, token: str, offer: str) -> WerkzeugResponse:
    """An admin accepts or declines an offer to help (the helper is told)."""
    owner, need = await _need(username, token)
    # Not an <int:> converter: a route that answers 405 to other methods whatever is in the path.
    if not (offer.isascii() and offer.isdigit() and len(offer) <= 18):
        raise Problem(404, "no such offer on this need", extra={"reason": "offer_missing"})
    offer_id = int(offer)
    me = await require_actor()
    decision = (await request.form).get("decision", "")
    if decision not in ("accept", "decline"):
        raise Problem(422, "decision is accept or decline", extra={"reason": "decision"})
    try:
        async with state().db.acquire() as conn:
            await service.answer_offer(
                conn,
                need=need,
                owner=owner,
                by=me,
                offer_id=offer_id,
                accept=decision == "accept",
                env=_env(),
            )
    except NeedError as refused:
        raise _refused(refused) from refused
    return redirect(url_for("needs.need_page", username=username, token=token), 303)


# --- offering to help --------------------------------------------------------------------------


async def _offer(need: Need, back: str) -> WerkzeugResponse:
    me = await require_actor()
    form = await request.form
    try:
        async with state().db.acquire() as conn:
            if form.get("withdraw"):
                await service.withdraw_offer(conn, need=need, helper=me, env=_env())
                notice = "withdrawn"
            else:
                await service.offer_help(
                    conn, need=need, helper=me, message=form.get("message", ""), env=_env()
                )
                notice = "offered"
    except NeedError as refused:
        raise _refused(refused) from refused
    return redirect(back + ("&" if "?" in back else "?") + f"notice={notice}", 303)


@blueprint.post("/actors/<username>/needs/<token>/offer")
async def offer(username: str, token: str) -> WerkzeugResponse:
    """A local person offers to help with a need here, or withdraws their offer."""
    _owner_actor, need = await _need(username, token)
    return await _offer(need, url_for("needs.need_page", username=username, token=token))


@blueprint.post("/needs/remote/offer")
async def offer_remote() -> WerkzeugResponse:
    """A local person offers to help with a need of another server (an Offer to its owner), or
    withdraws their offer (Undo)."""
    uri = safe_url((await request.form).get("uri", ""))
    if uri is None:
        raise Problem(400, "uri is the http(s) address of a need")
    async with state().db.acquire() as conn:
        need = await queries.select_need(conn, uri)
    if need is None or need.is_local or need.deleted_at is not None:
        raise Problem(404, "no such need kept here")
    return await _offer(need, url_for("needs.remote_need", uri=uri))
