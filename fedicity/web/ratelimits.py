"""Rate limits at the door, over the shared counters of `fedicity.ratelimit`: HTML form POSTs
(one before-request hook), publications per account, and verified inbox deliveries per signing
domain. Every refusal is a 429 with Retry-After, the seconds to the end of the window.

The counters live in PostgreSQL, not in the process (as quart-rate-limiter's default store
does): every `fedicity web` process behind the proxy counts against the same windows, so
adding processes or machines does not multiply what one address may do.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from quart import Response, current_app, g, request

from fedicity.accounts import throttle
from fedicity.activitypub.accessors import host_of
from fedicity.db.pool import Connection
from fedicity.ratelimit.limiter import Limit, hit
from fedicity.web.app import AppState, state
from fedicity.web.clientip import client_ip
from fedicity.web.errors import Problem
from fedicity.web.i18n import gettext, lazy
from fedicity.web.session import check_csrf, current_account

View = TypeVar("View", bound=Callable[..., object])
_OWN_LIMIT_MARK = "fedicity_own_rate_limit"
EXPORTS_THROTTLED = lazy("Too many downloads in a short time. Try again in %(seconds)s s.")
FORMS_THROTTLED = lazy("Too many forms sent in a short time. Try again in %(seconds)s s.")


class TooMany(Problem):
    """A 429 whose answer carries Retry-After."""

    def __init__(self, retry_after: int, detail: str, reason: str) -> None:
        super().__init__(429, detail, extra={"reason": reason})
        self.retry_after = retry_after

    def get_headers(self, *args: object, **kwargs: object) -> list[tuple[str, str]]:
        """The usual headers, and when to come back."""
        headers = list(super().get_headers(*args, **kwargs))  # type: ignore[arg-type]
        return [*headers, ("Retry-After", str(self.retry_after))]


def limited_on_its_own(view: View) -> View:
    """Mark a view (under its route decorator) whose own, tighter limits replace the forms'
    limit (login, sign-up)."""
    setattr(view, _OWN_LIMIT_MARK, True)
    return view


def _is_html_form_post() -> bool:
    """A POST to a blueprint whose forms carry the CSRF token: those are the HTML forms."""
    if request.method != "POST" or request.blueprint is None:
        return False
    hooks = current_app.before_request_funcs.get(request.blueprint, [])
    if check_csrf not in hooks:
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return view is not None and not getattr(view, _OWN_LIMIT_MARK, False)


async def limit_forms() -> None:
    """Count an HTML form POST against its account (its address when logged out)."""
    if not _is_html_form_post():
        return
    account = g.get("account")
    if account is not None and account.is_admin:
        # An admin working through a moderation queue may well click faster than once a
        # second, and is trusted with far more than forms anyway.
        return
    # Only a form with its token counts: a page elsewhere that makes a citizen's browser post
    # here cannot spend her budget (it gets the CSRF refusal instead).
    await check_csrf()
    app_state = state()
    # Per account when logged in: a hall of citizens voting on one wifi shares an address,
    # not an account; per address otherwise.
    subject = (
        f"account:{account.id}"
        if account is not None
        else "ip:" + throttle.address_subject(client_ip())
    )
    limit = Limit("form-post", app_state.settings.form_posts_per_minute, timedelta(minutes=1))
    async with app_state.db.acquire() as conn:
        verdict = await hit(conn, limit, subject, app_state.clock.now())
    if not verdict.allowed:
        detail = gettext(FORMS_THROTTLED, seconds=verdict.retry_after)
        raise TooMany(verdict.retry_after, detail, "rate_limited")


async def limit_heavy_export() -> None:
    """Count a download of a costly open-data file against the client's address; TooMany (429)
    past `heavy_exports_per_ten_minutes`. One budget for all of them: what costs is the CPU."""
    app_state = state()
    limit = Limit(
        "heavy-export", app_state.settings.heavy_exports_per_ten_minutes, timedelta(minutes=10)
    )
    subject = "ip:" + throttle.address_subject(client_ip())
    async with app_state.db.acquire() as conn:
        verdict = await hit(conn, limit, subject, app_state.clock.now())
    if not verdict.allowed:
        detail = gettext(EXPORTS_THROTTLED, seconds=verdict.retry_after)
        raise TooMany(verdict.retry_after, detail, "rate_limited")


async def posting_wait() -> int | None:
    """Count one publication by the logged-in account; seconds to wait when it is refused
    (None also when nobody is logged in: the view asks for a login)."""
    account = current_account()
    if account is None:
        return None
    app_state = state()
    settings = app_state.settings
    limits = throttle.posting_limits(settings.posts_per_ten_minutes, settings.posts_per_day)
    async with app_state.db.acquire() as conn:
        return await throttle.before_posting(conn, account.id, app_state.clock.now(), limits)


def too_fast(page: str, retry_after: int) -> Response:
    """The form page again (what was typed kept, the message shown) as a 429 with Retry-After."""
    response = Response(page, status=429, content_type="text/html; charset=utf-8")
    response.headers["Retry-After"] = str(retry_after)
    return response


async def inbox_refusal(app_state: AppState, conn: Connection, key_id: str) -> None:
    """Count a verified delivery against the domain whose key signed it; TooMany (429) when
    the domain is past its rate.

    Counted after the signature check, so a forger cannot spend another domain's budget (the
    price: a signature check per refused delivery, with the key usually from the cache)."""
    origin = host_of(key_id)
    limit = Limit("inbox-domain", app_state.settings.inbox_rate_per_domain, timedelta(minutes=1))
    verdict = await hit(conn, limit, origin, app_state.clock.now())
    if not verdict.allowed:
        raise TooMany(
            verdict.retry_after,
            f"{origin} sent more than {limit.limit} activities this minute; "
            f"retry in {verdict.retry_after} s",
            "rate_limited",
        )
