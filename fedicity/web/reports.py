"""Reporting, for logged-in citizens: the form reached from a post, an event, a proposal, a
comment or an account ("Report"), and the page where a reporter reads what became of it."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.db.pool import Connection
from fedicity.follows import queries as follow_queries
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation import reports
from fedicity.posts import queries as post_queries
from fedicity.posts.models import Post
from fedicity.proposals import queries as proposal_queries
from fedicity.stewardship import comoderation, targets
from fedicity.stewardship.targets import Target
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import checked
from fedicity.web.i18n import lazy
from fedicity.web.messages import message
from fedicity.web.moderation import comoderation_env
from fedicity.web.people import known_actors
from fedicity.web.session import check_csrf, current_account, require_account

blueprint = Blueprint("reports", __name__)
blueprint.before_request(check_csrf)

# Other posts of the reported account offered to add to a report.
OTHER_POSTS = 10
MAX_URI = 2000
# Which field of the form each refusal belongs by.
_FIELD = {
    "report_category": "category",
    "report_comment_long": "comment",
    "report_rate": "",
}
NOTICES = {"sent": lazy("Thank you: your report was sent to the moderators.")}


async def _target(uri: str, kind: str, reader: str) -> Target:
    if not uri or len(uri) > MAX_URI or kind not in reports.TARGET_KINDS:
        raise Problem(400, "say what to report: a kind and the address of the content")
    async with state().db.acquire() as conn:
        found = await targets.find(conn, state().urls, uri, kind)
        visible = found is not None and await _visible(conn, found, reader)
    if found is None or found.removed or not visible:
        raise Problem(404, "nothing of that kind is known here at this address")
    return found


async def _visible(conn: Connection, target: Target, reader: str) -> bool:
    """Whether the reader may see what they report: the form shows its text, so a post that is
    not public is reported only by someone it was addressed to (or a follower, for one to
    followers), and a draft proposal by nobody but its author."""
    if target.kind == "proposal":
        # A draft is its author's alone until it is published.
        proposal = await proposal_queries.select_proposal(conn, target.uri)
        return proposal is not None and (proposal.state != "draft" or target.owner == reader)
    if target.kind != "post":
        return True
    post = await post_queries.select_post(conn, target.uri)
    return post is not None and await _post_visible(conn, post, reader)


async def _post_visible(conn: Connection, post: Post, reader: str) -> bool:
    """Whether a post is the reader's to read: public, theirs, addressed to them, or to the
    followers they are one of."""
    if post.visibility in ("public", "unlisted") or post.author_uri == reader:
        return True
    if reader in post.to_uris or reader in post.cc_uris:
        return True
    if post.visibility != "followers":
        return False
    follow = await follow_queries.select_follow(conn, reader, post.author_uri)
    return follow is not None and follow.state == "accepted"


async def _form(
    target: Target, actor: Actor, *, typed: dict[str, Any], errors: dict[str, str], status: int
) -> tuple[str, int]:
    app_state = state()
    async with app_state.db.acquire() as conn:
        others = (
            await post_queries.select_author_posts(conn, target.owner, limit=OTHER_POSTS)
            if target.owner
            else []
        )
        people = await known_actors(conn, app_state.urls, [target.owner])
    others = [post for post in others if post.uri != target.uri]
    me = app_state.urls.actor(actor.username)
    return (
        await render_template(
            "report_form.html",
            target=target,
            others=others,
            people=people,
            own=target.owner == me,
            remote=target.owner is not None and not target.local,
            categories=reports.CATEGORIES,
            typed=typed,
            errors=errors,
            max_comment=reports.MAX_COMMENT,
        ),
        status,
    )


async def _me() -> Actor:
    account = require_account()
    async with state().db.acquire() as conn:
        actor = await actor_service.local_actor_for_uri(
            conn, state().urls, state().urls.actor(account.username)
        )
    if actor is None:
        raise Problem(403, message("actor_missing"))
    return actor


@blueprint.route("/report", methods=["GET", "POST"])
async def report_form() -> tuple[str, int] | WerkzeugResponse:
    """The form: what is reported, a category, a comment, other posts, forwarding."""
    if request.method == "POST":
        return await report_send()
    if current_account() is None:
        return redirect(url_for("accounts.login", next=request.full_path), 303)
    actor = await _me()
    me = state().urls.actor(actor.username)
    target = await _target(request.args.get("uri", ""), request.args.get("kind", ""), me)
    return await _form(target, actor, typed={"forward": True}, errors={}, status=200)


async def report_send() -> tuple[str, int] | WerkzeugResponse:
    """File the report; the form again with the error by its field when refused."""
    account = require_account()
    form = await request.form
    actor = await _me()
    me = state().urls.actor(actor.username)
    target = await _target(form.get("uri", ""), form.get("kind", ""), me)
    # At most what a report holds, read once each: the form offers no more.
    extra = list(dict.fromkeys(u for u in form.getlist("include") if u and len(u) <= MAX_URI))[
        : reports.MAX_TARGETS - 1
    ]
    typed = {
        "category": form.get("category", ""),
        "comment": form.get("comment", ""),
        "include": extra,
        "forward": checked(form, "forward"),
    }
    app_state = state()
    async with app_state.db.acquire() as conn:
        # Only the owner's own posts the reporter may read may be added, whatever the form
        # says: the report's page quotes them back.
        added = []
        for uri in extra:
            post = await post_queries.select_post(conn, uri)
            if (
                post is not None
                and post.author_uri == target.owner
                and uri != target.uri
                and await _post_visible(conn, post, me)
            ):
                added.append(uri)
        new = reports.NewReport(
            kind=target.kind,  # type: ignore[arg-type]
            targets=(target.uri, *added[: reports.MAX_TARGETS - 1]),
            target_actor=target.owner,
            category=typed["category"],
            comment=typed["comment"],
            forward=bool(typed["forward"]),
            organization_id=target.organization_id,
            territory_id=target.territory_id,
        )
        try:
            instance = await actor_service.ensure_instance_actor(conn, keygen=app_state.keygen)
            report = await reports.file_report(
                conn,
                reporter=actor,
                account_id=account.id,
                new=new,
                instance_actor=instance,
                urls=app_state.urls,
                clock=app_state.clock,
            )
        except reports.ReportError as error:
            field = _FIELD.get(error.code, "")
            status = 429 if error.code == "report_rate" else 400
            return await _form(
                target,
                actor,
                typed=typed,
                errors={field or "general": message(error.code)},
                status=status,
            )
        # Enough reports of distinct residents put the object to their vote.
        env = await comoderation_env()
        for uri in report.targets:
            await comoderation.consider(conn, uri, env)
    return redirect(url_for("reports.my_report", report_id=report.id, notice="sent"), 303)


@blueprint.get("/reports/<int:report_id>")
async def my_report(report_id: int) -> str:
    """A report I made: what it is about and, once handled, the outcome."""
    account = require_account()
    app_state = state()
    async with app_state.db.acquire() as conn:
        report = await moderation_queries.select_report(conn, report_id)
        if report is None or report.reporter_account_id != account.id:
            raise Problem(404, "no such report of yours")
        found = await targets.find_all(conn, app_state.urls, report.targets)
        people = await known_actors(conn, app_state.urls, [report.target_actor])
    return await render_template(
        "report_mine.html",
        report=report,
        found=found,
        people=people,
        notice=NOTICES.get(request.args.get("notice", "")),
    )
