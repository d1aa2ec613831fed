"""Logged-in pages: the home feed, writing posts, following, likes and boosts, follow requests."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.actors import queries as actor_queries
from fedicity.actors.lookup import find_actor
from fedicity.actors.models import Actor, RemoteActor
from fedicity.actors.remote import LookupFailure
from fedicity.db.pool import Connection
from fedicity.follows import queries as follow_queries
from fedicity.follows import service as follows
from fedicity.follows.service import FollowError
from fedicity.organizations import posting as organizations
from fedicity.organizations import queries as organization_queries
from fedicity.organizations.service import Env, MembershipError
from fedicity.posts import queries as post_queries
from fedicity.posts import service as posts
from fedicity.posts.compose import Mention, find_handles
from fedicity.posts.models import Post
from fedicity.posts.service import PostError
from fedicity.sanitize import html_to_text
from fedicity.search.resolve import FoundActor, NotResolved
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.territories.models import Territory
from fedicity.web import alternates
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import local_path
from fedicity.web.messages import message, query_error
from fedicity.web.paging import cursor_arg, moment_cursor, moment_cursor_arg
from fedicity.web.people import known_actors
from fedicity.web.ratelimits import posting_wait, too_fast
from fedicity.web.search import look_up, render_found
from fedicity.web.session import check_csrf, current_account
from fedicity.web.territories import resolve_place, served_root

blueprint = Blueprint("social", __name__)
blueprint.before_request(check_csrf)
_log = logging.getLogger(__name__)

FEED_SIZE = 40
REQUESTS_PAGE = 50
# The compose form's "post as" choice: myself, as an organisation I administer, or on the wall
# of an organisation I belong to. The services check the role again on posting.
AS_ORGANIZATION, ON_WALL = "org:", "wall:"


async def _posting_choices(conn: Connection, me: Actor) -> tuple[list[Actor], list[Actor]]:
    """(organisations I can post as, organisations whose wall I can post on)."""
    admin_of: list[Actor] = []
    member_of: list[Actor] = []
    for organization_id, role in await organization_queries.select_organizations_of(
        conn, state().urls.actor(me.username)
    ):
        organization = await actor_queries.select_actor_by_id(conn, organization_id)
        if organization is None or organization.kind != "organization":
            continue
        member_of.append(organization)
        if role == "admin":
            admin_of.append(organization)
    return admin_of, member_of


async def _me() -> Actor | WerkzeugResponse:
    account = current_account()
    if account is None:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")), 303)
    async with state().db.acquire() as conn:
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return actor


@blueprint.get("/home")
async def home_feed() -> str | WerkzeugResponse:
    """The logged-in citizen's feed and the form to post."""
    me = await _me()
    if not isinstance(me, Actor):
        return me
    return await _render_feed(me, error=query_error())


# Which field of the compose form a refusal is about; the others are said above the form.
_FIELD_OF = {
    "empty": "text",
    "post_too_long": "text",
    "visibility_invalid": "visibility",
    "territory_unknown": "territory",
    "not_admin": "as",
    "not_member": "as",
}


async def _render_feed(
    me: Actor,
    *,
    error: str | None = None,
    typed: MultiDict[str, str] | None = None,
    refused: str | None = None,
) -> str:
    """The feed page; after a refused post, with what was typed and the reason by its field."""
    urls = state().urls
    reply_to = typed.get("in_reply_to", "") if typed else request.args.get("reply_to", "")
    async with state().db.acquire() as conn:
        replying = await post_queries.select_post(conn, reply_to[:2000]) if reply_to else None
        fetched = await post_queries.select_home_feed(
            conn,
            urls.actor(me.username),
            limit=FEED_SIZE + 1,
            before=moment_cursor_arg(),
            owner_id=me.id,
        )
        entries = fetched[:FEED_SIZE]
        people = await known_actors(
            conn,
            urls,
            [
                *(uri for e in entries for uri in (e.post.author_uri, e.boosted_by)),
                replying.author_uri if replying else None,
            ],
        )
        pending = await follow_queries.select_pending_requests(
            conn, urls.actor(me.username), limit=5
        )
        home = (
            await territory_queries.select_territory_by_id(conn, me.home_territory_id)
            if me.home_territory_id is not None
            else None
        )
        admin_of, member_of = await _posting_choices(conn, me)
        states = await post_queries.select_interaction_states(
            conn, urls.actor(me.username), [e.post.uri for e in entries]
        )
    field = _FIELD_OF.get(refused or "")
    if field == "as" and not (admin_of or member_of):
        field = None  # a forged choice: there is no such field on her form
    return await render_template(
        "feed.html",
        me=me,
        entries=entries,
        older=moment_cursor(entries[-1].sort_at, entries[-1].post.id)
        if len(fetched) > FEED_SIZE
        else None,
        states=states,
        people=people,
        pending=len(pending),
        error=message(refused) if refused and field is None else error,
        errors={field: message(refused)} if refused and field else {},
        typed=typed or MultiDict(),
        notice=request.args.get("notice"),
        reply_to=replying.uri if replying else "",
        replying=replying,
        replying_text=html_to_text(replying.content_html)[:200] if replying else "",
        home_place=home.name if home else "",
        admin_of=admin_of,
        member_of=member_of,
    )


async def _refused(me: Actor, form: MultiDict[str, str], code: str) -> tuple[str, int]:
    """The feed again with what was typed, saying why the post was refused."""
    return await _render_feed(me, typed=form, refused=code), 422


async def resolve_mentions(text: str) -> dict[tuple[str, str], Mention]:
    """The first 20 handles a text mentions, each resolved to its actor (unknown ones left out)."""
    app_state = state()
    host = app_state.settings.host
    resolved: dict[tuple[str, str], Mention] = {}
    for user, handle_host in find_handles(text, host)[:20]:
        found = await find_actor(
            app_state.db, app_state.fed.directory, f"{user}@{handle_host}", local_host=host
        )
        if isinstance(found, RemoteActor):
            resolved[(user, handle_host)] = Mention(
                f"@{found.username or user}@{found.domain}", found.uri, found.url or found.uri
            )
        elif isinstance(found, str):
            resolved[(user, handle_host)] = Mention(
                f"@{user}@{host}", found, app_state.urls.profile(user)
            )
    return resolved


@dataclass(frozen=True)
class _Note:
    """What the compose form asks to publish."""

    text: str
    resolved: dict[tuple[str, str], Mention]
    visibility: str
    summary: str
    in_reply_to: Post | None
    language: str | None
    place: Territory | None
    root: Territory | None


@blueprint.post("/notes")
async def write_note() -> WerkzeugResponse | Response | tuple[str, int]:
    """Publish a post."""
    me = await _me()
    if not isinstance(me, Actor):
        return me
    form = await request.form
    wait = await posting_wait()
    if wait is not None:
        return too_fast(await _render_feed(me, typed=form, refused="posting_too_fast"), wait)
    app_state = state()
    text = form.get("text", "")
    resolved = await resolve_mentions(text)
    place = await resolve_place(form.get("territory", ""))
    if form.get("territory") and place is None:
        return await _refused(me, form, "territory_unknown")
    root = await served_root()
    account = current_account()
    author = form.get("as", "")
    async with app_state.db.acquire() as conn:
        reply_to = None
        if form.get("in_reply_to"):
            reply_to = await post_queries.select_post(conn, form.get("in_reply_to", ""))
        note = _Note(
            text=text,
            resolved=resolved,
            visibility=form.get("visibility", "public"),
            summary=form.get("summary", ""),
            in_reply_to=reply_to,
            language=account.locale if account else None,
            place=place,
            root=root,
        )
        try:
            if author.startswith((AS_ORGANIZATION, ON_WALL)):
                refused = await _write_for_organization(conn, me, author, note)
                if refused is not None:
                    return await _refused(me, form, refused)
            else:
                await _write_as_myself(conn, me, note)
        except (PostError, MembershipError) as error:
            return await _refused(me, form, error.code)
    return redirect(url_for("social.home_feed"), 303)


async def _write_as_myself(conn: Connection, me: Actor, note: _Note) -> None:
    """My own post, located in the chosen territory (which announces it when it is public)."""
    app_state = state()
    await territory_service.write_note(
        conn,
        actor=me,
        text=note.text,
        visibility=note.visibility,
        place=note.place,
        root=note.root,
        summary=note.summary,
        urls=app_state.urls,
        clock=app_state.clock,
        keygen=app_state.keygen,
        local_host=app_state.settings.host,
        resolved=note.resolved,
        in_reply_to=note.in_reply_to,
        language=note.language,
    )


async def _write_for_organization(
    conn: Connection, me: Actor, author: str, note: _Note
) -> str | None:
    """A post as an organisation I administer ("org:NAME") or on the wall of one I belong to
    ("wall:NAME"); the error code when there is no such organisation (the services check the
    role)."""
    kind, _sep, name = author.partition(":")
    organization = await actor_queries.select_actor_by_username(conn, name[:100])
    if organization is None or organization.kind != "organization":
        return "not_admin" if kind == "org" else "not_member"
    app_state = state()
    env = Env(urls=app_state.urls, clock=app_state.clock)
    if kind == "org":
        await organizations.post_as_organization(
            conn,
            organization=organization,
            by=me,
            text=note.text,
            env=env,
            local_host=app_state.settings.host,
            resolved=note.resolved,
            visibility=note.visibility,
            summary=note.summary,
            in_reply_to=note.in_reply_to,
            language=note.language,
            place=note.place,
            root=note.root,
            keygen=app_state.keygen,
        )
    else:
        # A wall post is public and its audience is the organisation, not a place.
        await organizations.post_on_wall(
            conn,
            organization=organization,
            author=me,
            text=note.text,
            env=env,
            local_host=app_state.settings.host,
            resolved=note.resolved,
            summary=note.summary,
            language=note.language,
        )
    return None


async def _named_post(conn: Connection, uri: str) -> Post:
    """The post a form names by URI, or 404."""
    post = await post_queries.select_post(conn, uri)
    if post is None:
        raise Problem(404, "no such post")
    return post


@blueprint.post("/posts/delete")
async def delete_post() -> WerkzeugResponse:
    """Delete one of my posts."""
    me = await _me()
    if not isinstance(me, Actor):
        return me
    form = await request.form
    app_state = state()
    async with app_state.db.acquire() as conn:
        post = await _named_post(conn, form.get("uri", ""))
        try:
            await posts.delete_note(
                conn, actor=me, post=post, urls=app_state.urls, clock=app_state.clock
            )
        except PostError as error:
            raise Problem(403, message(error.code)) from error
    return redirect(url_for("social.home_feed"), 303)


def _back_to(target: str | None) -> str:
    """The local page a form came from (a path of ours only: never an open redirect), else
    the home feed."""
    return local_path(target) or url_for("social.home_feed")


@blueprint.post("/posts/interact")
async def interact() -> WerkzeugResponse:
    """Like or share a post, or take the like or share back (undo=1)."""
    me = await _me()
    if not isinstance(me, Actor):
        return me
    form = await request.form
    kind = form.get("kind")
    if kind not in {"like", "announce"}:
        raise Problem(400, "kind is like or announce")
    app_state = state()
    async with app_state.db.acquire() as conn:
        post = await _named_post(conn, form.get("uri", ""))
        try:
            if form.get("undo") == "1":
                await posts.undo_interaction(
                    conn, actor=me, post=post, kind=kind, urls=app_state.urls, clock=app_state.clock
                )
            else:
                await posts.interact(
                    conn, actor=me, post=post, kind=kind, urls=app_state.urls, clock=app_state.clock
                )
        except PostError as error:
            return redirect(url_for("social.home_feed", error=error.code), 303)
    return redirect(_back_to(form.get("next")), 303)


@blueprint.post("/follow")
async def follow() -> WerkzeugResponse:
    """Follow an account by handle or URL, on this server or another."""
    me = await _me()
    if not isinstance(me, Actor):
        return me
    form = await request.form
    app_state = state()
    found = await find_actor(
        app_state.db,
        app_state.fed.directory,
        form.get("handle", ""),
        local_host=app_state.settings.host,
    )
    if isinstance(found, LookupFailure):
        return redirect(url_for("social.home_feed", error="follow_failed"), 303)
    target = found.uri if isinstance(found, RemoteActor) else found
    async with app_state.db.acquire() as conn:
        try:
            await follows.follow(
                conn, actor=me, target=target, urls=app_state.urls, clock=app_state.clock
            )
        except FollowError as error:
            code = "follow_blocked" if error.code == "follow_blocked" else "follow_failed"
            return redirect(url_for("social.home_feed", error=code), 303)
    # From an actor's page, back to it, where the button now says how the follow stands.
    if form.get("next"):
        return redirect(_back_to(form.get("next")), 303)
    return redirect(url_for("social.home_feed", notice="follow_sent"), 303)


@blueprint.post("/unfollow")
async def unfollow() -> WerkzeugResponse:
    """Stop following an account (Undo(Follow) goes to it)."""
    me = await _me()
    if not isinstance(me, Actor):
        return me
    form = await request.form
    app_state = state()
    async with app_state.db.acquire() as conn:
        await follows.unfollow(
            conn, actor=me, target=form.get("uri", ""), urls=app_state.urls, clock=app_state.clock
        )
    return redirect(_back_to(form.get("next")), 303)


@blueprint.route("/follow-requests", methods=["GET", "POST"])
async def follow_requests() -> str | WerkzeugResponse:
    """Approve or refuse followers, for accounts that approve them by hand."""
    me = await _me()
    if not isinstance(me, Actor):
        return me
    app_state = state()
    me_uri = app_state.urls.actor(me.username)
    async with app_state.db.acquire() as conn:
        if request.method == "POST":
            form = await request.form
            await follows.answer_request(
                conn,
                actor=me,
                follower=form.get("follower", ""),
                accept=form.get("answer") == "accept",
                urls=app_state.urls,
                clock=app_state.clock,
            )
            return redirect(url_for("social.follow_requests"), 303)
        fetched = await follow_queries.select_pending_requests(
            conn, me_uri, limit=REQUESTS_PAGE + 1, after_id=cursor_arg("after") or 0
        )
        pending = fetched[:REQUESTS_PAGE]
        people = await known_actors(conn, app_state.urls, (f.follower for f in pending))
    return await render_template(
        "follow_requests.html",
        pending=pending,
        people=people,
        more=pending[-1].id if len(fetched) > REQUESTS_PAGE else None,
    )


@blueprint.route("/authorize_interaction", methods=["GET", "POST"])
async def authorize_interaction() -> str | tuple[str, int] | Response | WerkzeugResponse:
    """The OStatus subscribe target: an account found by handle or URL, with a follow button.

    A GET only asks to confirm: following a link must not make this server fetch anything (a
    link on any web page could otherwise make it request any URL). The lookup runs on the
    confirmation's POST, which carries the session's CSRF token.
    """
    me = await _me()
    if not isinstance(me, Actor):
        return me
    source = await request.form if request.method == "POST" else request.args
    query = source.get("uri", "").strip().removeprefix("acct:")[:2048]
    if not query:
        raise Problem(400, "uri is required")
    if request.method == "GET":
        return await render_template("authorize_lookup.html", query=query, error=None)
    if query.lower().startswith(("http://", "https://")):
        # Servers send posts and events here too (to answer or like them from one's own
        # account): an address goes through the search's lookup, which shows what it names.
        looked_up = await look_up(query)
        if isinstance(looked_up, FoundActor) and looked_up.remote is not None:
            return await render_template("authorize.html", remote=looked_up.remote)
        if not isinstance(looked_up, NotResolved):
            return await render_found(query, looked_up)
        return await render_template(
            "authorize_lookup.html", query=query, error=message("not_found")
        )
    app_state = state()
    found = await find_actor(
        app_state.db, app_state.fed.directory, query, local_host=app_state.settings.host
    )
    if isinstance(found, LookupFailure):
        # Why a lookup failed (refused, timed out, not HTTP...) would tell the caller what
        # answers at an address: it goes to the log only.
        _log.info("lookup of %r failed: %s: %s", query, found.reason, found.detail)
        return await render_template(
            "authorize_lookup.html", query=query, error=message("not_found")
        )
    if isinstance(found, str):
        return redirect(found, 303)
    return await render_template("authorize.html", remote=found)


@blueprint.get("/tags/<tag>")
async def tag(tag: str) -> str:
    """Public posts with a hashtag."""
    account = current_account()
    async with state().db.acquire() as conn:
        fetched = await post_queries.select_tag_posts(
            conn,
            tag[:100],
            limit=FEED_SIZE + 1,
            before_id=cursor_arg("before"),
            viewer_id=account.actor_id if account is not None else None,
        )
        found = fetched[:FEED_SIZE]
        people = await known_actors(conn, state().urls, (p.author_uri for p in found))
        states = await post_queries.select_interaction_states(
            conn,
            state().urls.actor(account.username) if account is not None else "",
            [p.uri for p in found],
        )
    return await render_template(
        "tag.html",
        tag=tag[:100],
        posts=found,
        older=found[-1].id if len(fetched) > FEED_SIZE else None,
        people=people,
        states=states,
        alternates=alternates.tag(state().urls, tag[:100]),
    )
