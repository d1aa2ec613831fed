"""Remote actor documents, read tolerantly into the columns we keep."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from fedicity.activitypub.accessors import (
    as_list,
    get_id,
    get_ids,
    get_str,
    get_type,
    get_web_url,
    host_of,
)
from fedicity.actors.models import RemoteActorData
from fedicity.sanitize import safe_url, sanitize_html

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})


class ActorParseError(ValueError):
    """The document is not an actor we can talk to."""


def _main_key(document: Mapping[str, Any]) -> tuple[str | None, str | None]:
    # Most servers publish one key object; some publish a list. Prefer one owned by the actor.
    actor_id = get_id(document)
    for key in as_list(document.get("publicKey")):
        if isinstance(key, Mapping) and isinstance(key.get("publicKeyPem"), str):
            owner = get_id(key.get("owner"))
            if owner in (None, actor_id):
                return get_id(key), key["publicKeyPem"]
    return None, None


def _icon_url(document: Mapping[str, Any], base: str) -> str | None:
    for icon in as_list(document.get("icon")):
        url = get_id(icon.get("url")) if isinstance(icon, Mapping) else get_id(icon)
        if isinstance(icon, Mapping) and url is None:
            url = get_str(icon, "href")
        if url:
            # Relative icons are resolved against the actor; an icon is an <img src>, so one
            # that is not http(s) is passed over for the next.
            found = safe_url(urljoin(base, url))
            if found is not None:
                return found
    return None


def parse_remote_actor(document: Mapping[str, Any], fetched_at: datetime) -> RemoteActorData:
    """Extract a remote actor, or raise ActorParseError saying what is missing."""
    uri = get_id(document)
    if uri is None:
        raise ActorParseError("the actor has no id")
    if safe_url(uri) is None:
        raise ActorParseError("the actor's id is not an http(s) URL")
    actor_type = get_type(document)
    if actor_type not in ACTOR_TYPES:
        raise ActorParseError(f"{actor_type!r} is not an actor type")
    inbox = get_id(document.get("inbox"))
    if inbox is None:
        raise ActorParseError("the actor has no inbox")
    if safe_url(inbox) is None:
        raise ActorParseError("the actor's inbox is not an http(s) URL")
    endpoints = document.get("endpoints")
    shared_inbox = (
        safe_url(get_id(endpoints.get("sharedInbox"))) if isinstance(endpoints, Mapping) else None
    )
    key_id, pem = _main_key(document)
    name = get_str(document, "name") or ""
    return RemoteActorData(
        uri=uri,
        domain=host_of(uri),
        type=actor_type,
        username=get_str(document, "preferredUsername"),
        display_name=name[:200],
        summary_html=sanitize_html(get_str(document, "summary") or "")[:20000],
        url=get_web_url(document.get("url")),
        icon_url=_icon_url(document, uri),
        inbox=inbox,
        shared_inbox=shared_inbox,
        followers_uri=get_id(document.get("followers")),
        key_id=key_id,
        public_key_pem=pem,
        manually_approves_followers=document.get("manuallyApprovesFollowers") is True,
        also_known_as=tuple(get_ids(document.get("alsoKnownAs"))),
        moved_to=get_id(document.get("movedTo")),
        raw=dict(document),
        fetched_at=fetched_at,
    )
