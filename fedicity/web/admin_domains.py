"""/admin/domains: the federation policy per remote domain (suspend, silence, reject media or
reports, allow), Mastodon's domain-block CSV in and out, and subscribed block lists. Every change
goes through moderation/domains.py or blocklists.py, which write the audit log."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.moderation import blocklists, domains
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.domains import PolicyError
from fedicity.moderation.policy import normalize_domain
from fedicity.web.admin import admin_actor
from fedicity.web.app import state
from fedicity.web.errors import Problem
from fedicity.web.forms import checked
from fedicity.web.i18n import lazy
from fedicity.web.messages import message
from fedicity.web.session import check_csrf, require_admin

blueprint = Blueprint("admin_domains", __name__)
blueprint.before_request(check_csrf)

PAGE_SIZE = 50
MAX_CSV_BYTES = 1024 * 1024
# Which field a refusal is shown by.
_FIELDS = {
    "domain_invalid": "domain",
    "policy_action_invalid": "action",
    "policy_empty": "action",
    "comment_too_long": "public_comment",
    "reason_too_long": "reason",
    "blocklist_url_invalid": "url",
    "blocklist_exists": "url",
}
NOTICES = {
    "saved": lazy("Federation policy saved."),
    "lifted": lazy("The policy was lifted."),
    "not_found": lazy("This domain had no policy of its own."),
    "imported": lazy("The list was imported."),
    "subscribed": lazy("Subscribed; the list was fetched."),
    "unsubscribed": lazy("Unsubscribed; the policies it brought were lifted."),
    "synced": lazy("The block lists were fetched again."),
}


async def _page(
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    summary: domains.ImportSummary | None = None,
    import_errors: list[tuple[int, str]] | None = None,
    dry_run: bool = False,
    status: int = 200,
) -> tuple[str, int]:
    """The page: the form (with what was typed and the errors by their field), the policies
    a page at a time from `?after=`, the subscribed lists, an import's outcome."""
    after = request.args.get("after", "")[:253] or None
    async with state().db.acquire() as conn:
        policies = await moderation_queries.select_domain_policies(
            conn, limit=PAGE_SIZE + 1, after=after
        )
        lists = await moderation_queries.select_blocklists(conn)
        editing = None
        wanted = normalize_domain(request.args.get("domain", "")[:300])
        if values is None and wanted is not None:
            editing = await moderation_queries.select_exact_domain_policy(conn, wanted)
    if values is None:
        values = _values_of(editing) if editing is not None else {"action": "suspend"}
    html = await render_template(
        "admin_domains.html",
        policies=policies[:PAGE_SIZE],
        next_after=policies[PAGE_SIZE - 1].domain if len(policies) > PAGE_SIZE else None,
        paged=after is not None,
        lists={b.id: b for b in lists},
        values=values,
        errors=errors or {},
        summary=summary,
        import_errors=import_errors or [],
        dry_run=dry_run,
        allowlist_mode=state().settings.federation_allowlist,
        notice=NOTICES.get(request.args.get("notice", "")),
    )
    return html, status


def _values_of(policy: moderation_queries.DomainPolicy) -> dict[str, Any]:
    return {
        "domain": policy.domain,
        "action": policy.action,
        "reject_media": policy.reject_media,
        "reject_reports": policy.reject_reports,
        "public_comment": policy.public_comment,
        "obfuscate": policy.obfuscate,
        "reason": policy.reason,
    }


def _done(notice: str) -> WerkzeugResponse:
    return redirect(url_for("admin_domains.domains_page", notice=notice), 303)


def _refused(error: PolicyError) -> dict[str, str]:
    return {_FIELDS.get(error.code, "domain"): message(error.code)}


@blueprint.route("/admin/domains", methods=["GET", "POST"])
async def domains_page() -> tuple[str, int] | WerkzeugResponse:
    """The policies (GET), or set one domain's policy (POST)."""
    require_admin()
    if request.method == "GET":
        return await _page()
    form = await request.form
    values: dict[str, Any] = {
        "domain": form.get("domain", "")[:300],
        "action": form.get("action", ""),
        "reject_media": checked(form, "reject_media"),
        "reject_reports": checked(form, "reject_reports"),
        "public_comment": form.get("public_comment", "")[:2000],
        "obfuscate": checked(form, "obfuscate"),
        "reason": form.get("reason", "")[:6000],
    }
    app_state = state()
    try:
        entry = domains.checked_entry(
            values["domain"],
            values["action"],
            reject_media=values["reject_media"],
            reject_reports=values["reject_reports"],
            public_comment=values["public_comment"],
            obfuscate=values["obfuscate"],
        )
        async with app_state.db.acquire() as conn:
            await domains.set_policy(
                conn, admin_actor(), entry, reason=values["reason"], now=app_state.clock.now()
            )
    except PolicyError as error:
        return await _page(values=values, errors=_refused(error), status=400)
    return _done("saved")


@blueprint.post("/admin/domains/lift")
async def lift() -> WerkzeugResponse:
    """Lift the policy set on one domain."""
    require_admin()
    form = await request.form
    app_state = state()
    try:
        async with app_state.db.acquire() as conn:
            lifted = await domains.lift_policy(
                conn,
                admin_actor(),
                form.get("domain", "")[:300],
                reason=form.get("reason", "")[:5000],
                now=app_state.clock.now(),
            )
    except PolicyError as error:
        raise Problem(400, error.detail) from None
    return _done("lifted" if lifted else "not_found")


@blueprint.get("/admin/domains.csv")
async def export() -> Response:
    """The domain blocks as Mastodon's CSV (what its import reads)."""
    require_admin()
    app_state = state()
    async with app_state.db.acquire() as conn:
        policies = await moderation_queries.select_blocking_policies(conn, limit=100_000)
    response = Response(domains.export_csv(policies), content_type="text/csv; charset=utf-8")
    stamp = app_state.clock.now().strftime("%Y%m%d")
    response.headers["Content-Disposition"] = f'attachment; filename="domain_blocks-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/admin/domains/import")
async def import_csv() -> tuple[str, int] | WerkzeugResponse:
    """Apply an uploaded Mastodon CSV, or show what it would change (`dry_run`)."""
    require_admin()
    form = await request.form
    files = await request.files
    upload = files.get("csv")
    data = upload.read(MAX_CSV_BYTES + 1) if upload is not None else b""
    dry_run = checked(form, "dry_run")
    if not data:
        return await _page(errors={"csv": message("csv_missing")}, status=400)
    if len(data) > MAX_CSV_BYTES:
        return await _page(errors={"csv": message("csv_too_large")}, status=413)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return await _page(errors={"csv": message("csv_not_utf8")}, status=400)
    parsed = domains.parse_csv(text)
    app_state = state()
    async with app_state.db.acquire() as conn:
        summary = await domains.import_entries(
            conn,
            admin_actor(),
            parsed.entries,
            reason=form.get("reason", "")[:5000] or "CSV import",
            now=app_state.clock.now(),
            dry_run=dry_run,
        )
    return await _page(summary=summary, import_errors=parsed.errors[:200], dry_run=dry_run)


@blueprint.post("/admin/domains/blocklists")
async def subscribe() -> tuple[str, int] | WerkzeugResponse:
    """Subscribe to a published block list, and fetch it at once."""
    require_admin()
    form = await request.form
    url = form.get("url", "")[:2100]
    app_state = state()
    try:
        async with app_state.db.acquire() as conn:
            added = await blocklists.subscribe(conn, admin_actor(), url, now=app_state.clock.now())
    except PolicyError as error:
        return await _page(
            values={"action": "suspend", "url": url}, errors=_refused(error), status=400
        )
    await blocklists.sync(
        app_state.db, app_state.fed.fetcher, added, now=app_state.clock.now(), actor=admin_actor()
    )
    return _done("subscribed")


@blueprint.post("/admin/domains/blocklists/<blocklist_id>/delete")
async def unsubscribe(blocklist_id: str) -> WerkzeugResponse:
    """Unsubscribe from a list; its entries are lifted."""
    require_admin()
    # Read here rather than by an int converter: any other text is a 404 of ours, and the
    # route's other methods still answer 405.
    if not blocklist_id.isascii() or not blocklist_id.isdigit() or len(blocklist_id) > 18:
        raise Problem(404, "no such block list")
    app_state = state()
    async with app_state.db.acquire() as conn:
        if not await blocklists.unsubscribe(
            conn, admin_actor(), int(blocklist_id), now=app_state.clock.now()
        ):
            raise Problem(404, "no such block list")
    return _done("unsubscribed")


@blueprint.post("/admin/domains/sync")
async def sync_now() -> WerkzeugResponse:
    """Fetch every subscribed list now."""
    require_admin()
    app_state = state()
    await blocklists.sync_all(
        app_state.db, app_state.fed.fetcher, now=app_state.clock.now(), actor=admin_actor()
    )
    return _done("synced")
