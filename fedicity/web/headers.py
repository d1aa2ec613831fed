"""Security headers on every response, and the template helpers that keep stored URLs and HTML
safe to put in a page.

Pages get a Content-Security-Policy that runs only our own script files (static/: the map's,
over Leaflet; no inline script, no `on*=` attribute and no `javascript:` URL can run, even one
that slipped into stored data), loads styles only from our stylesheets (the templates have no
inline style, and sanitized HTML keeps no style attribute), lets no other site frame them
(clickjacking) and submits forms only to us. Images may also come from other servers over
https: remote event images and avatars are shown where they are, not copied, and the map's
OpenStreetMap tiles load in the browser. data: images are not allowed, since
nothing of ours needs them and remote URLs never keep them. A development instance served over
plain http also allows http images, since its peers are plain http too.

Everything else (ActivityStreams and problem documents, JRD, NodeInfo, the stylesheet, avatars)
gets a policy that allows nothing: such a document opened in a browser is data, never a page.
Uploaded media set their own sandboxing policy (web/media.py), which is kept.
"""

from __future__ import annotations

from typing import Final

from markupsafe import Markup
from quart import Quart, Response

from fedicity.sanitize import checked_html, safe_url
from fedicity.web.app import AppState

PAGE_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src {images}; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
DOCUMENT_POLICY: Final = "default-src 'none'; frame-ancestors 'none'"
# Where links lead from a page is the reader's business: other servers are not told, and our
# own pages still see where a click came from.
REFERRER_POLICY: Final = "same-origin"
# What a document's ASGI answer carries (web/inbox.py answers without Quart's hook below).
DOCUMENT_HEADERS: Final = (
    (b"content-security-policy", DOCUMENT_POLICY.encode("ascii")),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", REFERRER_POLICY.encode("ascii")),
)


def page_policy(scheme: str) -> str:
    """The Content-Security-Policy of an HTML page on an instance served over `scheme`."""
    images = "'self' https:" if scheme == "https" else "'self' https: http:"
    return PAGE_POLICY.format(images=images)


def web_url(*candidates: object) -> str | None:
    """The first candidate that is an http(s) URL (see sanitize.safe_url), for href and src."""
    for candidate in candidates:
        found = safe_url(candidate)
        if found is not None:
            return found
    return None


def stored_html(value: str | None) -> Markup:
    """Stored, sanitized HTML marked safe, re-sanitized if it holds a script-like link."""
    return Markup(checked_html(value or ""))  # noqa: S704 - sanitized by the one policy


def install(app: Quart) -> None:
    """Add the headers to every response and the helpers to templates."""
    app_state: AppState = app.extensions["fedicity"]
    policy = page_policy(app_state.settings.scheme)
    app.jinja_env.globals["web_url"] = web_url
    app.jinja_env.filters["stored_html"] = stored_html

    @app.after_request
    async def security_headers(response: Response) -> Response:
        headers = response.headers
        if "Content-Security-Policy" not in headers:
            is_page = (response.mimetype or "") == "text/html"
            headers["Content-Security-Policy"] = policy if is_page else DOCUMENT_POLICY
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = REFERRER_POLICY
        return response
