"""Project pages: the list of local projects (by maturity and territory), the creation form,
a project's page (its maturity, dates, owner, parents, sub-projects, contributors, wall, agenda,
rooms) and its admins' edit form. Joining, leaving, inviting and the wall are the organisations'
own forms (web/organizations.py): a project is an organisation-shaped actor."""

from __future__ import annotations

from datetime import date
from typing import Any

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.service import ActorError
from fedicity.events import queries as event_queries
from fedicity.organizations import queries as organization_queries
from fedicity.organizations.models import MEMBERSHIP_MODES
from fedicity.organizations.service import MembershipError
from fedicity.posts import queries as post_queries
from fedicity.projects import queries, service
from fedicity.projects.models import MATURITIES, Project, ProjectFields
from fedicity.projects.service import ProjectError
from fedicity.proposals import queries as proposal_queries
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import POINT_ERRORS, degrees_text, point
from fedicity.web.map import default_center
from fedicity.web.messages import message, query_error
from fedicity.web.organizations import _env, _me, organization_view
from fedicity.web.paging import PAGE_SIZE, cursor_arg
from fedicity.web.people import known_actors
from fedicity.web.ratelimits import posting_wait, too_fast
from fedicity.web.session import check_csrf, current_account, require_account
from fedicity.web.territories import resolve_place, served_root, territory_path

blueprint = Blueprint("projects", __name__)
blueprint.before_request(check_csrf)

# A project's page shows this many sub-projects, upcoming events and rooms.
SHOWN = 50


def _page(username: str, notice: str | None = None) -> WerkzeugResponse:
    return redirect(url_for("projects.project_page", username=username, notice=notice), 303)


async def _project(username: str) -> tuple[Actor, Project]:
    async with state().db.acquire() as conn:
        found = await actor_queries.select_actor_by_username(conn, username)
        project = (
            await queries.select_project(conn, found.id)
            if found is not None and found.organization_kind == "project"
            else None
        )
    if found is None or project is None or found.deleted_at is not None:
        raise Problem(404, f"no project named {username!r} here")
    return found, project


@blueprint.route("/projects", methods=["GET", "POST"])
async def projects_index() -> str | Response | WerkzeugResponse | tuple[str, int]:
    """The projects here, newest first, by maturity and territory (GET); or create one (POST,
    the form of /projects/new)."""
    if request.method == "POST":
        return await create_project()
    maturity = request.args.get("maturity") or None
    if maturity is not None and maturity not in MATURITIES:
        raise Problem(400, "maturity: not a maturity", extra={"reason": "bad_maturity"})
    place_text = request.args.get("territory", "")[:200]
    territory = await resolve_place(place_text) if place_text.strip() else None
    if place_text.strip() and territory is None:
        raise Problem(400, "territory: not served here", extra={"reason": "territory_unknown"})
    before = cursor_arg("before")
    async with state().db.acquire() as conn:
        rows = await queries.select_listed(
            conn,
            limit=PAGE_SIZE + 1,
            maturity=maturity,
            scope_id=territory.id if territory else None,
            before=before,
        )
    page = rows[:PAGE_SIZE]
    return await render_template(
        "projects.html",
        projects=page,
        maturities=MATURITIES,
        chosen_maturity=maturity or "",
        territory_text=place_text,
        next_cursor=page[-1].actor.id if len(rows) > PAGE_SIZE else None,
    )


@blueprint.get("/projects/new")
async def new_project() -> str:
    """The form to create a project."""
    require_account()
    return await _form(None)


# Which field of the form a refusal is about; the others are said above the form.
_FIELD_OF = {
    "username_invalid": "username",
    "username_reserved": "username",
    "username_taken": "username",
    "display_name_too_long": "display_name",
    "summary_too_long": "summary",
    "mode_invalid": "membership_mode",
    "maturity_invalid": "maturity",
    "project_date_invalid": "starts_on",
    "project_date_out_of_range": "starts_on",
    "project_ends_before_start": "ends_on",
    "license_too_long": "license",
    "license_url_invalid": "license",
    "parent_organization_unknown": "parent_organization",
    "parent_organization_not_admin": "parent_organization",
    "parent_project_unknown": "parent_project",
    "parent_cycle": "parent_project",
    "territory_unknown": "territory",
    "not_served": "territory",
}


async def _form(editing: Actor | None, typed: Any = None, refused: str | None = None) -> str:
    """The creation (or edit) form; after a refusal, with what was typed and the reason by its
    field (the place picker says its own)."""
    by_place = refused in POINT_ERRORS
    field = _FIELD_OF.get(refused or "")
    me = await _me()
    async with state().db.acquire() as conn:
        organizations = await queries.select_administered_organizations(
            conn, state().urls.actor(me.username), limit=200
        )
    return await render_template(
        "project_form.html",
        editing=editing,
        maturities=MATURITIES,
        modes=MEMBERSHIP_MODES,
        organizations=organizations,
        error=message(refused) if refused and field is None and not by_place else query_error(),
        errors={field: message(refused)} if refused and field else {},
        place_error=message(refused) if refused and by_place else None,
        typed=typed if typed is not None else MultiDict(),
        picker_center=await default_center(),
    )


def _day(form: Any, name: str) -> date | None:
    """A form's date field (YYYY-MM-DD); None when empty; ProjectError when not a date."""
    raw = form.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError as bad:
        raise ProjectError("project_date_invalid", "a date is written YYYY-MM-DD") from bad


async def _fields(form: Any) -> ProjectFields:
    """What the form says, read (not yet checked: the service does)."""
    place_text = form.get("territory", "")[:200]
    territory = await resolve_place(place_text) if place_text.strip() else None
    if place_text.strip() and territory is None:
        raise ProjectError("territory_unknown", "this territory is not served here")
    return ProjectFields(
        maturity=form.get("maturity", "idea"),
        starts_on=_day(form, "starts_on"),
        ends_on=_day(form, "ends_on"),
        license=form.get("license", ""),
        parent_organization=form.get("parent_organization", "")[:100],
        parent_project=form.get("parent_project", "")[:100],
        territory_id=territory.id if territory else None,
    )


async def create_project() -> Response | WerkzeugResponse | tuple[str, int]:
    """Create a project; its creator becomes its admin. A refusal shows the form again, with
    what was typed (422)."""
    me = await _me()
    form = await request.form
    wait = await posting_wait()
    if wait is not None:
        return too_fast(await _form(None, form, "posting_too_fast"), wait)
    picked = point(form)
    if isinstance(picked, str):
        return await _form(None, form, picked), 422
    try:
        fields = await _fields(form)
        async with state().db.acquire() as conn:
            project = await service.create(
                conn,
                creator=me,
                username=form.get("username", ""),
                display_name=form.get("display_name", ""),
                summary=form.get("summary", ""),
                membership_mode=form.get("membership_mode", "open"),
                fields=fields,
                latitude=picked[0],
                longitude=picked[1],
                keygen=state().keygen,
                env=_env(),
                root=await served_root(),
            )
    except (ActorError, MembershipError, ProjectError) as refused:
        return await _form(None, form, refused.code), 422
    return _page(project.username)


async def _typed(actor: Actor, project: Project) -> MultiDict[str, str]:
    """The edit form's values: what the project has now."""
    async with state().db.acquire() as conn:
        related = await service.relations(conn, project)
        parent_organization, parent_project = related.parent_organization, related.parent_project
        territory = related.territory
        settings = await organization_queries.select_settings(conn, actor.id)
    values = {
        "username": actor.username,
        "display_name": actor.display_name,
        "summary": actor.summary,
        "maturity": project.maturity,
        "starts_on": project.starts_on.isoformat() if project.starts_on else "",
        "ends_on": project.ends_on.isoformat() if project.ends_on else "",
        "license": project.license,
        "parent_organization": parent_organization.username if parent_organization else "",
        "parent_project": parent_project.username if parent_project else "",
        "territory": f"{territory.level}:{territory.code}" if territory else "",
    }
    if settings.latitude is not None and settings.longitude is not None:
        values["latitude"] = degrees_text(settings.latitude)
        values["longitude"] = degrees_text(settings.longitude)
    return MultiDict(values)


@blueprint.route("/projects/<username>/edit", methods=["GET", "POST"])
async def edit_project(username: str) -> str | WerkzeugResponse | tuple[str, int]:
    """The admins' form to change a project (GET), and its changes (POST)."""
    actor, project = await _project(username)
    me = await _me()
    if request.method == "GET":
        async with state().db.acquire() as conn:
            mine = await organization_queries.select_membership(
                conn, actor.id, state().urls.actor(me.username)
            )
        if mine is None or not mine.is_admin:
            raise Problem(403, "only the project's admins can edit it")
        return await _form(actor, await _typed(actor, project))
    form = await request.form
    picked = point(form)
    if isinstance(picked, str):
        return await _form(actor, form, picked), 422
    try:
        fields = await _fields(form)
        async with state().db.acquire() as conn:
            await service.update(
                conn,
                actor=actor,
                by=me,
                fields=fields,
                display_name=form.get("display_name", ""),
                summary=form.get("summary", ""),
                latitude=picked[0],
                longitude=picked[1],
                keygen=state().keygen,
                env=_env(),
                root=await served_root(),
            )
    except MembershipError as refused:
        raise Problem(403, "only the project's admins can edit it") from refused
    except (ActorError, ProjectError) as refused:
        return await _form(actor, form, refused.code), 422
    state().actor_documents.pop(actor.username, None)
    return _page(actor.username, notice="saved")


@blueprint.get("/projects/<username>")
async def project_page(username: str) -> str:
    """A project: its maturity, dates, owner and parents, sub-projects, contributors and what
    the visitor may do, its wall, upcoming events, rooms and needs."""
    actor, project = await _project(username)
    urls = state().urls
    now = state().clock.now()
    async with state().db.acquire() as conn:
        related = await service.relations(conn, project)
        parent_organization, parent_project = related.parent_organization, related.parent_project
        territory = related.territory
        children = await queries.select_children(conn, actor.id, limit=SHOWN)
        events = [
            event
            for event in await event_queries.select_by_organizer(
                conn, urls.actor(actor.username), limit=SHOWN
            )
            if (event.ends_at or event.starts_at) >= now
        ]
        rooms = await proposal_queries.select_organization_rooms(conn, actor.id, limit=SHOWN)
        wall = [
            post
            for post in [
                await post_queries.select_post(conn, uri)
                for uri in await queries.select_wall_uris(conn, actor.id, limit=SHOWN)
            ]
            if post is not None
        ]
        shown = await known_actors(
            conn, urls, [project.owner_uri, *(post.author_uri for post in wall)]
        )
    return await organization_view(
        username,
        template="project.html",
        extra={
            "project": project,
            "maturities": MATURITIES,
            "shown": shown,
            "parent_organization": parent_organization,
            "parent_project": parent_project,
            "project_territory": territory,
            "territory_url": territory_path(territory) if territory else None,
            "children": children,
            "upcoming": events,
            "rooms": rooms,
            "wall": wall,
            "is_project": True,
            "visitor": current_account(),
        },
    )
