"""Organisation pages: create one, its members and requests, invitations, roles, posting on its
behalf and on its wall; the members and moderators collections; the admins' identifier form."""

from __future__ import annotations

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.activitypub import collections
from fedicity.actors import queries as actor_queries
from fedicity.actors.lookup import find_actor
from fedicity.actors.models import ORGANIZATION_KINDS, Actor, RemoteActor
from fedicity.actors.service import ActorError
from fedicity.organizations import identifiers, invitations, memberships, posting, queries, service
from fedicity.organizations.document import members_collection, moderators_collection
from fedicity.organizations.models import MEMBERSHIP_MODES, ROLES
from fedicity.organizations.service import Env, MembershipError
from fedicity.posts.service import PostError
from fedicity.web.activitypub import activity_response
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import checked
from fedicity.web.messages import query_error
from fedicity.web.session import check_csrf, current_account, require_account, require_admin
from fedicity.web.signed_fetch import serves_activitystreams
from fedicity.web.social import _resolve_mentions

blueprint = Blueprint("organizations", __name__)
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


@blueprint.get("/organizations/new")
async def new_organization() -> str:
    """The form to create an organisation."""
    require_account()
    return await render_template(
        "organization_new.html",
        kinds=ORGANIZATION_KINDS,
        modes=MEMBERSHIP_MODES,
        error=query_error(),
    )


@blueprint.post("/organizations")
async def create_organization() -> WerkzeugResponse:
    """Create an organisation; its creator becomes its admin."""
    me = await _me()
    form = await request.form
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
                keygen=state().keygen,
                env=_env(),
            )
    except (ActorError, MembershipError) as refused:
        return redirect(url_for("organizations.new_organization", error=refused.code), 303)
    return _page(organization.username)


@blueprint.get("/organizations/<username>")
async def organization_page(username: str) -> str:
    """An organisation: members (unless hidden), and what the visitor may do."""
    organization = await _organization(username)
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
        members = (
            await queries.select_memberships(conn, organization.id)
            if is_admin or not settings.hide_members
            else []
        )
        total = await queries.count_members(conn, organization.id)
        pending = (
            await queries.select_memberships(conn, organization.id, state="pending")
            if is_admin
            else []
        )
    return await render_template(
        "organization.html",
        organization=organization,
        settings=settings,
        mine=mine,
        is_admin=is_admin,
        members=members,
        total=total,
        pending=pending,
        roles=ROLES,
        modes=MEMBERSHIP_MODES,
        instance_admin=account is not None and account.is_admin,
        error=query_error(),
        notice=request.args.get("notice"),
    )


async def _resolve(handle: str) -> str | None:
    app_state = state()
    found = await find_actor(
        app_state.db, app_state.fed.directory, handle, local_host=app_state.settings.host
    )
    if isinstance(found, RemoteActor):
        return found.uri
    return found if isinstance(found, str) else None


@blueprint.post("/organizations/<username>/<action>")
async def organization_action(username: str, action: str) -> WerkzeugResponse:
    """Join, leave, answer, invite, role, remove, settings, post, wall, verify."""
    organization = await _organization(username)
    me = await _me()
    form = await request.form
    env = _env()
    me_uri = env.urls.actor(me.username)
    target = form.get("member", "")
    try:
        if action == "invite":
            resolved = await _resolve(form.get("handle", ""))
            if resolved is None:
                return _page(username, error="lookup_failed")
            target = resolved
        elif action in ("post", "wall"):
            resolved_mentions = await _resolve_mentions(form.get("text", ""))
        async with state().db.acquire() as conn:
            if action == "join":
                await memberships.join(conn, organization=organization, member_uri=me_uri, env=env)
            elif action == "leave":
                await memberships.leave(conn, organization=organization, member_uri=me_uri, env=env)
            elif action in ("approve", "reject"):
                await memberships.answer_request(
                    conn,
                    organization=organization,
                    by=me,
                    member_uri=target,
                    accept=action == "approve",
                    env=env,
                )
            elif action in ("accept_invitation", "decline_invitation"):
                await invitations.answer_invitation(
                    conn,
                    organization=organization,
                    member_uri=me_uri,
                    accept=action == "accept_invitation",
                    env=env,
                )
            elif action == "invite":
                await invitations.invite(
                    conn, organization=organization, by=me, member_uri=target, env=env
                )
            elif action == "role":
                await memberships.change_role(
                    conn,
                    organization=organization,
                    by=me,
                    member_uri=target,
                    role=form.get("role", ""),
                    roles=form.get("roles", "").split(","),
                    env=env,
                )
            elif action == "remove":
                await memberships.remove(
                    conn, organization=organization, by=me, member_uri=target, env=env
                )
            elif action == "settings":
                await service.update_settings(
                    conn,
                    organization=organization,
                    by=me,
                    membership_mode=form.get("membership_mode", ""),
                    hide_members=checked(form, "hide_members"),
                    env=env,
                )
            elif action == "post":
                await posting.post_as_organization(
                    conn,
                    organization=organization,
                    by=me,
                    text=form.get("text", ""),
                    env=env,
                    local_host=state().settings.host,
                    resolved=resolved_mentions,
                )
            elif action == "wall":
                await posting.post_on_wall(
                    conn,
                    organization=organization,
                    author=me,
                    text=form.get("text", ""),
                    env=env,
                    local_host=state().settings.host,
                    resolved=resolved_mentions,
                )
            elif action == "verify":
                account = require_admin()
                if form.get("value", "").strip():
                    await identifiers.verify_identifier(
                        conn,
                        organization=organization,
                        kind=form.get("kind", ""),
                        value=form.get("value", ""),
                        admin_account_id=account.id,
                        clock=env.clock,
                    )
                else:
                    await identifiers.clear_identifier(conn, organization=organization)
                state().actor_documents.pop(organization.username, None)
            else:
                raise Problem(404, f"unknown action {action!r}")
    except (MembershipError, PostError) as refused:
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
