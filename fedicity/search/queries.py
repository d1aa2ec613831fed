"""SQL of the search: the typed text made a tsquery, one ranked, keyset-paged statement per kind,
and what a typed address names among the rows we keep; connection first.

The tsvectors are columns migrations/0015_search.sql generates; `search_fold` (accents, plural
s) runs on the typed text here as it ran on the documents there. A kind's statement takes the
parsed query as text (`$1::text::tsquery`), so the text is parsed once per search, the GIN index
serves the match and the rank reads the stored vector.

What a visitor may see: local actors that are discoverable, cached remote ones not deleted, not
marked undiscoverable and not on a suspended or silenced domain; public events not deleted;
proposals out of draft; public (not unlisted) posts not deleted, whose author lets them be
indexed (our `discoverable`, published as `indexable`; a remote actor's `indexable: false`).
"""

from __future__ import annotations

from typing import Any

from fedicity.db.pool import Connection, record_dict
from fedicity.search.models import Cursor, EventHit, ProposalHit

# Scores are ts_rank scaled to integers: a cursor holds them exactly, and ties fall to the key.
_SCALE = 1_000_000


def _not_limited(uri: str) -> str:
    """The most specific domain policy of the URI's host (or a parent domain) is neither a
    suspension nor a silence (Mastodon's "limit": kept out of search as out of public pages;
    a typed address still finds it). The policies are read once per statement, and not at all
    when no domain is limited."""
    return f"""(NOT EXISTS (SELECT 1 FROM domain_policies
                             WHERE action IN ('suspend', 'silence'))
                OR NOT domain_hidden({uri}, (SELECT domain_policy_map())))"""


def _paged(inner: str) -> str:
    """Rank-ordered rows of `inner` after the cursor ($2 score, $3 key), at most $4."""
    return f"""SELECT * FROM ({inner}) AS found
                WHERE $2::bigint IS NULL OR (score, key) < ($2::bigint, $3::bigint)
                ORDER BY score DESC, key DESC LIMIT $4"""


async def parse_query(conn: Connection, text: str) -> tuple[str, str]:
    """The typed text as two tsqueries (as text): French-stemmed for every kind, and the same
    OR'ed with the words as typed for names; '' for one with no word left."""
    row = await conn.fetchrow(
        """SELECT fr::text AS content,
                  CASE WHEN numnode(fr || simple) = 0 THEN '' ELSE (fr || simple)::text END
                    AS names
             FROM websearch_to_tsquery('french', search_fold($1)) AS fr,
                  websearch_to_tsquery('simple', search_fold($1)) AS simple""",
        text,
    )
    assert row is not None
    return str(row["content"]), str(row["names"])


def _after(cursor: Cursor | None) -> tuple[int | None, int | None]:
    return (cursor.score, cursor.key) if cursor is not None else (None, None)


async def search_actors(
    conn: Connection, query: str, *, after: Cursor | None, limit: int
) -> list[dict[str, Any]]:
    """Local and cached remote actors matching a names query, best first. A local actor's key
    is its row id doubled, a remote one's that plus one: one integer orders both tables."""
    rows = await conn.fetch(
        _paged(
            f"""SELECT a.id * 2 AS key,
                       (ts_rank(a.search_vector, q) * {_SCALE})::bigint AS score,
                       true AS local,
                       CASE WHEN a.organization_kind = 'project' THEN 'project' ELSE a.kind END,
                       a.username, a.display_name AS name,
                       NULL::text AS domain, NULL::text AS uri, NULL::text AS url,
                       a.summary, t.level AS territory_level, t.code AS territory_code
                  FROM actors a
                  CROSS JOIN CAST($1::text AS tsquery) AS q
                  LEFT JOIN territories t ON t.id = a.territory_id
                 WHERE a.search_vector @@ q
                   AND a.kind IN ('person', 'organization', 'territory') AND a.discoverable
                UNION ALL
                SELECT r.id * 2 + 1,
                       (ts_rank(r.search_vector, q) * {_SCALE})::bigint,
                       false,
                       CASE WHEN r.raw ->> 'kind' = 'Project' THEN 'project' ELSE lower(r.type) END,
                       r.username, r.display_name,
                       r.domain, r.uri, r.url, r.summary_html, NULL, NULL
                  FROM remote_actors r
                  CROSS JOIN CAST($1::text AS tsquery) AS q
                 WHERE r.search_vector @@ q AND r.deleted_at IS NULL
                   AND r.type IN ('Person', 'Group', 'Organization', 'Service')
                   AND coalesce(r.raw ->> 'discoverable', '') <> 'false'
                   AND {_not_limited("r.uri")}"""
        ),
        query,
        *_after(after),
        limit,
    )
    return [record_dict(row) for row in rows]


async def search_events(
    conn: Connection, query: str, *, after: Cursor | None, limit: int
) -> list[EventHit]:
    """Public events matching, best first."""
    rows = await conn.fetch(
        _paged(
            f"""SELECT e.id AS key,
                       (ts_rank(e.search_vector, q) * {_SCALE})::bigint AS score,
                       e.uri, e.token, e.title, e.url, e.starts_at, e.ends_at, e.timezone,
                       e.all_day, concat_ws(', ', e.place_name, e.locality) AS place, e.status,
                       e.organizer_uri
                  FROM events e CROSS JOIN CAST($1::text AS tsquery) AS q
                 WHERE e.search_vector @@ q AND e.deleted_at IS NULL AND e.public
                   AND (e.local_actor_id IS NOT NULL OR {_not_limited("e.uri")})"""
        ),
        query,
        *_after(after),
        limit,
    )
    return [EventHit(**record_dict(row)) for row in rows]


async def search_proposals(
    conn: Connection, query: str, *, after: Cursor | None, limit: int
) -> list[ProposalHit]:
    """Proposals out of draft matching, best first."""
    rows = await conn.fetch(
        _paged(
            f"""SELECT p.id AS key,
                       (ts_rank(p.search_vector, q) * {_SCALE})::bigint AS score,
                       p.uri, p.token, p.title, p.state, p.author_uri, p.published
                  FROM proposals p CROSS JOIN CAST($1::text AS tsquery) AS q
                 WHERE p.search_vector @@ q AND p.state <> 'draft'
                   AND (p.local_actor_id IS NOT NULL OR {_not_limited("p.uri")})"""
        ),
        query,
        *_after(after),
        limit,
    )
    return [ProposalHit(**record_dict(row)) for row in rows]


async def search_posts(
    conn: Connection, query: str, *, after: Cursor | None, limit: int
) -> list[dict[str, Any]]:
    """Public posts matching, best first, with their HTML (the caller makes the excerpt)."""
    rows = await conn.fetch(
        _paged(
            f"""SELECT p.id AS key,
                       (ts_rank(p.search_vector, q) * {_SCALE})::bigint AS score,
                       p.uri, p.url, p.local_actor_id IS NOT NULL AS local, p.author_uri,
                       p.published, p.name, p.summary, p.content_html
                  FROM posts p
                  CROSS JOIN CAST($1::text AS tsquery) AS q
                  LEFT JOIN actors a ON a.id = p.local_actor_id
                  LEFT JOIN remote_actors r
                         ON p.local_actor_id IS NULL AND r.uri = p.author_uri
                 WHERE p.search_vector @@ q AND p.visibility = 'public' AND p.deleted_at IS NULL
                   AND CASE WHEN p.local_actor_id IS NOT NULL THEN a.discoverable
                            ELSE coalesce(r.raw ->> 'indexable', '') <> 'false'
                                 AND {_not_limited("p.uri")} END"""
        ),
        query,
        *_after(after),
        limit,
    )
    return [record_dict(row) for row in rows]


async def select_remote_actor_uri_by_address(conn: Connection, address: str) -> str | None:
    """The cached remote actor whose id or profile page is this address."""
    found = await conn.fetchval(
        """SELECT uri FROM remote_actors
            WHERE (uri = $1 OR url = $1) AND deleted_at IS NULL
            ORDER BY uri = $1 DESC, fetched_at DESC LIMIT 1""",
        address,
    )
    return None if found is None else str(found)


async def select_post_uri_by_address(conn: Connection, address: str) -> str | None:
    """The public or unlisted post we keep whose id or web page is this address."""
    found = await conn.fetchval(
        """SELECT uri FROM posts
            WHERE (uri = $1 OR url = $1) AND deleted_at IS NULL
              AND visibility IN ('public', 'unlisted')
            ORDER BY uri = $1 DESC, id DESC LIMIT 1""",
        address,
    )
    return None if found is None else str(found)


async def select_event_uri_by_address(conn: Connection, address: str) -> str | None:
    """The public event we keep whose id or web page is this address."""
    found = await conn.fetchval(
        """SELECT uri FROM events
            WHERE (uri = $1 OR url = $1) AND deleted_at IS NULL AND public
            ORDER BY uri = $1 DESC, id DESC LIMIT 1""",
        address,
    )
    return None if found is None else str(found)
