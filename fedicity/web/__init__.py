"""HTML pages and ActivityPub routes: the only layer that knows about HTTP."""

from __future__ import annotations

from typing import cast

from quart import Quart, Response, g, request
from werkzeug.datastructures import MultiDict

from fedicity.accounts import queries as account_queries
from fedicity.activitypub.dates import format_datetime
from fedicity.web import activitypub, headers, i18n, inbox, metrics, openapi, signed_fetch
from fedicity.web.app import FedicityQuart, program_request, state
from fedicity.web.devices import device_name
from fedicity.web.errors import Problem, register_error_handlers
from fedicity.web.labels import label
from fedicity.web.limits import limit_body
from fedicity.web.ratelimits import limit_forms
from fedicity.web.session import csrf_token, load_account
from fedicity.web.times import local_time, zone_name


def register_web(app: Quart) -> None:
    """Attach templates' helpers, per-request hooks, error handlers and the web blueprints."""
    _install_template_helpers(app)
    headers.install(app)
    # First of the hooks: nothing may read a body before its route's cap is set.
    app.before_request(limit_body)
    # Counts and logs every request by its route; serves /metrics.
    metrics.install(app)
    # One hook, not three: Quart pays for every hook on every request.
    app.before_request(_visitor)
    # By route, for the whole app: every view marked serves_activitystreams is gated.
    signed_fetch.register(app)
    app.after_request(_remember_language)
    register_error_handlers(app)
    _register_blueprints(app)
    # /openapi.json, of the /api/ routes registered above.
    openapi.install(app)
    # Inbox POSTs are answered before Quart sees them (web/inbox.py says why).
    inbox.install(cast(FedicityQuart, app))
    activitypub.serve_cached_actors(cast(FedicityQuart, app))


def _install_template_helpers(app: Quart) -> None:
    """Translations, the CSRF token, filters and the globals every template sees."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.filters["device_name"] = device_name
    app.jinja_env.filters["xsd_datetime"] = format_datetime
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["zone_name"] = zone_name
    app.jinja_env.filters["label"] = label
    app.context_processor(_template_globals)


async def _visitor() -> None:
    """Who is asking and in which language, then what they sent: refuse a NUL, count a form.
    A request for programs (web.app.for_programs) has no account and no language (its answers
    are documents, not pages) and sends no form."""
    if program_request():
        g.account = None
        _refuse_nul_in_url()
        return
    await _identify()
    await _refuse_nul()
    # After _identify: logged-in forms count per account, the others per address.
    await limit_forms()


async def _identify() -> None:
    """Load the session's account (only if a cookie came) and pick the locale."""
    g.account = await load_account() if request.cookies else None
    account_locale = g.account.locale if g.account else None
    g.locale = i18n.choose_locale(request, account_locale, state().settings.default_locale)
    i18n.activate(g.locale)
    chosen = i18n.chosen_now(request)
    if g.account is not None and chosen is not None and chosen != account_locale:
        # The language link in the header is the citizen's choice too: it follows the account
        # to every device, as the one in the settings does.
        async with state().db.acquire() as conn:
            await account_queries.update_locale(conn, g.account.id, chosen)


def _refuse_nul_in_url() -> None:
    """Refuse a NUL character in the path or the query."""
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail (500) in a query.
    if "\x00" in request.path or (request.query_string and _has_nul(request.args)):
        raise Problem(400, "the request contains a NUL character")


async def _refuse_nul() -> None:
    """Refuse a NUL character in the path, the query or a POSTed form."""
    _refuse_nul_in_url()
    if request.url_rule is not None and request.method == "POST" and _has_nul(await request.form):
        raise Problem(400, "the request contains a NUL character")


async def _remember_language(response: Response) -> Response:
    """Keep a language chosen with ?lang= in a cookie."""
    if program_request():
        return response
    chosen = i18n.chosen_now(request)
    if chosen is not None:
        response.set_cookie("lang", chosen, max_age=365 * 24 * 3600, samesite="Lax")
    return response


async def _template_globals() -> dict[str, object]:
    app_state = state()
    return {
        "account": g.get("account"),
        "locale": g.get("locale", app_state.settings.default_locale),
        "settings": app_state.settings,
        "urls": app_state.urls,
    }


def _register_blueprints(app: Quart) -> None:
    from fedicity.web.accounts import blueprint as accounts_blueprint
    from fedicity.web.actions import blueprint as actions_blueprint
    from fedicity.web.activitypub import blueprint as activitypub_blueprint
    from fedicity.web.admin import blueprint as admin_blueprint
    from fedicity.web.admin_content import blueprint as admin_content_blueprint
    from fedicity.web.admin_dashboard import blueprint as admin_dashboard_blueprint
    from fedicity.web.admin_domains import blueprint as admin_domains_blueprint
    from fedicity.web.admin_imports import blueprint as admin_imports_blueprint
    from fedicity.web.admin_imports_files import blueprint as admin_imports_files_blueprint
    from fedicity.web.api import blueprint as api_blueprint
    from fedicity.web.api_write import blueprint as api_write_blueprint
    from fedicity.web.blocks import blueprint as blocks_blueprint
    from fedicity.web.events import blueprint as events_blueprint
    from fedicity.web.listings import blueprint as listings_blueprint
    from fedicity.web.map import blueprint as map_blueprint
    from fedicity.web.media import blueprint as media_blueprint
    from fedicity.web.moderation import blueprint as moderation_blueprint
    from fedicity.web.my_calendars import blueprint as my_calendars_blueprint
    from fedicity.web.needs import blueprint as needs_blueprint
    from fedicity.web.notifications import blueprint as notifications_blueprint
    from fedicity.web.opendata import blueprint as opendata_blueprint
    from fedicity.web.organizations import blueprint as organizations_blueprint
    from fedicity.web.pages import blueprint as pages_blueprint
    from fedicity.web.places import blueprint as places_blueprint
    from fedicity.web.projects import blueprint as projects_blueprint
    from fedicity.web.proposals import blueprint as proposals_blueprint
    from fedicity.web.reports import blueprint as reports_blueprint
    from fedicity.web.rooms import blueprint as rooms_blueprint
    from fedicity.web.search import blueprint as search_blueprint
    from fedicity.web.social import blueprint as social_blueprint
    from fedicity.web.territories import blueprint as territories_blueprint
    from fedicity.web.transparency import blueprint as transparency_blueprint

    app.register_blueprint(pages_blueprint)
    app.register_blueprint(accounts_blueprint)
    app.register_blueprint(admin_blueprint)
    app.register_blueprint(admin_dashboard_blueprint)
    app.register_blueprint(admin_domains_blueprint)
    app.register_blueprint(admin_imports_blueprint)
    app.register_blueprint(my_calendars_blueprint)
    app.register_blueprint(admin_content_blueprint)
    app.register_blueprint(admin_imports_files_blueprint)
    app.register_blueprint(activitypub_blueprint)
    app.register_blueprint(social_blueprint)
    app.register_blueprint(blocks_blueprint)
    app.register_blueprint(territories_blueprint)
    app.register_blueprint(proposals_blueprint)
    app.register_blueprint(rooms_blueprint)
    app.register_blueprint(actions_blueprint)
    app.register_blueprint(events_blueprint)
    app.register_blueprint(places_blueprint)
    app.register_blueprint(organizations_blueprint)
    app.register_blueprint(media_blueprint)
    app.register_blueprint(notifications_blueprint)
    app.register_blueprint(map_blueprint)
    app.register_blueprint(listings_blueprint)
    app.register_blueprint(opendata_blueprint)
    app.register_blueprint(search_blueprint)
    app.register_blueprint(transparency_blueprint)
    app.register_blueprint(moderation_blueprint)
    app.register_blueprint(reports_blueprint)
    app.register_blueprint(api_blueprint)
    app.register_blueprint(api_write_blueprint)
    app.register_blueprint(projects_blueprint)
    app.register_blueprint(needs_blueprint)


def _has_nul(values: MultiDict[str, str]) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))
