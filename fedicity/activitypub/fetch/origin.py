"""The origin rule: a document's id must have the origin (scheme, host, port) that served it."""

from __future__ import annotations

from typing import Any

import httpx


def host_of(url: httpx.URL) -> str:
    """The ASCII (IDNA) host of a URL, lower case, without a DNS root dot, for comparisons."""
    return url.raw_host.decode("ascii", errors="replace").lower().rstrip(".")


def origin_of(url: str | httpx.URL) -> str | None:
    """The origin of an http(s) URL as `scheme://host:port`, the default port written out.

    None for anything else (another scheme, no host, unparsable). Two URLs are same-origin when
    these strings are equal.
    """
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    host = host_of(parsed)
    return f"{parsed.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def origin_mismatch(document: dict[str, Any], final_url: httpx.URL) -> str | None:
    """Why the document's id does not belong to the origin that served it, or None when it does.

    Scheme, host and port are compared (the web's same-origin rule, default ports normalised).
    Hosts alone are not enough: whatever answers on another port of our host name (another
    service, another tenant) could otherwise serve a document with the id of one of our posts.
    """
    object_id = document.get("id")
    if not isinstance(object_id, str) or not object_id:
        return f"document from {final_url} has no id"
    id_origin = origin_of(object_id)
    if id_origin is None:
        return f"document id {object_id!r} is not an http(s) URL"
    served_by = origin_of(final_url)
    if id_origin != served_by:
        return f"document id {object_id} is not on {served_by}, which served it"
    return None
