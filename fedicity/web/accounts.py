"""Sign-up, login, logout, account settings and the admin's registration switch."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

from quart import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from fedicity.accounts import (
    api_tokens,
    closing,
    export,
    passwords,
    profile,
    resets,
    sessions,
    suspension,
    throttle,
)
from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.accounts.models import Account
from fedicity.accounts.profile import ProfileForm, ProfileRefused
from fedicity.actors import queries as actor_queries
from fedicity.actors.document import actor_to_ap, avatar_url
from fedicity.actors.lookup import find_actor
from fedicity.actors.models import Actor, RemoteActor
from fedicity.actors.service import ActorError
from fedicity.audit import queries as audit_queries
from fedicity.follows import service as follows
from fedicity.imports import queries as import_queries
from fedicity.mail.sender import MailQueue, mailer_for, text_message
from fedicity.media.models import MediaError
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.policy import trusted_authority
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.territories.models import Territory
from fedicity.web.admin import admin_actor
from fedicity.web.app import state
from fedicity.web.clientip import client_ip
from fedicity.web.errors import Problem, problem_response
from fedicity.web.forms import checked, local_path
from fedicity.web.i18n import LOCALES, gettext, lazy, translations_for
from fedicity.web.limits import accepts_two_uploads
from fedicity.web.media import read_upload
from fedicity.web.messages import message, query_error
from fedicity.web.negotiation import wants_html
from fedicity.web.ratelimits import limited_on_its_own
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
    # Only same-site paths: an open redirect after login is a phishing tool.
    return local_path(target) or LANDING


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
@limited_on_its_own
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
@limited_on_its_own
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
        retry_after = await throttle.before_login(
            conn,
            login_name,
            ip,
            app_state.clock.now(),
            per_minute=app_state.settings.login_attempts_per_minute,
        )
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
    async with app_state.db.acquire() as conn:
        suspended = await suspension.is_suspended(conn, account.actor_id)
    if suspended:
        return (
            await render_template(
                "login.html", login=login_name, error=message("login_suspended"), next_url=next_url
            ),
            403,
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
    "token_revoked": lazy("That API token was revoked: programs using it are refused."),
}
_PROFILE_FIELDS = ("display_name", "summary", "home_territory", "locale")
_PROFILE_CHECKS = ("manually_approves_followers", "discoverable")


def _profile_values(actor: Actor, home_place: str, locale: str | None) -> dict[str, Any]:
    """The profile form as stored."""
    return {
        "display_name": actor.display_name,
        "summary": actor.summary,
        "home_territory": home_place,
        "locale": locale or "",
        "manually_approves_followers": actor.manually_approves_followers,
        "discoverable": actor.discoverable,
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
        tokens = await api_tokens.listed(conn, account.id)
        sole_admin_of = await closing.sole_admin_of(conn, app_state.urls, actor)
        calendars = [f[0] for f in await import_queries.select_feeds(conn, owner_actor_id=actor.id)]
    home_place = f"{home.level}:{home.code}" if home else ""
    return {
        "actor": actor,
        "account": account,
        "home_place": home_place,
        "form": _profile_values(actor, home_place, account.locale),
        "errors": {},
        "avatar_url": avatar_url(actor, app_state.urls),
        "banner_url": app_state.urls.media(actor.banner_name) if actor.banner_name else None,
        "max_upload_mib": max(1, app_state.settings.max_upload_bytes // (1024 * 1024)),
        "sessions": live_sessions,
        "current_session": current_session_id(),
        "api_tokens": tokens,
        "new_token": None,
        "token_error": None,
        "sole_admin_of": sole_admin_of,
        "calendars": calendars,
        "delete_error": None,
        "password_error": None,
    }


async def _settings_page(
    account: Account,
    actor: Actor | None = None,
    *,
    error: str | None = None,
    notice: str | None = None,
    **overrides: Any,
) -> str:
    """The settings page, with an error or a notice (and, after a refused form, what was typed
    and each field's error in `overrides`)."""
    context = await _settings_context(account, actor)
    context.update(overrides)
    shown = SETTINGS_NOTICES.get(notice or "")
    return await render_template(
        "settings.html", error=error, notice=gettext(shown) if shown else None, **context
    )


@blueprint.route("/settings", methods=["GET", "POST"])
@accepts_two_uploads
async def settings_page() -> str | WerkzeugResponse | tuple[str, int]:
    """Edit one's profile (pictures included), language and territory."""
    account = current_account()
    if account is None:
        return _login_redirect()
    app_state = state()
    if request.method == "GET":
        return await _settings_page(account, notice=request.args.get("notice"), error=query_error())
    form = await request.form
    typed: dict[str, Any] = {name: form.get(name, "") for name in _PROFILE_FIELDS}
    typed.update({name: checked(form, name) for name in _PROFILE_CHECKS})
    errors: dict[str, str] = {}
    uploads: dict[str, bytes] = {}
    files = await request.files
    for field in ("avatar", "banner"):
        try:
            uploads[field] = await read_upload(
                files, field, max_bytes=app_state.settings.max_upload_bytes
            )
        except MediaError as refused:
            errors[field] = refused.code
    place = await resolve_place(typed["home_territory"])
    profile_form = ProfileForm(
        display_name=typed["display_name"],
        summary=typed["summary"],
        manually_approves_followers=typed["manually_approves_followers"],
        discoverable=typed["discoverable"],
        home_territory_id=place.id if place is not None else None,
        locale=typed["locale"] or None,
        avatar=uploads.get("avatar", b""),
        banner=uploads.get("banner", b""),
        remove_avatar=checked(form, "remove_avatar"),
        remove_banner=checked(form, "remove_banner"),
        territory_error=(
            "territory_unknown" if typed["home_territory"].strip() and place is None else None
        ),
    )
    try:
        if errors:
            raise ProfileRefused(errors)
        actor = await profile.save_profile(
            app_state.db,
            account,
            profile_form,
            uploads=profile.Uploads(
                data_dir=app_state.settings.data_dir,
                max_bytes=app_state.settings.max_upload_bytes,
                quota_bytes=app_state.settings.upload_quota_bytes_per_day,
            ),
            urls=app_state.urls,
            clock=app_state.clock,
        )
    except ProfileRefused as refused:
        # Checks that did not run because an upload was refused first run now, so every field
        # says what is wrong with it at once.
        everything = {**_profile_errors(profile_form), **errors, **refused.errors}
        return await _settings_page(
            account,
            error=gettext(FORM_HAS_ERRORS),
            form=typed,
            errors={field: message(code) for field, code in everything.items()},
        ), 422
    app_state.actor_documents.pop(actor.username, None)
    return redirect(url_for("accounts.settings_page", notice="saved"), 303)


FORM_HAS_ERRORS = lazy("Nothing was saved: correct what is marked below.")


def _profile_errors(form: ProfileForm) -> dict[str, str]:
    """The text fields' errors alone (the pictures are checked when they are decoded)."""
    try:
        profile.check_texts(form)
    except ProfileRefused as refused:
        return refused.errors
    return {}


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
        retry_after = await throttle.before_login(
            conn,
            account.username,
            ip,
            app_state.clock.now(),
            per_minute=app_state.settings.login_attempts_per_minute,
        )
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


@blueprint.post("/settings/tokens")
async def create_api_token() -> Response | WerkzeugResponse:
    """Make a named API token; the page shows it once (only its hash is kept)."""
    account = current_account()
    if account is None:
        return _login_redirect()
    form = await request.form
    app_state = state()
    try:
        async with app_state.db.acquire() as conn:
            token = await api_tokens.create(
                conn, account.id, form.get("token_name", ""), now=app_state.clock.now()
            )
    except api_tokens.TokenError as error:
        page = await _settings_page(account, token_error=message(error.code))
        return Response(page, status=422, content_type="text/html; charset=utf-8")
    page = await _settings_page(account, new_token=token)
    response = Response(page, content_type="text/html; charset=utf-8")
    # The token is on this page only: no cache keeps it.
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/settings/tokens/revoke")
async def revoke_api_token() -> WerkzeugResponse:
    """Revoke one of one's API tokens."""
    account = current_account()
    if account is None:
        return _login_redirect()
    raw = (await request.form).get("token", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise Problem(400, "the token field must be a token number")
    app_state = state()
    async with app_state.db.acquire() as conn:
        revoked = await api_tokens.revoke(conn, account.id, int(raw), now=app_state.clock.now())
    if not revoked:
        raise Problem(404, "you have no such token")
    return redirect(url_for("accounts.settings_page", notice="token_revoked") + "#api-tokens", 303)


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
        vote_trusted = await moderation_queries.select_vote_trusted_domains(conn, limit=500)
    return await render_template(
        "admin.html",
        registration_open=is_open,
        members=members,
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
        is_open = checked(form, "registration_open")
        app_state = state()
        async with app_state.db.acquire() as conn, conn.transaction():
            await account_queries.update_registration_open(conn, is_open)
            await audit_queries.record(
                conn,
                admin_actor(),
                "registration.open" if is_open else "registration.close",
                now=app_state.clock.now(),
            )
        return "saved"
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


async def _set_vote_trust(action: str, form: Any) -> str:
    """Count, or stop counting, the votes of the form's server."""
    authority = trusted_authority(form.get("domain", ""))
    if authority is None:
        return "policy_failed"
    app_state = state()
    async with app_state.db.acquire() as conn, conn.transaction():
        if action == "trust_votes":
            await moderation_queries.insert_vote_trusted_domain(
                conn, authority, now=app_state.clock.now()
            )
        else:
            await moderation_queries.delete_vote_trusted_domain(conn, authority)
        await audit_queries.record(
            conn,
            admin_actor(),
            "votes.trust" if action == "trust_votes" else "votes.distrust",
            target=authority,
            now=app_state.clock.now(),
        )
    return "policy_saved"


async def _add_quartier(root: Territory, form: Any) -> str:
    """Add a quartier to a commune and give it its territory actor."""
    commune = await resolve_place(form.get("commune", ""))
    if commune is None or commune.level != "commune":
        return "quartier_failed"
    app_state = state()
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
        await audit_queries.record(
            conn,
            admin_actor(),
            "territory.add_quartier",
            target=f"{commune.code} {form.get('name', '')[:100]}",
            now=app_state.clock.now(),
        )
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
        await audit_queries.record(
            conn, admin_actor(), "territory.aggregate", target=found.uri, now=app_state.clock.now()
        )
    return "aggregating"


def _login_redirect() -> WerkzeugResponse:
    return redirect(url_for("accounts.login", next=request.path), 303)


# --- forgotten passwords ----------------------------------------------------------------------

RESET_SUBJECT = lazy("Your password on %(instance)s")
RESET_BODY = lazy(
    "Hello %(name)s,\n\n"
    "Someone, probably you, asked to choose a new password for your account @%(username)s "
    "on %(instance)s. To do so, open this link within an hour:\n\n"
    "%(link)s\n\n"
    "The link works once. If you did not ask for it, do nothing: your password stays as it is."
)


def mail_queue() -> MailQueue:
    """The app's queue of outgoing messages (made on first use, from the settings)."""
    extensions = current_app.extensions
    queue = extensions.get("fedicity_mail")
    if not isinstance(queue, MailQueue):
        queue = MailQueue(mailer_for(state().settings))
        extensions["fedicity_mail"] = queue
    return queue


@blueprint.after_app_serving
async def _drain_mail() -> None:
    queue = current_app.extensions.get("fedicity_mail")
    if isinstance(queue, MailQueue):
        await queue.drain()


def _reset_message(ticket: resets.Ticket) -> EmailMessage:
    """The link by e-mail, in the account's language (the instance's default when unset)."""
    app_state = state()
    locale = ticket.account.locale or app_state.settings.default_locale
    translate = translations_for(locale if locale in LOCALES else "fr").gettext
    link = app_state.urls.absolute(url_for("accounts.reset_password", token=ticket.token))
    assert ticket.account.email is not None
    return text_message(
        app_state.settings,
        to=ticket.account.email,
        subject=translate(RESET_SUBJECT) % {"instance": app_state.settings.instance_name},
        body=translate(RESET_BODY)
        % {
            "name": ticket.account.username,
            "username": ticket.account.username,
            "instance": app_state.settings.instance_name,
            "link": link,
        },
    )


@blueprint.route("/password/forgot", methods=["GET", "POST"])
async def forgot_password() -> str | Response | tuple[str, int]:
    """Ask for a link to choose a new password; the answer never says whether the address has
    an account here."""
    if request.method == "GET":
        return await render_template("password_forgot.html", email="", sent=False, error=None)
    form = await request.form
    typed = form.get("email", "")[:320]
    app_state = state()
    outcome = await resets.request_link(app_state.db, typed, client_ip(), app_state.clock.now())
    if isinstance(outcome, resets.Throttled):
        return await _too_many(outcome.retry_after, "password_forgot.html", email=typed, sent=False)
    if outcome is not None:
        mail_queue().submit(_reset_message(outcome))
    return await render_template("password_forgot.html", email=typed, sent=True, error=None)


async def _reset_form(token: str, *, error: str | None = None, status: int = 200) -> Response:
    body = await render_template("password_reset.html", token=token, error=error, live=True)
    return Response(body, status=status, content_type="text/html; charset=utf-8")


async def _dead_link() -> Response:
    """A used, expired or unknown link: a clear page with the way to a new one, never a 500
    (a problem document for programs)."""
    if not wants_html(request):
        return await problem_response(410, message("reset_link_invalid"))
    body = await render_template("password_reset.html", token="", error=None, live=False)
    return Response(body, status=410, content_type="text/html; charset=utf-8")


@blueprint.route("/password/reset/<token>", methods=["GET", "POST"])
async def reset_password(token: str) -> Response | WerkzeugResponse:
    """Choose a new password through an e-mailed link; every session ends, and this browser
    is logged in."""
    app_state = state()
    if request.method == "GET":
        if not await resets.link_is_live(app_state.db, token, app_state.clock.now()):
            return await _dead_link()
        return await _reset_form(token)
    form = await request.form
    password = form.get("password", "")
    if password != form.get("password_confirm", ""):
        if not await resets.link_is_live(app_state.db, token, app_state.clock.now()):
            return await _dead_link()
        return await _reset_form(token, error=message("passwords_differ"), status=422)
    try:
        account = await resets.reset_password(app_state.db, token, password, app_state.clock)
    except resets.ResetError:
        return await _dead_link()
    except ActorError as refused:
        if not await resets.link_is_live(app_state.db, token, app_state.clock.now()):
            return await _dead_link()
        return await _reset_form(token, error=message(refused.code), status=422)
    except passwords.HashBusy:
        return await _too_many(None, "password_reset.html", token=token, live=True)
    await log_in(account)
    return redirect(LANDING, 303)


# --- one's data -------------------------------------------------------------------------------


async def _own_actor() -> tuple[Account, Actor] | WerkzeugResponse:
    account = current_account()
    if account is None:
        return _login_redirect()
    async with state().db.acquire() as conn:
        actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert actor is not None
    return account, actor


def _download(body: bytes, content_type: str, filename: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/settings/export/archive.zip")
async def export_archive() -> Response | WerkzeugResponse:
    """Everything one published, one's actor, follows and calendar, as a zip made on the fly."""
    owned = await _own_actor()
    if not isinstance(owned, tuple):
        return owned
    _account, actor = owned
    app_state = state()
    document = actor_to_ap(actor, app_state.urls)

    async def pieces() -> AsyncIterator[bytes]:
        async for piece in export.archive(
            app_state.db,
            actor,
            document,
            app_state.urls,
            app_state.settings.host,
            stamp=app_state.clock.now(),
        ):
            if piece:
                yield piece

    response = Response(pieces(), content_type="application/zip")
    stamp = app_state.clock.now().strftime("%Y%m%d")
    response.headers["Content-Disposition"] = f'attachment; filename="{actor.username}-{stamp}.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/settings/export/following_accounts.csv")
async def export_following() -> Response | WerkzeugResponse:
    """Whom one follows, in Mastodon's import format."""
    owned = await _own_actor()
    if not isinstance(owned, tuple):
        return owned
    app_state = state()
    body = await export.following_csv(
        app_state.db, owned[1], app_state.urls, app_state.settings.host
    )
    return _download(body, "text/csv; charset=utf-8", "following_accounts.csv")


@blueprint.get("/settings/export/calendar.ics")
async def export_calendar() -> Response | WerkzeugResponse:
    """The events one organises and takes part in."""
    owned = await _own_actor()
    if not isinstance(owned, tuple):
        return owned
    app_state = state()
    body = await export.calendar_ics(
        app_state.db, owned[1], app_state.urls, stamp=app_state.clock.now()
    )
    return _download(body, "text/calendar; charset=utf-8", "calendar.ics")


# --- closing one's account --------------------------------------------------------------------


async def _closing_page(
    account: Account, actor: Actor, *, error: str | None = None, status: int = 200
) -> Response:
    app_state = state()
    async with app_state.db.acquire() as conn:
        lonely = await closing.sole_admin_of(conn, app_state.urls, actor)
    body = await render_template(
        "account_delete.html", actor=actor, account=account, sole_admin_of=lonely, error=error
    )
    return Response(body, status=status, content_type="text/html; charset=utf-8")


@blueprint.route("/settings/delete", methods=["GET", "POST"])
async def delete_account() -> Response | WerkzeugResponse:
    """Close one's account for good, after a confirmation with one's password."""
    owned = await _own_actor()
    if not isinstance(owned, tuple):
        return owned
    account, actor = owned
    if request.method == "GET":
        return await _closing_page(account, actor)
    form = await request.form
    app_state = state()
    ip = client_ip()
    async with app_state.db.acquire() as conn:
        retry_after = await throttle.before_login(
            conn,
            account.username,
            ip,
            app_state.clock.now(),
            per_minute=app_state.settings.login_attempts_per_minute,
        )
    if retry_after is not None:
        return await _too_many(
            retry_after, "account_delete.html", actor=actor, account=account, sole_admin_of=[]
        )
    try:
        right = await passwords.verify_password_async(
            account.password_hash, form.get("password", "")
        )
    except passwords.HashBusy:
        return await _too_many(
            None, "account_delete.html", actor=actor, account=account, sole_admin_of=[]
        )
    if not right:
        async with app_state.db.acquire() as conn:
            await throttle.login_failed(conn, account.username, ip, app_state.clock.now())
        return await _closing_page(account, actor, error=message("password_wrong"), status=422)
    try:
        await closing.close_account(
            app_state.db,
            account,
            urls=app_state.urls,
            clock=app_state.clock,
            data_dir=app_state.settings.data_dir,
        )
    except closing.ClosingRefused:
        return await _closing_page(account, actor, error=message("sole_admin"), status=409)
    app_state.actor_documents.pop(actor.username, None)
    session.clear()
    body = await render_template("account_deleted.html", handle=f"@{actor.username}")
    return Response(body, content_type="text/html; charset=utf-8")
