"""Organisation pages: create one, its members and requests, invitations, roles, posting on its
behalf and on its wall; the members and moderators collections; the admins' identifier form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub import collections
from fedicity.actors import queries as actor_queries
from fedicity.actors.lookup import find_actor
from fedicity.actors.models import ORGANIZATION_KINDS, Actor, RemoteActor
from fedicity.actors.service import ActorError
from fedicity.db.pool import Connection
from fedicity.imports import feeds
from fedicity.imports import queries as import_queries
from fedicity.organizations import identifiers, invitations, memberships, posting, queries, service
from fedicity.organizations.document import members_collection, moderators_collection
from fedicity.organizations.models import MEMBERSHIP_MODES, ROLES, OrganizationSettings
from fedicity.organizations.service import Env, MembershipError
from fedicity.posts.compose import Mention
from fedicity.posts.service import PostError
from fedicity.projects import queries as project_queries
from fedicity.web import alternates
from fedicity.web.activitypub import activity_response
from fedicity.web.admin import acting
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import POINT_ERRORS, checked, degrees_text, point
from fedicity.web.map import default_center
from fedicity.web.messages import message, query_error
from fedicity.web.moderation import refuse_suspended
from fedicity.web.needs import needs_panel
from fedicity.web.pages import structured_organization
from fedicity.web.paging import PAGE_SIZE, pair_cursor, pair_cursor_arg
from fedicity.web.people import known_actors
from fedicity.web.ratelimits import posting_wait, too_fast
from fedicity.web.session import check_csrf, current_account, require_account, require_admin
from fedicity.web.signed_fetch import serves_activitystreams
from fedicity.web.social import resolve_mentions

blueprint = Blueprint("organizations", __name__)

# An organisation's page lists its members this many at a time.
MEMBERS_PAGE = 100
blueprint.before_request(check_csrf)


def _env() -> Env:
    return Env(urls=state().urls, clock=state().clock)


async def _me() -> Actor:
    account = require_account()
    async with state().db.acquire() as conn:
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


async def _organization(username: str) -> Actor:
    async with state().db.acquire() as conn:
        found = await actor_queries.select_actor_by_username(conn, username)
    if found is None or found.kind != "organization":
        raise Problem(404, f"no organisation named {username!r} here")
    return found


def _page(
    username: str, *, error: str | None = None, notice: str | None = None
) -> WerkzeugResponse:
    return redirect(
        url_for("organizations.organization_page", username=username, error=error, notice=notice),
        303,
    )


@blueprint.route("/organizations", methods=["GET", "POST"])
async def organizations_index() -> str | Response | WerkzeugResponse | tuple[str, int]:
    """The organisations here, verified ones first, by kind (GET); or create one (POST, the form
    of /organizations/new)."""
    if request.method == "POST":
        return await create_organization()
    kind = request.args.get("kind") or None
    if kind is not None and kind not in ORGANIZATION_KINDS:
        raise Problem(400, "kind: not an organisation kind", extra={"reason": "bad_kind"})
    after = pair_cursor_arg()
    async with state().db.acquire() as conn:
        rows = await queries.select_organizations_index(
            conn, limit=PAGE_SIZE + 1, kind=kind, after=after
        )
    page = rows[:PAGE_SIZE]
    last = page[-1] if page else None
    return await render_template(
        "organizations.html",
        organizations=page,
        kinds=ORGANIZATION_KINDS,
        chosen_kind=kind or "",
        next_cursor=pair_cursor(last[0], last[1].id) if last and len(rows) > PAGE_SIZE else None,
        alternates=alternates.organizations_list(state().urls, state().settings),
    )


@blueprint.get("/organizations/new")
async def new_organization() -> str:
    """The form to create an organisation."""
    require_account()
    return await _new_form()


# Which field of the creation form a refusal is about; the others are said above the form.
_FIELD_OF = {
    "username_invalid": "username",
    "username_reserved": "username",
    "username_taken": "username",
    "display_name_too_long": "display_name",
    "summary_too_long": "summary",
    "organization_kind_invalid": "kind",
    "mode_invalid": "membership_mode",
}


async def _new_form(typed: MultiDict[str, str] | None = None, refused: str | None = None) -> str:
    """The creation form; after a refusal, with what was typed and the reason by its field (the
    place picker says its own)."""
    by_place = refused in POINT_ERRORS
    field = _FIELD_OF.get(refused or "")
    return await render_template(
        "organization_new.html",
        kinds=ORGANIZATION_KINDS,
        modes=MEMBERSHIP_MODES,
        error=message(refused) if refused and field is None and not by_place else query_error(),
        errors={field: message(refused)} if refused and field else {},
        place_error=message(refused) if refused and by_place else None,
        typed=typed or MultiDict(),
        picker_center=await default_center(),
    )


async def create_organization() -> Response | WerkzeugResponse | tuple[str, int]:
    """Create an organisation; its creator becomes its admin. A refusal shows the form again,
    with what was typed."""
    me = await _me()
    form = await request.form
    wait = await posting_wait()
    if wait is not None:
        return too_fast(await _new_form(form, "posting_too_fast"), wait)
    picked = point(form)
    if isinstance(picked, str):
        return await _new_form(form, picked), 422
    try:
        async with state().db.acquire() as conn:
            organization = await service.create(
                conn,
                creator=me,
                username=form.get("username", ""),
                organization_kind=form.get("kind", ""),
                display_name=form.get("display_name", ""),
                summary=form.get("summary", ""),
                membership_mode=form.get("membership_mode", "approval"),
                latitude=picked[0],
                longitude=picked[1],
                keygen=state().keygen,
                env=_env(),
            )
    except (ActorError, MembershipError) as refused:
        return await _new_form(form, refused.code), 422
    return _page(organization.username)


@blueprint.get("/organizations/<username>")
async def organization_page(username: str) -> str | WerkzeugResponse:
    """An organisation: members (unless hidden), and what the visitor may do. A project's
    page is its own (what a form's answer carries goes along)."""
    organization = await _organization(username)
    if organization.organization_kind == "project":
        query = request.query_string.decode("ascii", "replace")
        target = state().urls.project_page(organization.username)
        return redirect(f"{target}?{query}" if query else target, 303)
    return await organization_view(username)


async def organization_view(
    username: str,
    *,
    place_values: Any = None,
    place_error: str | None = None,
    template: str = "organization.html",
    extra: dict[str, Any] | None = None,
) -> str:
    """The organisation's page; `place_values` and `place_error` show its place form again
    with what was typed and why it was refused. 410 once suspended, as its actor and events.
    A project's page (web/projects.py) is this one in `template`, with its `extra` values."""
    organization = await _organization(username)
    await refuse_suspended(organization.id)
    account = current_account()
    urls = state().urls
    async with state().db.acquire() as conn:
        me = (
            await actor_queries.select_actor_by_id(conn, account.actor_id)
            if account is not None
            else None
        )
        mine = (
            await queries.select_membership(conn, organization.id, urls.actor(me.username))
            if me is not None
            else None
        )
        settings = await queries.select_settings(conn, organization.id)
        is_admin = mine is not None and mine.is_admin
        fetched = (
            await queries.select_memberships(
                conn, organization.id, limit=MEMBERS_PAGE + 1, after=pair_cursor_arg()
            )
            if is_admin or not settings.hide_members
            else []
        )
        members = fetched[:MEMBERS_PAGE]
        more_members = (
            pair_cursor(*queries.member_cursor(members[-1]))
            if len(fetched) > MEMBERS_PAGE
            else None
        )
        total = await queries.count_members(conn, organization.id)
        pending = (
            await queries.select_memberships(conn, organization.id, state="pending")
            if is_admin
            else []
        )
        people = await known_actors(conn, urls, (m.member_uri for m in (*members, *pending)))
        structured_data = await structured_organization(conn, organization, settings)
        # The calendars its admins follow: their events are the organisation's.
        followed = (
            [
                s
                for s, _, _ in await import_queries.select_feeds(
                    conn, owner_actor_id=organization.id
                )
            ]
            if is_admin
            else []
        )
        # Where an import found it, and how to reach it (issue 13).
        provenance = await import_queries.provenance_of(conn, "organization", organization.id)
        contacts = await import_queries.select_organization_contacts(conn, organization.id)
        # The projects it carries (a project shows its sub-projects instead).
        carried = await project_queries.select_of_organization(conn, organization.id, limit=50)
        wanted = await needs_panel(conn, organization, me, urls)
    return await render_template(
        template,
        **(extra or {}),
        carried_projects=carried,
        needs_panel=wanted,
        followed=followed,
        feed_formats=feeds.FORMAT_CHOICES,
        provenance=provenance[:5],
        contacts=contacts,
        organization=organization,
        # Not `settings`: that name is the instance's (its name heads every page).
        org_settings=settings,
        mine=mine,
        is_admin=is_admin,
        members=members,
        more_members=more_members,
        total=total,
        pending=pending,
        people=people,
        roles=ROLES,
        modes=MEMBERSHIP_MODES,
        instance_admin=account is not None and account.is_admin,
        error=query_error(),
        notice=request.args.get("notice"),
        place_values=place_values if place_values is not None else _place_values(settings),
        place_error=message(place_error) if place_error else None,
        picker_center=await default_center() if is_admin else "",
        alternates=alternates.actor(urls, organization.username, organization.name),
        structured_data=structured_data,
    )


def _place_values(settings: OrganizationSettings) -> dict[str, str]:
    if settings.latitude is None or settings.longitude is None:
        return {}
    return {
        "latitude": degrees_text(settings.latitude),
        "longitude": degrees_text(settings.longitude),
    }


async def _resolve(handle: str) -> str | None:
    app_state = state()
    found = await find_actor(
        app_state.db, app_state.fed.directory, handle, local_host=app_state.settings.host
    )
    if isinstance(found, RemoteActor):
        return found.uri
    return found if isinstance(found, str) else None


@dataclass(frozen=True)
class _Posted:
    """One organisation form, as its action sees it."""

    organization: Actor
    me: Actor
    form: Any
    env: Env
    # The person the form is about: its `member` field, or whom an invitation's handle names.
    target: str
    mentions: dict[tuple[str, str], Mention] = field(default_factory=dict)
    # The `place` form's latitude and longitude, read and checked.
    point: tuple[float | None, float | None] = (None, None)

    @property
    def me_uri(self) -> str:
        """The visitor's actor id."""
        return self.env.urls.actor(self.me.username)


async def _join(conn: Connection, posted: _Posted) -> None:
    await memberships.join(
        conn, organization=posted.organization, member_uri=posted.me_uri, env=posted.env
    )


async def _leave(conn: Connection, posted: _Posted) -> None:
    await memberships.leave(
        conn, organization=posted.organization, member_uri=posted.me_uri, env=posted.env
    )


async def _answer_request(conn: Connection, posted: _Posted, *, accept: bool) -> None:
    await memberships.answer_request(
        conn,
        organization=posted.organization,
        by=posted.me,
        member_uri=posted.target,
        accept=accept,
        env=posted.env,
    )


async def _answer_invitation(conn: Connection, posted: _Posted, *, accept: bool) -> None:
    await invitations.answer_invitation(
        conn,
        organization=posted.organization,
        member_uri=posted.me_uri,
        accept=accept,
        env=posted.env,
    )


async def _invite(conn: Connection, posted: _Posted) -> None:
    await invitations.invite(
        conn,
        organization=posted.organization,
        by=posted.me,
        member_uri=posted.target,
        env=posted.env,
    )


async def _role(conn: Connection, posted: _Posted) -> None:
    await memberships.change_role(
        conn,
        organization=posted.organization,
        by=posted.me,
        member_uri=posted.target,
        role=posted.form.get("role", ""),
        roles=posted.form.get("roles", "").split(","),
        env=posted.env,
    )


async def _remove(conn: Connection, posted: _Posted) -> None:
    await memberships.remove(
        conn,
        organization=posted.organization,
        by=posted.me,
        member_uri=posted.target,
        env=posted.env,
    )


async def _settings(conn: Connection, posted: _Posted) -> None:
    await service.update_settings(
        conn,
        organization=posted.organization,
        by=posted.me,
        membership_mode=posted.form.get("membership_mode", ""),
        hide_members=checked(posted.form, "hide_members"),
        env=posted.env,
    )


async def _place(conn: Connection, posted: _Posted) -> None:
    await service.set_place(
        conn,
        organization=posted.organization,
        by=posted.me,
        latitude=posted.point[0],
        longitude=posted.point[1],
        env=posted.env,
    )


async def _post(conn: Connection, posted: _Posted) -> None:
    await posting.post_as_organization(
        conn,
        organization=posted.organization,
        by=posted.me,
        text=posted.form.get("text", ""),
        env=posted.env,
        local_host=state().settings.host,
        resolved=posted.mentions,
    )


async def _wall(conn: Connection, posted: _Posted) -> None:
    await posting.post_on_wall(
        conn,
        organization=posted.organization,
        author=posted.me,
        text=posted.form.get("text", ""),
        env=posted.env,
        local_host=state().settings.host,
        resolved=posted.mentions,
    )


async def _verify(conn: Connection, posted: _Posted) -> None:
    """An instance admin sets the verified identifier, or clears it with an empty value."""
    account = require_admin()
    if posted.form.get("value", "").strip():
        await identifiers.verify_identifier(
            conn,
            organization=posted.organization,
            kind=posted.form.get("kind", ""),
            value=posted.form.get("value", ""),
            by=acting(account),
            clock=posted.env.clock,
        )
    else:
        await identifiers.clear_identifier(
            conn, organization=posted.organization, by=acting(account), clock=posted.env.clock
        )
    state().actor_documents.pop(posted.organization.username, None)


async def _feed(conn: Connection, posted: _Posted) -> None:
    """An admin of the organisation follows a calendar: the worker fetches it at once."""
    await service.require_admin(conn, posted.organization, posted.me, posted.env.urls)
    account = require_account()
    app_state = state()
    await feeds.add_feed(
        conn,
        feeds.feed_env(app_state.urls, app_state.clock, app_state.keygen, app_state.settings),
        actor=acting(account),
        owner=posted.organization,
        url=posted.form.get("url", "")[:2100],
        format=posted.form.get("format", "auto")[:20],
    )


async def _feed_stop(conn: Connection, posted: _Posted) -> None:
    """An admin of the organisation stops following one of its calendars."""
    await service.require_admin(conn, posted.organization, posted.me, posted.env.urls)
    source_id = posted.form.get("source", "")
    mine = [
        s.id
        for s, _, _ in await import_queries.select_feeds(
            conn, owner_actor_id=posted.organization.id
        )
    ]
    if not source_id.isdigit() or len(source_id) > 18 or int(source_id) not in mine:
        raise feeds.FeedError("feed_unknown", "not a calendar of this organisation")
    app_state = state()
    await feeds.stop_following(
        conn,
        feeds.feed_env(app_state.urls, app_state.clock, app_state.keygen, app_state.settings),
        actor=acting(require_account()),
        source_id=int(source_id),
    )


_ACTIONS: dict[str, Callable[[Connection, _Posted], Awaitable[None]]] = {
    "join": _join,
    "leave": _leave,
    "approve": partial(_answer_request, accept=True),
    "reject": partial(_answer_request, accept=False),
    "accept_invitation": partial(_answer_invitation, accept=True),
    "decline_invitation": partial(_answer_invitation, accept=False),
    "invite": _invite,
    "role": _role,
    "remove": _remove,
    "settings": _settings,
    "place": _place,
    "post": _post,
    "wall": _wall,
    "verify": _verify,
    "feed": _feed,
    "feed_stop": _feed_stop,
}


@blueprint.post("/organizations/<username>/<action>")
async def organization_action(username: str, action: str) -> str | WerkzeugResponse:
    """Join, leave, answer, invite, role, remove, settings, place, post, wall, verify."""
    organization = await _organization(username)
    me = await _me()
    form = await request.form
    run = _ACTIONS.get(action)
    if run is None:
        raise Problem(404, f"unknown action {action!r}")
    posted = _Posted(organization, me, form, _env(), target=form.get("member", ""))
    if action == "place":
        picked = point(form)
        if isinstance(picked, str):
            return await organization_view(username, place_values=form, place_error=picked)
        posted = replace(posted, point=picked)
    try:
        if action == "invite":
            invitee = await _resolve(form.get("handle", ""))
            if invitee is None:
                return _page(username, error="lookup_failed")
            posted = replace(posted, target=invitee)
        elif action in ("post", "wall"):
            posted = replace(posted, mentions=await resolve_mentions(form.get("text", "")))
        async with state().db.acquire() as conn:
            await run(conn, posted)
    except (MembershipError, PostError, feeds.FeedError) as refused:
        return _page(username, error=refused.code)
    return _page(username, notice="saved")


async def _collection(username: str, *, moderators: bool) -> Response:
    organization = await _organization(username)
    urls = state().urls
    collection_id = (
        moderators_collection(urls, organization)
        if moderators
        else members_collection(urls, organization)
    )
    async with state().db.acquire() as conn:
        total, items = await service.members_items(conn, organization, moderators=moderators)
    document = collections.collection(collection_id, total, first=False)
    if items is not None:
        document["orderedItems"] = items
    return activity_response(document)


@blueprint.get("/actors/<username>/members")
@serves_activitystreams("always")
async def members(username: str) -> Response:
    """The members collection: the count always, the members unless hidden."""
    return await _collection(username, moderators=False)


@blueprint.get("/actors/<username>/moderators")
@serves_activitystreams("always")
async def moderators(username: str) -> Response:
    """FEP-1b12: who moderates the organisation (its admins and moderators)."""
    return await _collection(username, moderators=True)
