"""The moderation queue (/admin/reports): open reports newest first, one report with its objects,
the reporter and the reported account by name, its history from the audit log, and the actions
this moderator may take (stewardship/actions.py). The instance's admins see every report;
organisation admins and moderators those about their wall and rooms; territory moderators those
about content located in their territories. Admins also name territory moderators here."""

from __future__ import annotations

from quart import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.accounts import queries as account_queries
from fedicity.accounts import suspension
from fedicity.accounts.models import Account
from fedicity.actors import queries as actor_queries
from fedicity.audit import queries as audit_queries
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.queries import Report
from fedicity.proposals import queries as proposal_queries
from fedicity.proposals.models import Proposal
from fedicity.stewardship import actions, comoderation, targets
from fedicity.stewardship import queries as stewardship_queries
from fedicity.territories import queries as territory_queries
from fedicity.web.admin import acting, admin_actor
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.i18n import lazy
from fedicity.web.messages import message, query_error
from fedicity.web.paging import cursor_arg
from fedicity.web.people import known_actors
from fedicity.web.session import check_csrf, require_account
from fedicity.web.territories import served_root

blueprint = Blueprint("moderation", __name__)
blueprint.before_request(check_csrf)

PAGE_SIZE = 30
MAX_ID = 2**63 - 1
NOTICES = {
    "dismiss": lazy("The report was dismissed; the reporter is told."),
    "remove": lazy("The content was removed; the reporter is told."),
    "hide": lazy("The content was taken off the territory's pages; the reporter is told."),
    "silence": lazy("The account is limited; the reporter is told."),
    "suspend": lazy("The account is suspended; the reporter is told."),
    "suspend_domain": lazy("The server is suspended; the reporter is told."),
    "forward": lazy("A copy of the report went to the account's server."),
    "unsuspend": lazy("The suspension is lifted."),
    "unsilence": lazy("The limit is lifted."),
    "moderator_added": lazy("The territory moderator was named."),
    "moderator_removed": lazy("The territory moderator was removed."),
    "vetoed": lazy("The co-moderation vote was vetoed."),
}


async def refuse_suspended(actor_id: int | None, conn: Connection | None = None) -> None:
    """410 for what a suspended local account made: its actor, collections, posts, events,
    proposals and inbox (accounts/suspension.py); on the caller's connection when it has one."""
    if actor_id is None:
        return
    if conn is None:
        async with state().db.acquire() as own:
            suspended = await suspension.is_suspended(own, actor_id)
    else:
        suspended = await suspension.is_suspended(conn, actor_id)
    if suspended:
        raise Problem(410, message("account_suspended"), extra={"reason": "suspended"})


def _env() -> actions.Env:
    return actions.Env(urls=state().urls, clock=state().clock)


async def comoderation_env() -> comoderation.Env:
    """What co-moderation needs from this app: its threshold, the served territory, keys."""
    app_state = state()
    return comoderation.Env(
        urls=app_state.urls,
        clock=app_state.clock,
        keygen=app_state.keygen,
        root=await served_root(),
        threshold=app_state.settings.comoderation_reports,
    )


async def _scope(account: Account) -> tuple[bool, list[int], list[int]]:
    if account.is_admin:
        return True, [], []
    async with state().db.acquire() as conn:
        organizations, territories = await actions.moderated_scope(conn, account, state().urls)
    if not organizations and not territories:
        raise Problem(403, "this page is for the moderators")
    return False, organizations, territories


@blueprint.get("/admin/reports")
async def queue() -> str:
    """Reports newest first, a page at a time; `?all=1` includes the handled ones."""
    account = require_account()
    everything, organizations, territories = await _scope(account)
    before = cursor_arg("before")
    show_all = request.args.get("all") == "1"
    app_state = state()
    async with app_state.db.acquire() as conn:
        page = await moderation_queries.select_reports_page(
            conn,
            limit=PAGE_SIZE + 1,
            before_id=before,
            open_only=not show_all,
            everything=everything,
            organization_ids=organizations,
            territory_ids=territories,
        )
        shown = page[:PAGE_SIZE]
        people = await known_actors(
            conn,
            app_state.urls,
            [r.reporter for r in shown] + [r.target_actor for r in shown],
        )
        moderators = (
            await moderation_queries.select_territory_moderators(conn, limit=200)
            if account.is_admin
            else []
        )
        votes = await stewardship_queries.select_votes_page(
            conn,
            limit=PAGE_SIZE,
            everything=everything,
            organization_ids=organizations,
            territory_ids=territories,
        )
        ballots = await _proposals_of(conn, votes)
    older = shown[-1].id if len(page) > PAGE_SIZE else None
    return await render_template(
        "admin_reports.html",
        reports=shown,
        people=people,
        older=older,
        show_all=show_all,
        is_admin=account.is_admin,
        moderators=moderators,
        votes=votes,
        ballots=ballots,
        error=query_error(),
        notice=NOTICES.get(request.args.get("notice", "")),
    )


async def _report_for(report_id: int, account: Account) -> tuple[Report, frozenset[str]]:
    async with state().db.acquire() as conn:
        report = await moderation_queries.select_report(conn, report_id)
        if report is None:
            raise Problem(404, "no such report")
        allowed = await actions.allowed_actions(conn, account, report, state().urls)
    if not allowed:
        raise Problem(403, "this report is for other moderators")
    return report, frozenset(allowed)


@blueprint.route("/admin/reports/<int:report_id>", methods=["GET", "POST"])
async def report_page(report_id: int) -> str | WerkzeugResponse:
    """One report: its objects, who reported, about whom, what was done, what may be done;
    POST takes an action."""
    if request.method == "POST":
        return await act(report_id)
    account = require_account()
    report, allowed = await _report_for(report_id, account)
    app_state = state()
    async with app_state.db.acquire() as conn:
        found = await targets.find_all(conn, app_state.urls, report.targets)
        people = await known_actors(conn, app_state.urls, [report.reporter, report.target_actor])
        history = await moderation_queries.select_report_history(conn, report.id)
        restriction = (
            await moderation_queries.select_restriction(conn, report.target_actor)
            if report.target_actor
            else None
        )
        votes = [
            vote
            for vote in await stewardship_queries.select_votes_about(conn, report.targets)
            if await comoderation.may_veto(conn, account, vote, app_state.urls)
        ]
        ballots = await _proposals_of(conn, votes)
    return await render_template(
        "admin_report.html",
        votes=votes,
        ballots=ballots,
        report=report,
        found=found,
        people=people,
        history=history,
        allowed=allowed,
        restriction=restriction,
        remote=report.target_actor is not None
        and not report.target_actor.startswith(app_state.urls.actor("")),
        is_admin=account.is_admin,
        error=query_error(),
        notice=NOTICES.get(request.args.get("notice", "")),
    )


async def act(report_id: int) -> WerkzeugResponse:
    """Take one action on a report (or lift a restriction of its account)."""
    account = require_account()
    report, allowed = await _report_for(report_id, account)
    form = await request.form
    action = form.get("action", "")
    reason = form.get("reason", "")
    by = acting(account)
    env = _env()
    app_state = state()
    lifting = action in ("unsuspend", "unsilence", "forward")
    if action not in allowed and not (lifting and account.is_admin):
        raise Problem(403, "this action is not yours to take on this report")
    target_actor = report.target_actor or ""
    try:
        async with app_state.db.acquire() as conn:
            if action == "dismiss":
                await actions.dismiss(conn, report, by=by, reason=reason, env=env)
            elif action == "remove":
                await actions.remove_content(
                    conn,
                    report,
                    by=by,
                    reason=reason,
                    env=env,
                    organization_id=None if account.is_admin else report.organization_id,
                )
            elif action == "hide":
                await actions.hide_from_territory(
                    conn,
                    report,
                    by=by,
                    reason=reason,
                    env=env,
                    territory_ids=None
                    if account.is_admin
                    else await moderation_queries.select_moderated_territories(conn, account.id),
                )
            elif action == "silence":
                await actions.silence(
                    conn, target_actor, by=by, reason=reason, env=env, report=report
                )
            elif action == "suspend":
                await actions.suspend(
                    conn, target_actor, by=by, reason=reason, env=env, report=report
                )
                _forget_document(target_actor)
            elif action == "suspend_domain":
                await actions.suspend_domain(conn, report, by=by, reason=reason, env=env)
            elif action == "unsuspend":
                await actions.unsuspend(conn, target_actor, by=by, reason=reason, env=env)
            elif action == "unsilence":
                await actions.unsilence(conn, target_actor, by=by, reason=reason, env=env)
            elif action == "forward":
                await actions.forward(conn, report, by=by, env=env, keygen=app_state.keygen)
            else:
                raise Problem(400, "no such action")
    except DomainError as error:
        failed = url_for("moderation.report_page", report_id=report.id, error=error.code)
        return redirect(failed, 303)
    return redirect(url_for("moderation.report_page", report_id=report.id, notice=action), 303)


async def _proposals_of(
    conn: Connection, votes: list[stewardship_queries.ComoderationVote]
) -> dict[int, Proposal]:
    """The proposals of co-moderation votes, by vote, for their state and end."""
    found = {}
    for vote in votes:
        proposal = await proposal_queries.select_proposal_by_id(conn, vote.proposal_id)
        if proposal is not None:
            found[vote.id] = proposal
    return found


@blueprint.post("/admin/comoderation/<int:vote_id>/veto")
async def veto(vote_id: int) -> WerkzeugResponse:
    """Veto a co-moderation vote (see stewardship/comoderation.py), back to where it was asked
    (a report's page, or the queue)."""
    account = require_account()
    if vote_id > MAX_ID:
        # Beyond a bigint: no such row, and PostgreSQL would refuse the number itself.
        raise Problem(404, message("comoderation_unknown"))
    form = await request.form
    report_id = form.get("report", "")
    back = (
        url_for("moderation.report_page", report_id=int(report_id))
        if report_id.isdigit() and len(report_id) < 19
        else url_for("moderation.queue")
    )
    env = await comoderation_env()
    try:
        async with state().db.acquire() as conn:
            await comoderation.veto(
                conn,
                vote_id,
                account=account,
                by=acting(account),
                reason=form.get("reason", ""),
                env=env,
            )
    except comoderation.ComoderationError as error:
        if error.code == "comoderation_unknown":
            raise Problem(404, message(error.code)) from None
        if error.code == "not_allowed":
            raise Problem(403, message("comoderation_not_yours")) from None
        return redirect(f"{back}?error={error.code}", 303)
    return redirect(f"{back}?notice=vetoed", 303)


def _forget_document(actor_uri: str) -> None:
    """This process's cached actor document goes at once (others' within its lifetime)."""
    prefix = state().urls.actor("")
    if actor_uri.startswith(prefix):
        state().actor_documents.pop(actor_uri[len(prefix) :])


@blueprint.post("/admin/territory-moderators")
async def territory_moderators() -> WerkzeugResponse:
    """Name or remove a territory moderator (by username and INSEE code)."""
    by = admin_actor()
    form = await request.form
    username = form.get("username", "").strip().lstrip("@")[:100]
    level = form.get("level", "commune")
    code = form.get("code", "").strip()[:20]
    app_state = state()
    async with app_state.db.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, username) if username else None
        account = await account_queries.select_account_by_actor(conn, actor.id) if actor else None
        territory = await territory_queries.select_territory(conn, level, code) if code else None
        if account is None or territory is None:
            return redirect(url_for("moderation.queue", error="moderator_unknown"), 303)
        async with conn.transaction():
            if form.get("action") == "remove":
                changed = await moderation_queries.delete_territory_moderator(
                    conn, territory.id, account.id
                )
                verb, notice = "territory.moderator_remove", "moderator_removed"
            else:
                changed = await moderation_queries.insert_territory_moderator(
                    conn, territory.id, account.id, app_state.clock.now()
                )
                verb, notice = "territory.moderator_add", "moderator_added"
            if changed:
                await audit_queries.record(
                    conn,
                    by,
                    verb,
                    target=f"{territory.level}:{territory.code}",
                    details={"account": account.username},
                    now=app_state.clock.now(),
                )
    return redirect(url_for("moderation.queue", notice=notice), 303)
