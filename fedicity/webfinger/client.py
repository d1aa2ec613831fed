"""WebFinger client: acct:user@host -> the actor's id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fedicity.activitypub.accessors import as_list, get_str
from fedicity.activitypub.fetch import FetchError, FetchFailure, fetch_document
from fedicity.activitypub.fetcher import Fetcher

JRD_ACCEPT = "application/jrd+json, application/json"
JRD_TYPES = frozenset({"application/jrd+json", "application/json"})
_AP_TYPES = ("application/activity+json", "application/ld+json")


@dataclass(frozen=True)
class WebFingerFailure:
    """Why no actor id came back; `gone` when the host says the account is no more."""

    reason: str
    detail: str
    gone: bool = False


SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"


async def _fetch_jrd(fetcher: Fetcher, user: str, host: str) -> dict[str, Any] | WebFingerFailure:
    """The WebFinger document of acct:user@host (https, and plain http where private addresses
    are allowed: loopback development and tests run peers over plain HTTP)."""
    resource = quote(f"acct:{user}@{host}", safe=":@")
    schemes = ["https"]
    if fetcher.policy.allow_private_addresses:
        schemes.append("http")
    last: FetchError | None = None
    for scheme in schemes:
        fetched = await fetch_document(
            fetcher.client,
            f"{scheme}://{host}/.well-known/webfinger?resource={resource}",
            policy=fetcher.policy,
            accept=JRD_ACCEPT,
            user_agent=fetcher.user_agent,
            content_types=JRD_TYPES,
            check_origin=False,
            # The federation policy holds for WebFinger too: no request to a refused domain.
            refuse_host=fetcher.refuse_host,
        )
        if isinstance(fetched, FetchError):
            last = fetched
            if fetched.reason in {FetchFailure.CONNECTION_ERROR, FetchFailure.TIMEOUT}:
                continue
            break
        return fetched.document
    assert last is not None
    return WebFingerFailure(last.reason.value, last.detail, gone=last.status in {404, 410})


async def resolve_acct(fetcher: Fetcher, user: str, host: str) -> str | WebFingerFailure:
    """The actor id behind @user@host, from the host's WebFinger document."""
    document = await _fetch_jrd(fetcher, user, host)
    if isinstance(document, WebFingerFailure):
        return document
    for link in as_list(document.get("links")):
        if not isinstance(link, dict) or link.get("rel") != "self":
            continue
        media = (get_str(link, "type") or "").split(";")[0].strip()
        href = get_str(link, "href")
        if href and media in _AP_TYPES:
            return href
    return WebFingerFailure("no_actor_link", f"{host} knows @{user} but gives no actor link")


async def subscribe_template(fetcher: Fetcher, user: str, host: str) -> str | WebFingerFailure:
    """The OStatus subscribe template ("...?uri={uri}") @user@host's server gives in its
    WebFinger document: where its users follow an account found elsewhere."""
    document = await _fetch_jrd(fetcher, user, host)
    if isinstance(document, WebFingerFailure):
        return document
    for link in as_list(document.get("links")):
        if not isinstance(link, dict) or link.get("rel") != SUBSCRIBE_REL:
            continue
        template = get_str(link, "template")
        if template and "{uri}" in template:
            return template
    return WebFingerFailure("no_subscribe_link", f"{host} gives no subscribe template for @{user}")
