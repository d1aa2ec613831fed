"""The admins' shared plumbing and the audit log pages: who did what, when and why."""

from __future__ import annotations

from collections.abc import AsyncIterator

from quart import Blueprint, Response, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.accounts.models import Account
from fedicity.audit import export
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import ACTION, Actor, account_actor
from fedicity.web.app import state
from fedicity.web.paging import cursor_arg
from fedicity.web.session import check_csrf, require_admin

blueprint = Blueprint("admin", __name__)
blueprint.before_request(check_csrf)

PAGE_SIZE = 50


def acting(account: Account) -> Actor:
    """The audit log's name for an account acting through the web."""
    return account_actor(account.id, account.username)


def admin_actor() -> Actor:
    """The logged-in admin as the audit log names them, or 403."""
    return acting(require_admin())


@blueprint.get("/admin/audit")
async def audit_log() -> str:
    """The audit log, newest first, a page at a time, optionally one area (`?area=domain`)."""
    require_admin()
    before = cursor_arg("before")
    area = request.args.get("area", "")
    prefix = f"{area}." if area and ACTION.fullmatch(f"{area}.x") else ""
    async with state().db.acquire() as conn:
        entries = await audit_queries.select_page(
            conn, limit=PAGE_SIZE + 1, before_id=before, action_prefix=prefix
        )
    older = entries[PAGE_SIZE - 1].id if len(entries) > PAGE_SIZE else None
    return await render_template(
        "admin_audit.html", entries=entries[:PAGE_SIZE], older=older, area=prefix.rstrip(".")
    )


@blueprint.get("/admin/audit.csv")
async def audit_export() -> Response | WerkzeugResponse:
    """The whole audit log as CSV, oldest first, streamed."""
    require_admin()
    app_state = state()

    async def lines() -> AsyncIterator[bytes]:
        async for line in export.csv_lines(audit_queries.iterate(app_state.db)):
            yield line.encode()

    response = Response(lines(), content_type="text/csv; charset=utf-8")
    stamp = app_state.clock.now().strftime("%Y%m%d")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
