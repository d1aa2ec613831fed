"""Full-text search: the typed text checked, parsed once, and run against the kinds asked for."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from typing import Any

from fedicity.db.pool import Connection
from fedicity.sanitize import html_to_text
from fedicity.search import queries
from fedicity.search.models import (
    MAX_QUERY_CHARS,
    ActorHit,
    Cursor,
    Kind,
    Page,
    PostHit,
    Results,
    SearchRefusal,
)
from fedicity.urls import Urls

EXCERPT_CHARS = 280


def _clean(text: str) -> str:
    """Control characters as spaces: PostgreSQL text cannot hold NUL, and none is a word."""
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)


def check_query(text: str) -> SearchRefusal | None:
    """Why typed text cannot be searched (too long, no letter or digit), or None."""
    if len(text) > MAX_QUERY_CHARS:
        return SearchRefusal("too_long")
    if not any(ch.isalnum() for ch in text):
        return SearchRefusal("no_words")
    return None


def _actor(row: dict[str, Any], urls: Urls) -> ActorHit:
    local = bool(row["local"])
    summary = str(row["summary"] or "")
    return ActorHit(
        key=row["key"],
        score=row["score"],
        uri=urls.actor(row["username"]) if local else row["uri"],
        local=local,
        kind=row["kind"],
        username=row["username"],
        name=row["name"] or row["username"] or "",
        domain=row["domain"],
        url=row["url"],
        # A remote summary is HTML; ours is plain text already.
        summary=_excerpt(summary if local else html_to_text(summary)),
        territory_level=row["territory_level"],
        territory_code=row["territory_code"],
    )


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1].rstrip() + "…"


def _post(row: dict[str, Any]) -> PostHit:
    content = row.pop("content_html")
    return PostHit(**row, excerpt=_excerpt(html_to_text(content)))


def _page(hits: list[Any], limit: int) -> Page[Any]:
    """The first `limit` hits, and the cursor after the last when one more was found."""
    shown = hits[:limit]
    more = len(hits) > limit and shown
    return Page(shown, Cursor(shown[-1].score, shown[-1].key) if more else None)


async def search(
    conn: Connection,
    text: str,
    *,
    urls: Urls,
    kinds: Collection[Kind],
    limit: int,
    after: Cursor | None = None,
) -> Results | SearchRefusal:
    """The best `limit` hits of each kind asked for (after the cursor), or why the text cannot
    be searched."""
    refused = check_query(text)
    if refused is not None:
        return refused
    content, names = await queries.parse_query(conn, _clean(text))
    if not names:
        return SearchRefusal("no_words")
    found: dict[str, Page[Any]] = {}
    # One row more than shown says whether there is a next page.
    wanted = limit + 1
    if "actors" in kinds:
        rows = await queries.search_actors(conn, names, after=after, limit=wanted)
        found["actors"] = _page([_actor(row, urls) for row in rows], limit)
    if content:
        if "events" in kinds:
            events = await queries.search_events(conn, content, after=after, limit=wanted)
            found["events"] = _page(events, limit)
        if "proposals" in kinds:
            proposals = await queries.search_proposals(conn, content, after=after, limit=wanted)
            found["proposals"] = _page(proposals, limit)
        if "posts" in kinds:
            rows = await queries.search_posts(conn, content, after=after, limit=wanted)
            found["posts"] = _page([_post(row) for row in rows], limit)
    return Results(**found, common_words_only=not content)
