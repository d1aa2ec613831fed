"""/admin/dashboard: federation health per domain, the queues, users, storage and the
moderation backlog, as the database says now."""

from __future__ import annotations

from datetime import timedelta

from babel.dates import format_timedelta
from babel.numbers import format_decimal
from babel.units import format_unit
from quart import Blueprint, render_template

from fedicity.media.service import media_root
from fedicity.ops import service
from fedicity.web.app import state
from fedicity.web.paging import cursor_arg
from fedicity.web.session import require_admin
from fedicity.web.times import reader_locale

blueprint = Blueprint("admin_dashboard", __name__)

DOMAINS_PER_PAGE = 50
# Past this page number there is nothing an admin would page to: refused rather than scanned.
MAX_PAGE = 10_000
_UNITS = (
    (1000**3, "digital-gigabyte"),
    (1000**2, "digital-megabyte"),
    (1000, "digital-kilobyte"),
)


def byte_size(count: int) -> str:
    """A size in the reader's words, in decimal multiples as the units say: `12,3 Mo`, `12.3 MB`."""
    locale = reader_locale()
    for factor, unit in _UNITS:
        if count >= factor:
            return format_unit(round(count / factor, 1), unit, length="short", locale=locale)
    return format_unit(count, "digital-byte", length="short", locale=locale)


def number(count: int) -> str:
    """A count with the reader's digit grouping."""
    return format_decimal(count, locale=reader_locale())


def duration(seconds: float) -> str:
    """A duration in the reader's words, rounded to its largest unit: `3 minutes`."""
    return format_timedelta(timedelta(seconds=seconds), locale=reader_locale())


@blueprint.get("/admin/dashboard")
async def dashboard() -> str:
    """The dashboard; `?page=N` pages the domains table, worst health first."""
    require_admin()
    page = cursor_arg("page") or 0
    if page > MAX_PAGE:
        page = MAX_PAGE
    app_state = state()
    now = app_state.clock.now()
    async with app_state.db.acquire() as conn:
        figures = await service.overview(
            conn, now=now, media_dir=media_root(app_state.settings.data_dir)
        )
        domains, more = await service.domains_page(conn, page=page, size=DOMAINS_PER_PAGE)
    return await render_template(
        "admin_dashboard.html",
        figures=figures,
        domains=domains,
        page=page,
        more=more,
        now=now,
        byte_size=byte_size,
        number=number,
        duration=duration,
    )
