"""Public HTML pages: the instance's home and people's profiles."""

from __future__ import annotations

from quart import Blueprint, Response, redirect, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.actors import queries as actor_queries
from fedicity.actors.document import avatar_url
from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.follows import queries as follow_queries
from fedicity.organizations import queries as organization_queries
from fedicity.organizations.models import OrganizationSettings
from fedicity.posts import queries as post_queries
from fedicity.posts.models import Post
from fedicity.territories import queries as territory_queries
from fedicity.textfmt import render_markdown
from fedicity.web import alternates, schemaorg
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.messages import message
from fedicity.web.negotiation import wants_activitypub
from fedicity.web.paging import cursor_arg
from fedicity.web.people import known_actors
from fedicity.web.session import check_csrf, current_account
from fedicity.web.territories import served_root, territory_path

blueprint = Blueprint("pages", __name__)
blueprint.before_request(check_csrf)

HOME_PAGE_SIZE = 24
PROFILE_POSTS = 20
THREAD_REPLIES = 100


def _viewer_uri() -> str:
    """The logged-in viewer's actor id, or "" (whose likes and shares are then not pressed)."""
    account = current_account()
    return state().urls.actor(account.username) if account is not None else ""


async def render_post_page(post: Post) -> str:
    """A single public post as a page, in its thread: the post it answers and its replies."""
    async with state().db.acquire() as conn:
        parent = (
            await post_queries.select_post(conn, post.in_reply_to) if post.in_reply_to else None
        )
        if parent is not None and parent.visibility not in ("public", "unlisted"):
            parent = None
        account = current_account()
        fetched = await post_queries.select_replies(
            conn,
            post.uri,
            limit=THREAD_REPLIES + 1,
            after_id=cursor_arg("after") or 0,
            viewer_id=account.actor_id if account is not None else None,
        )
        replies = fetched[:THREAD_REPLIES]
        shown = [p for p in (parent, post, *replies) if p is not None]
        people = await known_actors(conn, state().urls, (p.author_uri for p in shown))
        states = await post_queries.select_interaction_states(
            conn, _viewer_uri(), [p.uri for p in shown]
        )
    return await render_template(
        "post.html",
        post=post,
        parent=parent,
        replies=replies,
        more_replies=replies[-1].id if len(fetched) > THREAD_REPLIES else None,
        people=people,
        states=states,
    )


async def render_profile(actor: Actor) -> str:
    """The HTML profile page of a local actor, with its public posts and counts."""
    app_state = state()
    me = app_state.urls.actor(actor.username)
    viewer = _viewer_uri()
    account = current_account()
    async with app_state.db.acquire() as conn:
        # One who blocks this account is told so, with the way back, instead of its posts.
        blocked = (
            account is not None
            and account.actor_id != actor.id
            and (await follow_queries.select_controls(conn, account.actor_id, me)).blocked
        )
        fetched = (
            []
            if blocked
            else await post_queries.select_author_posts(
                conn, me, limit=PROFILE_POSTS + 1, before_id=cursor_arg("before")
            )
        )
        recent = fetched[:PROFILE_POSTS]
        followers = await follow_queries.count_followers(conn, me)
        following = await follow_queries.count_following(conn, me)
        my_follow = await follow_queries.select_follow(conn, viewer, me) if viewer else None
        states = await post_queries.select_interaction_states(conn, viewer, [p.uri for p in recent])
        people = await known_actors(conn, app_state.urls, [me])
        structured_data = (
            await structured_organization(conn, actor)
            if actor.kind == "organization"
            else schemaorg.person(actor, app_state.urls)
        )
    return await render_template(
        "profile.html",
        actor=actor,
        posts=recent,
        blocked=blocked,
        older=recent[-1].id if len(fetched) > PROFILE_POSTS else None,
        people=people,
        states=states,
        following_state=my_follow.state if my_follow is not None else None,
        followers=followers,
        following=following,
        summary_html=render_markdown(actor.summary),
        handle=f"@{actor.username}@{app_state.settings.host}",
        actor_url=app_state.urls.actor(actor.username),
        avatar_url=avatar_url(actor, app_state.urls),
        banner_url=app_state.urls.media(actor.banner_name) if actor.banner_name else None,
        alternates=alternates.actor(app_state.urls, actor.username, actor.name)
        if actor.kind in ("person", "organization")
        else [],
        structured_data=structured_data,
    )


async def structured_organization(
    conn: Connection, organization: Actor, settings: OrganizationSettings | None = None
) -> schemaorg.JsonLd | None:
    """The organisation's schema.org JSON-LD (web/schemaorg.py), its settings and home
    territory read here unless given."""
    if organization.kind != "organization" or not organization.discoverable:
        return None
    if settings is None:
        settings = await organization_queries.select_settings(conn, organization.id)
    home = (
        await territory_queries.select_territory_by_id(conn, organization.home_territory_id)
        if organization.home_territory_id is not None
        else None
    )
    return schemaorg.organization(organization, settings, home, state().urls)


@blueprint.get("/")
async def home() -> str:
    """The instance's front page: who is here and how to join."""
    async with state().db.acquire() as conn:
        people = await actor_queries.select_actors_page(conn, limit=HOME_PAGE_SIZE, kind="person")
        organizations = await actor_queries.select_actors_page(
            conn, limit=HOME_PAGE_SIZE, kind="organization"
        )
    root = await served_root()
    return await render_template(
        "home.html",
        people=people,
        organizations=organizations,
        territory_name=state().settings.territory_name or (root.name if root else ""),
        territory_url=territory_path(root) if root else None,
    )


@blueprint.get("/@<username>")
async def profile(username: str) -> Response | WerkzeugResponse:
    """A profile page; ActivityPub clients are sent to the actor's id."""
    async with state().db.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, username)
        closed = actor is None and await actor_queries.select_deleted_actor(conn, username)
    if closed:
        raise Problem(410, message("account_closed"))
    if actor is None or actor.kind == "application":
        raise Problem(404, f"no actor named {username!r} here")
    if wants_activitypub(request):
        return redirect(state().urls.actor(actor.username), 302)
    response = Response(await render_profile(actor), content_type="text/html; charset=utf-8")
    response.headers["Vary"] = "Accept"
    return response
