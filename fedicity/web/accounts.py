"""Sign-up, login, logout, account settings and the admin's registration switch."""

from __future__ import annotations

import math
from typing import Any

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.accounts import passwords, sessions, throttle
from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.accounts.models import Account
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.lookup import find_actor
from fedicity.actors.models import Actor, RemoteActor
from fedicity.actors.service import ActorError
from fedicity.follows import service as follows
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.policy import trusted_authority
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.territories.models import Territory
from fedicity.web.app import state
from fedicity.web.clientip import client_ip
from fedicity.web.errors import Problem, problem_response
from fedicity.web.forms import checked
from fedicity.web.i18n import LOCALES, gettext, lazy
from fedicity.web.messages import message
from fedicity.web.negotiation import wants_html
from fedicity.web.people import known_actors
from fedicity.web.session import (
    check_csrf,
    current_account,
    current_session_id,
    log_in,
    log_out,
    require_admin,
)
from fedicity.web.territories import resolve_place, served_root

blueprint = Blueprint("accounts", __name__)
blueprint.before_request(check_csrf)

THROTTLED = lazy("Too many attempts. Try again in %(minutes)s min.")
HASHES_BUSY = lazy("Too many attempts at the same moment. Try again in a few seconds.")


# Where a citizen lands after logging in or signing up: the feed and its composer.
LANDING = "/home"


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect after login is a phishing tool. Browsers drop tabs
    # and line breaks from URLs ("/\t/evil.example" becomes "//evil.example"), and a line break
    # cannot go in a header at all, so any non-printable character is refused too.
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
    ):
        return target
    return LANDING


async def _too_many(retry_after: int | None, template: str, **context: Any) -> Response:
    """A 429 with Retry-After (None: the password hashes are busy, retry in a few seconds): the
    form again, with what was typed, for browsers; a problem document for programs."""
    if retry_after is None:
        retry_after = passwords.BUSY_RETRY_AFTER
        text = gettext(HASHES_BUSY)
    else:
        text = gettext(THROTTLED, minutes=math.ceil(retry_after / 60))
    if wants_html(request):
        body = await render_template(template, error=text, **context)
        response = Response(body, status=429, content_type="text/html; charset=utf-8")
    else:
        response = await problem_response(429, text)
    response.headers["Retry-After"] = str(retry_after)
    return response


@blueprint.route("/signup", methods=["GET", "POST"])
async def signup() -> str | Response | WerkzeugResponse | tuple[str, int]:
    """Create a citizen account, when registration is open."""
    app_state = state()
    async with app_state.db.acquire() as conn:
        is_open = await accounts.registration_open(conn, app_state.settings.registration_open)
    if not is_open:
        return await render_template("signup_closed.html"), 403
    if request.method == "GET":
        return await render_template("signup.html", form={}, error=None)
    form = await request.form
    values = {key: form.get(key, "") for key in ("username", "email", "display_name")}
    async with app_state.db.acquire() as conn:
        retry_after = await throttle.before_signup(conn, client_ip(), app_state.clock.now())
    if retry_after is not None:
        return await _too_many(retry_after, "signup.html", form=values)
    if form.get("password", "") != form.get("password_confirm", ""):
        return await render_template(
            "signup.html", form=values, error=message("passwords_differ")
        ), 422
    try:
        account = await accounts.sign_up(
            app_state.db,
            username=values["username"],
            password=form.get("password", ""),
            email=values["email"] or None,
            display_name=values["display_name"],
            keygen=app_state.keygen,
            locale=request.cookies.get("lang") if request.cookies.get("lang") in LOCALES else None,
        )
    except ActorError as error:
        return await render_template("signup.html", form=values, error=message(error.code)), 422
    except passwords.HashBusy:
        return await _too_many(None, "signup.html", form=values)
    await log_in(account)
    return redirect(LANDING, 303)


@blueprint.route("/login", methods=["GET", "POST"])
async def login() -> str | Response | WerkzeugResponse | tuple[str, int]:
    """Log in with a username (or e-mail) and password."""
    next_url = _safe_next(request.args.get("next"))
    if request.method == "GET":
        return await render_template("login.html", login="", error=None, next_url=next_url)
    form = await request.form
    login_name = form.get("login", "")
    app_state = state()
    ip = client_ip()
    # Three short uses of the pool: the limits, the password check (which holds no connection
    # while argon2 runs), the failure or the new session.
    async with app_state.db.acquire() as conn:
        retry_after = await throttle.before_login(conn, login_name, ip, app_state.clock.now())
    if retry_after is not None:
        return await _too_many(retry_after, "login.html", login=login_name, next_url=next_url)
    try:
        account = await accounts.authenticate(
            app_state.db, login_name, form.get("password", ""), app_state.clock
        )
    except passwords.HashBusy:
        return await _too_many(None, "login.html", login=login_name, next_url=next_url)
    if account is None:
        async with app_state.db.acquire() as conn:
            await throttle.login_failed(conn, login_name, ip, app_state.clock.now())
        return (
            await render_template(
                "login.html", login=login_name, error=message("login_failed"), next_url=next_url
            ),
            401,
        )
    await log_in(account)
    return redirect(_safe_next(form.get("next")), 303)


@blueprint.post("/logout")
async def logout() -> WerkzeugResponse:
    """End the session, or with `everywhere`, every session of the account."""
    form = await request.form
    await log_out(everywhere=checked(form, "everywhere"))
    return redirect("/", 303)


SETTINGS_NOTICES = {
    "saved": lazy("Saved."),
    "session_ended": lazy("That session has ended."),
}


async def _settings_context(account: Account, actor: Actor | None = None) -> dict[str, Any]:
    """What the settings page shows: profile, home territory, and the account's sessions."""
    app_state = state()
    async with app_state.db.acquire() as conn:
        if actor is None:
            actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
            assert actor is not None
        home = (
            await territory_queries.select_territory_by_id(conn, actor.home_territory_id)
            if actor.home_territory_id is not None
            else None
        )
        live_sessions = await sessions.live(conn, account.id, app_state.clock.now())
    return {
        "actor": actor,
        "account": account,
        "home_place": f"{home.level}:{home.code}" if home else "",
        "sessions": live_sessions,
        "current_session": current_session_id(),
    }


async def _settings_page(
    account: Account,
    actor: Actor | None = None,
    *,
    error: str | None = None,
    notice: str | None = None,
) -> str:
    """The settings page, with an error or a notice."""
    context = await _settings_context(account, actor)
    return await render_template(
        "settings.html", error=error, notice=SETTINGS_NOTICES.get(notice or ""), **context
    )


@blueprint.route("/settings", methods=["GET", "POST"])
async def settings_page() -> str | WerkzeugResponse | tuple[str, int]:
    """Edit one's profile, language and password."""
    account = current_account()
    if account is None:
        return _login_redirect()
    app_state = state()
    if request.method == "GET":
        return await _settings_page(account, notice=request.args.get("notice"))
    async with app_state.db.acquire() as conn:
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert actor is not None
    form = await request.form
    place = await resolve_place(form.get("home_territory", ""))
    if form.get("home_territory", "").strip() and place is None:
        return await _settings_page(account, actor, error=message("territory_unknown")), 422
    try:
        async with app_state.db.acquire() as conn, conn.transaction():
            actor = await actor_service.update_profile(
                conn,
                actor,
                display_name=form.get("display_name", ""),
                summary=form.get("summary", ""),
                manually_approves_followers=checked(form, "manually_approves_followers"),
                discoverable=checked(form, "discoverable"),
            )
            await actor_queries.update_home_territory(
                conn, actor.id, place.id if place is not None else None
            )
            locale = form.get("locale")
            await account_queries.update_locale(
                conn, account.id, locale if locale in LOCALES else None
            )
    except ActorError as error:
        return await _settings_page(account, actor, error=message(error.code)), 422
    app_state.actor_documents.pop(actor.username, None)
    return redirect(url_for("accounts.settings_page", notice="saved"), 303)


@blueprint.post("/settings/password")
async def change_password() -> str | Response | WerkzeugResponse | tuple[str, int]:
    """Change one's password; every other session ends."""
    account = current_account()
    if account is None:
        return _login_redirect()
    form = await request.form
    app_state = state()
    ip = client_ip()
    async with app_state.db.acquire() as conn:
        # Checking the current password is a login attempt: the same limits apply.
        retry_after = await throttle.before_login(conn, account.username, ip, app_state.clock.now())
    if retry_after is not None:
        return await _too_many_settings(account, retry_after)
    error = None
    try:
        right = await passwords.verify_password_async(
            account.password_hash, form.get("current_password", "")
        )
        if not right:
            async with app_state.db.acquire() as conn:
                await throttle.login_failed(conn, account.username, ip, app_state.clock.now())
            error = "password_wrong"
        elif form.get("password", "") != form.get("password_confirm", ""):
            error = "passwords_differ"
        else:
            await accounts.change_password(
                app_state.db, account, form.get("password", ""), app_state.clock
            )
    except ActorError as exc:
        error = exc.code
    except passwords.HashBusy:
        return await _too_many_settings(account, None)
    if error is not None:
        return await _settings_page(account, error=message(error)), 422
    async with app_state.db.acquire() as conn:
        refreshed = await account_queries.select_account_by_id(conn, account.id)
    assert refreshed is not None
    await log_in(refreshed)
    return redirect(url_for("accounts.settings_page", notice="saved"), 303)


async def _too_many_settings(account: Account, retry_after: int | None) -> Response:
    context = await _settings_context(account)
    return await _too_many(retry_after, "settings.html", notice=None, **context)


@blueprint.post("/settings/sessions")
async def end_session() -> WerkzeugResponse:
    """End one of one's sessions (a lost phone, a shared computer)."""
    account = current_account()
    if account is None:
        return _login_redirect()
    form = await request.form
    raw = form.get("session", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise Problem(400, "the session field must be a session number")
    session_id = int(raw)
    app_state = state()
    async with app_state.db.acquire() as conn:
        ended = await sessions.end_one(conn, account.id, session_id, app_state.clock.now())
    if not ended:
        raise Problem(404, "you have no such session")
    if session_id == current_session_id():
        await log_out()
        return redirect("/", 303)
    return redirect(url_for("accounts.settings_page", notice="session_ended"), 303)


@blueprint.route("/admin", methods=["GET", "POST"])
async def admin() -> str | WerkzeugResponse:
    """The admin's page: open or close registration, see the accounts."""
    if current_account() is None:
        return _login_redirect()
    require_admin()
    app_state = state()
    if request.method == "POST":
        form = await request.form
        notice = await admin_action(form.get("action", "registration"), form)
        return redirect(url_for("accounts.admin", notice=notice), 303)
    async with app_state.db.acquire() as conn:
        is_open = await accounts.registration_open(conn, app_state.settings.registration_open)
        members = await account_queries.select_accounts_page(conn, limit=200)
        policies = await moderation_queries.select_domain_policies(conn, limit=500)
        reports = await moderation_queries.select_open_reports(conn, limit=100)
        vote_trusted = await moderation_queries.select_vote_trusted_domains(conn, limit=500)
        people = await known_actors(conn, app_state.urls, (r.reporter for r in reports))
    return await render_template(
        "admin.html",
        people=people,
        registration_open=is_open,
        members=members,
        policies=policies,
        reports=reports,
        vote_trusted=vote_trusted,
        notice=ADMIN_NOTICES.get(request.args.get("notice", "")),
    )


ADMIN_NOTICES = {
    "saved": lazy("Saved."),
    "quartier_added": lazy("The quartier was added; it has its own territory actor."),
    "quartier_failed": lazy("No served commune has this code, or the quartier exists already."),
    "aggregating": lazy("Follow request sent: its announces will appear in our territory pages."),
    "aggregate_failed": lazy("This is not a territory actor of another instance."),
    "no_territory": lazy("This instance serves no territory yet."),
    "policy_saved": lazy("Federation policy saved."),
    "policy_failed": lazy("Type a domain name such as example.org."),
}


async def admin_action(action: str, form: Any) -> str:
    """Carry out one admin form; the notice code to show."""
    if action == "registration":
        async with state().db.acquire() as conn:
            await account_queries.update_registration_open(conn, checked(form, "registration_open"))
        return "saved"
    if action in {"suspend", "allow", "lift"}:
        return await _set_domain_policy(action, form)
    if action in {"trust_votes", "distrust_votes"}:
        return await _set_vote_trust(action, form)
    root = await served_root()
    if root is None:
        return "no_territory"
    if action == "quartier":
        return await _add_quartier(root, form)
    if action == "aggregate":
        return await _aggregate(root, form)
    raise Problem(400, f"unknown admin action {action!r}")


async def _set_domain_policy(action: str, form: Any) -> str:
    """Suspend, allow or lift the form's domain."""
    domain = form.get("domain", "").strip().lower()
    if not domain or "/" in domain or " " in domain or "." not in domain:
        return "policy_failed"
    async with state().db.acquire() as conn:
        if action == "lift":
            await moderation_queries.delete_domain_policy(conn, domain)
        else:
            await moderation_queries.upsert_domain_policy(
                conn, domain, action, form.get("reason", "")[:500]
            )
    return "policy_saved"


async def _set_vote_trust(action: str, form: Any) -> str:
    """Count, or stop counting, the votes of the form's server."""
    authority = trusted_authority(form.get("domain", ""))
    if authority is None:
        return "policy_failed"
    app_state = state()
    async with app_state.db.acquire() as conn:
        if action == "trust_votes":
            await moderation_queries.insert_vote_trusted_domain(
                conn, authority, now=app_state.clock.now()
            )
        else:
            await moderation_queries.delete_vote_trusted_domain(conn, authority)
    return "policy_saved"


async def _add_quartier(root: Territory, form: Any) -> str:
    """Add a quartier to a commune and give it its territory actor."""
    commune = await resolve_place(form.get("commune", ""))
    if commune is None or commune.level != "commune":
        return "quartier_failed"
    async with state().db.acquire() as conn:
        try:
            quartier = await territory_queries.insert_quartier(
                conn, commune.id, form.get("name", "")[:100]
            )
        except ValueError:
            return "quartier_failed"
        if quartier is None:
            return "quartier_failed"
        await territory_service.prepare_served_actors(conn, root)
    return "quartier_added"


async def _aggregate(root: Territory, form: Any) -> str:
    """Have the served territory's actor follow a remote territory actor."""
    app_state = state()
    found = await find_actor(
        app_state.db,
        app_state.fed.directory,
        form.get("handle", ""),
        local_host=app_state.settings.host,
    )
    if not isinstance(found, RemoteActor) or found.type != "Group":
        return "aggregate_failed"
    async with app_state.db.acquire() as conn:
        actor = await territory_service.territory_actor(conn, root, keygen=app_state.keygen)
        await follows.follow(
            conn, actor=actor, target=found.uri, urls=app_state.urls, clock=app_state.clock
        )
    return "aggregating"


def _login_redirect() -> WerkzeugResponse:
    return redirect(url_for("accounts.login", next=request.path), 303)
