"""Dataclasses for posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

Visibility = Literal["public", "unlisted", "followers", "direct"]
VISIBILITIES: tuple[Visibility, ...] = get_args(Visibility)
POST_TYPES = frozenset({"Note", "Article", "Page", "Question"})


@dataclass(frozen=True)
class Post:
    """A post by any actor; `local_actor_id` is set for ours."""

    id: int
    uri: str
    author_uri: str
    local_actor_id: int | None
    type: str
    name: str | None
    summary: str | None
    content_html: str
    in_reply_to: str | None
    url: str | None
    visibility: Visibility
    to_uris: list[str]
    cc_uris: list[str]
    sensitive: bool
    language: str | None
    published: datetime
    updated: datetime | None
    deleted_at: datetime | None
    raw: dict[str, Any] | None


@dataclass(frozen=True)
class FeedEntry:
    """A post as shown in a feed, with who boosted it when it came as a boost."""

    post: Post
    boosted_by: str | None
    sort_at: datetime


@dataclass(frozen=True)
class PostData:
    """What we store of a post before it has a row id."""

    uri: str
    author_uri: str
    local_actor_id: int | None
    type: str
    name: str | None
    summary: str | None
    content_html: str
    in_reply_to: str | None
    url: str | None
    visibility: Visibility
    to_uris: list[str]
    cc_uris: list[str]
    sensitive: bool
    language: str | None
    published: datetime
    updated: datetime | None
    raw: dict[str, Any] | None
    mentions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
