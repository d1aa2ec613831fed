"""Content negotiation: ActivityStreams for servers, HTML for browsers, problem JSON otherwise."""

from __future__ import annotations

from quart import Request

from fedicity.activitypub.vocab import AP_MEDIA_TYPES

_HTML = "text/html"


def wants_activitypub(request: Request) -> bool:
    """Whether the client asked for an ActivityStreams document rather than a page."""
    best = request.accept_mimetypes.best_match([_HTML, *AP_MEDIA_TYPES])
    return best in AP_MEDIA_TYPES and request.accept_mimetypes[best] > 0


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
        (q for value, q in accept if value.lower().endswith("json")),
        default=0,
    )
    return html_quality >= json_quality
