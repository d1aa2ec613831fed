"""Sign-up, login, logout, account settings and the admin's registration switch."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.lookup import find_actor
from fedicity.actors.models import RemoteActor
from fedicity.actors.service import ActorError
from fedicity.app import state
from fedicity.follows import service as follows
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.policy import trusted_authority
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.web.errors import Problem
from fedicity.web.i18n import LOCALES, gettext, lazy
from fedicity.web.session import (
    check_csrf,
    current_account,
    log_in,
    log_out,
    require_admin,
)
from fedicity.web.territories import resolve_place, served_root

blueprint = Blueprint("accounts", __name__)
blueprint.before_request(check_csrf)

ERROR_MESSAGES = {
    "username_invalid": lazy("A username has 1 to 30 characters: lower-case letters, digits, _."),
    "username_reserved": lazy("This username is reserved."),
    "username_taken": lazy("This username is already taken."),
    "email_invalid": lazy("This e-mail address does not look valid."),
    "email_taken": lazy("An account already uses this e-mail address."),
    "password_too_short": lazy("A password has at least 8 characters."),
    "password_too_long": lazy("This password is too long."),
    "passwords_differ": lazy("The two passwords differ."),
    "display_name_too_long": lazy("A name has at most 100 characters."),
    "summary_too_long": lazy("A description has at most 5000 characters."),
    "login_failed": lazy("Wrong username or password."),
    "password_wrong": lazy("The current password is wrong."),
    "territory_unknown": lazy("This place is not served by this instance."),
}


DEFAULT_ERROR = lazy("This request could not be completed.")


def _message(code: str) -> str:
    return gettext(ERROR_MESSAGES.get(code, DEFAULT_ERROR))


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
    return "/"


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
    if form.get("password", "") != form.get("password_confirm", ""):
        return await render_template(
            "signup.html", form=values, error=_message("passwords_differ")
        ), 422
    try:
        async with app_state.db.acquire() as conn:
            account = await accounts.register(
                conn,
                username=values["username"],
                password=form.get("password", ""),
                email=values["email"] or None,
                display_name=values["display_name"],
                keygen=app_state.keygen,
                locale=request.cookies.get("lang")
                if request.cookies.get("lang") in LOCALES
                else None,
            )
    except ActorError as error:
        return await render_template("signup.html", form=values, error=_message(error.code)), 422
    log_in(account)
    return redirect(app_state.urls.profile(account.username), 303)


@blueprint.route("/login", methods=["GET", "POST"])
async def login() -> str | WerkzeugResponse | tuple[str, int]:
    """Log in with a username (or e-mail) and password."""
    next_url = _safe_next(request.args.get("next"))
    if request.method == "GET":
        return await render_template("login.html", login="", error=None, next_url=next_url)
    form = await request.form
    login_name = form.get("login", "")
    app_state = state()
    async with app_state.db.acquire() as conn:
        account = await accounts.authenticate(
            conn, login_name, form.get("password", ""), app_state.clock
        )
    if account is None:
        return (
            await render_template(
                "login.html", login=login_name, error=_message("login_failed"), next_url=next_url
            ),
            401,
        )
    log_in(account)
    return redirect(_safe_next(form.get("next")), 303)


@blueprint.post("/logout")
async def logout() -> WerkzeugResponse:
    """End the session."""
    log_out()
    return redirect("/", 303)


@blueprint.route("/settings", methods=["GET", "POST"])
async def settings_page() -> str | WerkzeugResponse | tuple[str, int]:
    """Edit one's profile, language and password."""
    account = current_account()
    if account is None:
        return _login_redirect()
    app_state = state()
    async with app_state.db.acquire() as conn:
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert actor is not None
        home = (
            await territory_queries.select_territory_by_id(conn, actor.home_territory_id)
            if actor.home_territory_id is not None
            else None
        )
    home_place = f"{home.level}:{home.code}" if home else ""
    if request.method == "GET":
        return await render_template(
            "settings.html",
            actor=actor,
            account=account,
            error=None,
            saved=request.args.get("saved") == "1",
            home_place=home_place,
        )
    form = await request.form
    place = await resolve_place(form.get("home_territory", ""))
    if form.get("home_territory", "").strip() and place is None:
        page = await render_template(
            "settings.html",
            actor=actor,
            error=_message("territory_unknown"),
            saved=False,
            home_place=home_place,
        )
        return page, 422
    try:
        async with app_state.db.acquire() as conn, conn.transaction():
            actor = await actor_service.update_profile(
                conn,
                actor,
                display_name=form.get("display_name", ""),
                summary=form.get("summary", ""),
                manually_approves_followers=form.get("manually_approves_followers") == "on",
                discoverable=form.get("discoverable") == "on",
            )
            await actor_queries.update_home_territory(
                conn, actor.id, place.id if place is not None else None
            )
            locale = form.get("locale")
            await account_queries.update_locale(
                conn, account.id, locale if locale in LOCALES else None
            )
    except ActorError as error:
        return await render_template(
            "settings.html", actor=actor, error=_message(error.code), saved=False
        ), 422
    app_state.actor_documents.pop(actor.username, None)
    return redirect(url_for("accounts.settings_page", saved="1"), 303)


@blueprint.post("/settings/password")
async def change_password() -> str | WerkzeugResponse | tuple[str, int]:
    """Change one's password; other sessions end."""
    account = current_account()
    if account is None:
        return _login_redirect()
    form = await request.form
    app_state = state()
    async with app_state.db.acquire() as conn:
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
        checked = await accounts.authenticate(
            conn, account.username, form.get("current_password", ""), app_state.clock
        )
        error = None
        if checked is None:
            error = "password_wrong"
        elif form.get("password", "") != form.get("password_confirm", ""):
            error = "passwords_differ"
        else:
            try:
                await accounts.set_password(conn, account, form.get("password", ""))
            except ActorError as exc:
                error = exc.code
        if error is not None:
            page = await render_template(
                "settings.html", actor=actor, error=_message(error), saved=False
            )
            return page, 422
        refreshed = await account_queries.select_account_by_id(conn, account.id)
    assert refreshed is not None
    log_in(refreshed)
    return redirect(url_for("accounts.settings_page", saved="1"), 303)


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
    return await render_template(
        "admin.html",
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
    app_state = state()
    if action == "registration":
        async with app_state.db.acquire() as conn:
            await account_queries.update_registration_open(
                conn, form.get("registration_open") == "on"
            )
        return "saved"
    if action in {"suspend", "allow", "lift"}:
        domain = form.get("domain", "").strip().lower()
        if not domain or "/" in domain or " " in domain or "." not in domain:
            return "policy_failed"
        async with app_state.db.acquire() as conn:
            if action == "lift":
                await moderation_queries.delete_domain_policy(conn, domain)
            else:
                await moderation_queries.upsert_domain_policy(
                    conn, domain, action, form.get("reason", "")[:500]
                )
        return "policy_saved"
    if action in {"trust_votes", "distrust_votes"}:
        authority = trusted_authority(form.get("domain", ""))
        if authority is None:
            return "policy_failed"
        async with app_state.db.acquire() as conn:
            if action == "trust_votes":
                await moderation_queries.insert_vote_trusted_domain(
                    conn, authority, now=app_state.clock.now()
                )
            else:
                await moderation_queries.delete_vote_trusted_domain(conn, authority)
        return "policy_saved"
    root = await served_root()
    if root is None:
        return "no_territory"
    if action == "quartier":
        commune = await resolve_place(form.get("commune", ""))
        if commune is None or commune.level != "commune":
            return "quartier_failed"
        async with app_state.db.acquire() as conn:
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
    if action == "aggregate":
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
    raise Problem(400, f"unknown admin action {action!r}")


def _login_redirect() -> WerkzeugResponse:
    return redirect(url_for("accounts.login", next=request.path), 303)
