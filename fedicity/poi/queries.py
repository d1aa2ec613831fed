"""SQL of points of interest (migration 0036)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fedicity.db.pool import Connection
from fedicity.located import queries as located_queries
from fedicity.poi.models import Address, Photo, Place, PlaceData

_COLUMNS = """id, token, uri, url, kind, name, description_source, description_html, latitude,
              longitude, street, postal_code, locality, territory_id, photos, author_uri,
              local_actor_id, local, via, raw, published, updated, deleted_at"""
_P_COLUMNS = ", ".join(f"p.{c.strip()}" for c in _COLUMNS.split(","))


def _photos(value: Any) -> tuple[Photo, ...]:
    items = json.loads(value) if isinstance(value, str) else value
    return tuple(
        Photo(p["url"], p["mediaType"], p.get("width"), p.get("height")) for p in items or []
    )


def _place(row: Any) -> Place:
    raw = row["raw"]
    return Place(
        id=row["id"],
        token=row["token"],
        uri=row["uri"],
        url=row["url"],
        kind=row["kind"],
        name=row["name"],
        description_source=row["description_source"],
        description_html=row["description_html"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        address=Address(row["street"], row["postal_code"], row["locality"]),
        territory_id=row["territory_id"],
        photos=_photos(row["photos"]),
        author_uri=row["author_uri"],
        local_actor_id=row["local_actor_id"],
        local=row["local"],
        via=row["via"],
        raw=json.loads(raw) if isinstance(raw, str) else raw,
        published=row["published"],
        updated=row["updated"],
        deleted_at=row["deleted_at"],
    )


def _photos_json(photos: tuple[Photo, ...]) -> list[dict[str, Any]]:
    return [
        {"url": p.url, "mediaType": p.media_type, "width": p.width, "height": p.height}
        for p in photos
    ]


async def upsert_place(conn: Connection, data: PlaceData) -> Place | None:
    """Store a point of interest, or replace it when it is its author's (None otherwise: only
    the author changes a place). A deleted one stays deleted."""
    row = await conn.fetchrow(
        f"""INSERT INTO points_of_interest (token, uri, url, kind, name, description_source,
                description_html, latitude, longitude, street, postal_code, locality,
                territory_id, photos, author_uri, local_actor_id, local, via, raw, published,
                updated)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                    $16, $17, $18, $19, $20, $21)
            ON CONFLICT (uri) DO UPDATE SET
                url = EXCLUDED.url, kind = EXCLUDED.kind, name = EXCLUDED.name,
                description_source = EXCLUDED.description_source,
                description_html = EXCLUDED.description_html, latitude = EXCLUDED.latitude,
                longitude = EXCLUDED.longitude, street = EXCLUDED.street,
                postal_code = EXCLUDED.postal_code, locality = EXCLUDED.locality,
                territory_id = EXCLUDED.territory_id, photos = EXCLUDED.photos,
                via = coalesce(EXCLUDED.via, points_of_interest.via), raw = EXCLUDED.raw,
                updated = EXCLUDED.updated
            WHERE points_of_interest.author_uri = EXCLUDED.author_uri
              AND points_of_interest.deleted_at IS NULL
            RETURNING {_COLUMNS}""",
        data.token,
        data.uri,
        data.url,
        data.kind,
        data.name,
        data.description_source,
        data.description_html,
        data.latitude,
        data.longitude,
        data.address.street,
        data.address.postal_code,
        data.address.locality,
        data.territory_id,
        _photos_json(data.photos),
        data.author_uri,
        data.local_actor_id,
        data.local,
        data.via,
        data.raw,
        data.published,
        data.updated,
    )
    return None if row is None else _place(row)


async def select_place(conn: Connection, uri: str) -> Place | None:
    """A point of interest by its id (deleted ones too: their pages answer 410)."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM points_of_interest WHERE uri = $1", uri)
    return None if row is None else _place(row)


async def select_place_by_token(conn: Connection, token: str) -> Place | None:
    """One of ours by the token of its id."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM points_of_interest WHERE token = $1", token)
    return None if row is None else _place(row)


async def mark_deleted(conn: Connection, uri: str, author_uri: str, when: datetime) -> bool:
    """Delete a point of interest (its author's); False when it was not there or not theirs."""
    result = await conn.execute(
        """UPDATE points_of_interest SET deleted_at = $3
            WHERE uri = $1 AND author_uri = $2 AND deleted_at IS NULL""",
        uri,
        author_uri,
        when,
    )
    return result != "UPDATE 0"


async def select_in_scope(
    conn: Connection,
    scope_id: int,
    *,
    limit: int,
    kind: str | None = None,
    before: tuple[datetime, int] | None = None,
) -> list[Place]:
    """Points of interest located in a territory or below it (as the scope queries see them:
    not deleted, by no restricted account, from no silenced or suspended domain), of a kind or
    all, newest first, keyset-paged."""
    rows = await conn.fetch(
        f"""SELECT {_P_COLUMNS} FROM points_of_interest p
              JOIN located_items li ON li.object_uri = p.uri AND li.deleted_at IS NULL
             WHERE li.scope_ids @> ARRAY[$1::bigint] AND p.deleted_at IS NULL
               AND ($2::text IS NULL OR p.kind = $2)
               AND NOT EXISTS (SELECT 1 FROM actor_restrictions r
                                WHERE r.actor_uri = p.author_uri)
               AND {located_queries.shown("li")}
               AND ($3::timestamptz IS NULL OR (p.published, p.id) < ($3, $4))
             ORDER BY p.published DESC, p.id DESC
             LIMIT $5""",
        scope_id,
        kind,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return [_place(row) for row in rows]


async def select_kinds(conn: Connection, uris: list[str]) -> dict[str, str]:
    """The kind of each point of interest named (for the map's markers)."""
    rows = await conn.fetch(
        "SELECT uri, kind FROM points_of_interest WHERE uri = ANY($1::text[])", uris
    )
    return {row["uri"]: row["kind"] for row in rows}
