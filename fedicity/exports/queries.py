"""SQL of the exports that reads several packages' tables at once: the organisations'
directory with their territory, and the public posts a territory's feed shows."""

from __future__ import annotations

from fedicity.db.pool import Connection
from fedicity.exports.models import DirectoryEntry


async def select_directory(
    conn: Connection,
    *,
    scope_id: int | None,
    unplaced_in_scope: bool,
    limit: int,
    placed_only: bool = False,
) -> list[DirectoryEntry]:
    """Discoverable local organisations, by name, with their contacts: those whose home
    territory is the scope or below it (all when `scope_id` is None), and those with none when
    `unplaced_in_scope`; only those with a point, or a home commune with a known centre, when
    `placed_only` (the map). Those the moderators silenced or suspended stay out, as from the
    directory page."""
    rows = await conn.fetch(
        """SELECT a.username, coalesce(nullif(a.display_name, ''), a.username) AS name,
                  a.organization_kind, o.official_id_kind, o.official_id_value,
                  o.latitude, o.longitude, t.level AS territory_level,
                  t.code AS territory_code, t.name AS territory_name,
                  o.address, o.postal_code, o.website, o.email,
                  CASE WHEN t.level = 'commune' THEN t.latitude END AS centre_latitude,
                  CASE WHEN t.level = 'commune' THEN t.longitude END AS centre_longitude
             FROM actors a
             LEFT JOIN organizations o ON o.actor_id = a.id
             LEFT JOIN territories t ON t.id = a.home_territory_id
            WHERE a.kind = 'organization' AND a.discoverable AND a.deleted_at IS NULL
              AND a.organization_kind IS DISTINCT FROM 'project'
              AND NOT EXISTS (SELECT 1 FROM actor_restrictions r WHERE r.local_actor_id = a.id)
              AND (NOT $4 OR (o.latitude IS NOT NULL AND o.longitude IS NOT NULL)
                   OR (t.level = 'commune' AND t.latitude IS NOT NULL))
              AND ($1::bigint IS NULL
                   OR a.home_territory_id IN (SELECT descendant_id FROM territory_ancestors
                                               WHERE ancestor_id = $1)
                   OR ($2 AND a.home_territory_id IS NULL))
            ORDER BY lower(coalesce(nullif(a.display_name, ''), a.username)), a.id
            LIMIT $3""",
        scope_id,
        unplaced_in_scope,
        limit,
        placed_only,
    )
    return [DirectoryEntry(**dict(row.items())) for row in rows]


async def select_public_html(conn: Connection, uris: list[str]) -> dict[str, str]:
    """The sanitised HTML of those of these posts that are public, by id."""
    rows = await conn.fetch(
        """SELECT uri, content_html FROM posts
            WHERE uri = ANY($1::text[]) AND deleted_at IS NULL AND visibility = 'public'""",
        uris,
    )
    return {row["uri"]: row["content_html"] for row in rows}


async def tag_known(conn: Connection, tag: str) -> bool:
    """Whether a public event or post carries this hashtag (lower-cased)."""
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM events
                           WHERE tags @> ARRAY[$1::text] AND deleted_at IS NULL AND public)
               OR EXISTS (SELECT 1 FROM post_tags WHERE tag = $1)""",
        tag,
    )
    return found
