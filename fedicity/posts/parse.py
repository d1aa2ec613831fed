"""Remote posts read from ActivityStreams into the columns we keep (pure: no database)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedicity.activitypub.accessors import (
    as_list,
    audience,
    get_id,
    get_str,
    get_type,
    get_web_url,
    host_of,
    is_public,
)
from fedicity.activitypub.dates import parse_datetime
from fedicity.posts.models import POST_TYPES, PostData, Visibility
from fedicity.sanitize import safe_url, sanitize_html

MAX_CONTENT = 100_000
MAX_MENTIONS = 100
MAX_TAGS = 50


@dataclass(frozen=True)
class Refusal:
    """Why a remote object cannot be kept."""

    reason: str


def authored_id(document: Mapping[str, Any], author: str) -> str | Refusal:
    """The object's id, when it is an http(s) URL on its author's host (only that host can
    vouch for it); else why not."""
    uri = get_id(document)
    if uri is None:
        return Refusal("the object has no id")
    if safe_url(uri) is None:
        return Refusal("the object's id is not an http(s) URL")
    if host_of(uri) != host_of(author):
        return Refusal("the object is not on its author's host")
    return uri


def visibility_of(to: list[str], cc: list[str], followers_uri: str | None) -> Visibility:
    """Read a remote post's visibility back from its addressing."""
    if any(is_public(uri) for uri in to):
        return "public"
    if any(is_public(uri) for uri in cc):
        return "unlisted"
    if followers_uri is not None and followers_uri in to + cc:
        return "followers"
    if any(uri.endswith("/followers") for uri in to + cc):
        return "followers"
    return "direct"


def _content_and_language(document: Mapping[str, Any], object_type: str) -> tuple[str, str | None]:
    # Some servers send only contentMap; a Page (Lemmy) may have nothing but its name.
    content = get_str(document, "content") or ""
    content_map = document.get("contentMap")
    language = None
    if isinstance(content_map, Mapping) and content_map:
        language, first = next(iter(content_map.items()))
        content = content or (first if isinstance(first, str) else "")
    if not content and object_type == "Page":
        content = get_str(document, "name") or ""
    return content, language if isinstance(language, str) else None


def _tags_of_type(document: Mapping[str, Any], tag_type: str) -> list[Mapping[str, Any]]:
    return [
        tag
        for tag in as_list(document.get("tag"))
        if isinstance(tag, Mapping) and get_type(tag) == tag_type
    ]


def _mentions(document: Mapping[str, Any]) -> tuple[str, ...]:
    hrefs = (get_id(tag.get("href")) for tag in _tags_of_type(document, "Mention"))
    return tuple(href for href in hrefs if href is not None)[:MAX_MENTIONS]


def _hashtags(document: Mapping[str, Any]) -> tuple[str, ...]:
    names = (tag.get("name") for tag in _tags_of_type(document, "Hashtag"))
    tags = (name.lstrip("#").lower() for name in names if isinstance(name, str) and name.strip("#"))
    return tuple(dict.fromkeys(tags))[:MAX_TAGS]


def post_from_ap(
    document: Mapping[str, Any], *, author: str, followers_uri: str | None, now: datetime
) -> PostData | str:
    """A remote post's columns, or the reason it cannot be stored."""
    object_type = get_type(document)
    if object_type not in POST_TYPES:
        return f"{object_type!r} is not a post type"
    uri = authored_id(document, author)
    if isinstance(uri, Refusal):
        return uri.reason
    to, cc = audience(document)
    content, language = _content_and_language(document, object_type)
    return PostData(
        uri=uri,
        author_uri=author,
        local_actor_id=None,
        type=object_type,
        name=(get_str(document, "name") or None) if object_type != "Note" else None,
        summary=get_str(document, "summary") or None,
        content_html=sanitize_html(content[:MAX_CONTENT]),
        in_reply_to=get_id(document.get("inReplyTo")),
        url=get_web_url(document.get("url")),
        visibility=visibility_of(to, cc, followers_uri),
        to_uris=to,
        cc_uris=cc,
        sensitive=document.get("sensitive") is True,
        language=language,
        published=parse_datetime(document.get("published")) or now,
        updated=parse_datetime(document.get("updated")),
        raw=dict(document),
        mentions=_mentions(document),
        tags=_hashtags(document),
    )
