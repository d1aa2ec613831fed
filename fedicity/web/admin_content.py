"""The admins' content rules: each inbound content policy's settings, what the policies decided,
and the held activities an admin releases or rejects."""

from __future__ import annotations

from quart import Blueprint, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.moderation import content, content_service
from fedicity.moderation import content_queries as queries
from fedicity.moderation.content import ContentPolicyError
from fedicity.web.admin import admin_actor
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import checked
from fedicity.web.i18n import lazy
from fedicity.web.messages import message
from fedicity.web.paging import cursor_arg
from fedicity.web.people import known_actors
from fedicity.web.session import check_csrf, require_admin

blueprint = Blueprint("admin_content", __name__)
blueprint.before_request(check_csrf)

PAGE_SIZE = 50
HELD_SHOWN = 100
MAX_REASON = 500
NOTICES = {
    "saved": lazy("The policy was saved; it applies to the next activities received."),
    "released": lazy("Released: the activity is processed as usual."),
    "rejected": lazy("Rejected: the activity is ignored."),
}


@blueprint.route("/admin/content", methods=["GET", "POST"])
async def content_rules() -> tuple[str, int] | str | WerkzeugResponse:
    """The policies' settings, the held activities, and the decisions newest first; a POST
    saves a policy, or (with `held`) releases or rejects a held activity."""
    if request.method == "GET":
        require_admin()
        return await _page()
    form = await request.form
    if "held" in form:
        return await _resolve_held(form)
    return await _configure_policy(form)


async def _page(
    *,
    errors: dict[str, dict[str, str]] | None = None,
    typed: dict[str, MultiDict[str, str]] | None = None,
    status: int = 200,
) -> tuple[str, int] | str:
    app_state = state()
    before = cursor_arg("before")
    async with app_state.db.acquire() as conn:
        configs = await queries.select_configs(conn)
        held = await queries.select_decisions(conn, limit=HELD_SHOWN, held_only=True)
        decisions = await queries.select_decisions(conn, limit=PAGE_SIZE + 1, before_id=before)
        people = await known_actors(
            conn, app_state.urls, (d.actor_uri for d in (*held, *decisions))
        )
    older = decisions[PAGE_SIZE - 1].id if len(decisions) > PAGE_SIZE else None
    page = await render_template(
        "admin_content.html",
        policies=[configs[name] for name in content.POLICIES],
        held=held,
        decisions=decisions[:PAGE_SIZE],
        older=older,
        people=people,
        errors=errors or {},
        typed=typed or {},
        choose_action=content.CHOOSE_ACTION,
        with_terms=content.WITH_TERMS,
        bounds=content.AMOUNT_BOUNDS,
        notice=NOTICES.get(request.args.get("notice", "")),
    )
    return (page, status) if status != 200 else page


async def _configure_policy(form: MultiDict[str, str]) -> tuple[str, int] | str | WerkzeugResponse:
    """Save one policy's settings (and the audit entry); the form again, its errors by their
    fields and what was typed kept, when a value cannot be used."""
    admin = admin_actor()
    name = form.get("policy", "")
    if name not in content.POLICIES:
        raise Problem(400, "no such content policy")
    app_state = state()
    now = app_state.clock.now()
    async with app_state.db.acquire() as conn:
        current = (await queries.select_configs(conn))[name]
        try:
            updated = content_service.configure(
                current,
                enabled=checked(form, "enabled"),
                action=form.get("action", "") if name in content.CHOOSE_ACTION else None,
                terms=form.get("terms", "") if name in content.WITH_TERMS else None,
                amount=form.get("amount", "") if name in content.AMOUNT_BOUNDS else None,
                by=admin,
                now=now,
            )
        except ContentPolicyError as error:
            return await _page(
                errors={name: {error.field: message(error.code)}}, typed={name: form}, status=400
            )
        await content_service.save_policy(
            conn, updated, by=admin, reason=form.get("reason", "")[:MAX_REASON], now=now
        )
    return redirect(
        url_for("admin_content.content_rules", notice="saved", _anchor=f"policy-{name}"), 303
    )


async def _resolve_held(form: MultiDict[str, str]) -> WerkzeugResponse:
    """Release a held activity (processed as usual) or reject it (ignored), with the audit
    entry."""
    admin = admin_actor()
    held = form.get("held", "")
    if not held.isascii() or not held.isdigit() or len(held) > 18:
        raise Problem(400, "held names a held activity by its number")
    decision_id = int(held)
    choice = form.get("decision", "")
    if choice not in {"release", "reject"}:
        raise Problem(400, "the decision is release or reject")
    app_state = state()
    async with app_state.db.acquire() as conn:
        try:
            await content_service.resolve_held(
                conn,
                decision_id,
                release=choice == "release",
                by=admin,
                reason=form.get("reason", "")[:MAX_REASON],
                now=app_state.clock.now(),
            )
        except ContentPolicyError as error:
            raise Problem(404, "no activity held with this number waits") from error
    notice = "released" if choice == "release" else "rejected"
    return redirect(url_for("admin_content.content_rules", notice=notice), 303)
