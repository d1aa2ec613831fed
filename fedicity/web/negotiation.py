"""Content negotiation: ActivityStreams for servers, HTML for browsers, problem JSON otherwise."""

from __future__ import annotations

from quart import Request
from werkzeug.datastructures import MIMEAccept

from fedicity.activitypub.vocab import AP_MEDIA_TYPES, LD_JSON_PROFILE

_HTML = "text/html"
# Accept items only match offers with the same parameters, so the profiled JSON-LD type that
# ActivityPub clients send (`application/ld+json; profile="...activitystreams"`) is offered too.
_AP_OFFERS = (*AP_MEDIA_TYPES, LD_JSON_PROFILE)


def wants_activitypub(request: Request) -> bool:
    """Whether the client asked for an ActivityStreams document rather than a page."""
    return accepts_activitypub(request.accept_mimetypes)


def accepts_activitypub(accept: MIMEAccept) -> bool:
    """Whether an Accept header prefers an ActivityStreams document to a page."""
    best = accept.best_match([_HTML, *_AP_OFFERS])
    return best in _AP_OFFERS and accept[best] > 0


def wants_html(request: Request) -> bool:
    """Whether the client named text/html explicitly (a browser), not just */*."""
    accept = request.accept_mimetypes
    html_quality = max(
        (q for value, q in accept if value.lower() in {_HTML, "application/xhtml+xml"}),
        default=0,
    )
    if html_quality <= 0:
        return False
    json_quality = max(
        # Parameters off first: `application/ld+json; profile="..."` is JSON too.
        (q for value, q in accept if value.split(";")[0].strip().lower().endswith("json")),
        default=0,
    )
    return html_quality >= json_quality
