"""SQL for located items: storing them with their scope, and the scope and radius queries."""

from __future__ import annotations

import math
from datetime import datetime

from fedicity.db.pool import Connection, record_dict
from fedicity.located.models import LocatedItem, NewItem

_COLUMNS = """id, object_uri, kind, territory_id, latitude, longitude, title, summary, url,
              author_uri, origin_host, via, published, starts_at"""
_ITEM_COLUMNS = ", ".join(f"li.{c.strip()}" for c in _COLUMNS.split(","))
EARTH_RADIUS_KM = 6371.0088


def _shown(alias: str = "") -> str:
    """Items whose origin, author and announcer are on no silenced or suspended domain (the
    policy is read per statement, so lifting it shows them again; the map once, then looked up
    row by row; nothing at all when no domain is limited)."""
    a = f"{alias}." if alias else ""
    return f"""(NOT EXISTS (SELECT 1 FROM domain_policies WHERE action IN ('silence', 'suspend'))
                OR NOT (domain_hidden({a}object_uri, (SELECT domain_policy_map()))
                        OR domain_hidden({a}author_uri, (SELECT domain_policy_map()))
                        OR domain_hidden(coalesce({a}via, ''), (SELECT domain_policy_map()))))"""


def shown(alias: str) -> str:
    """SQL true for the located item `alias` when no silenced or suspended domain hides it: for
    the packages whose lists join located_items (points of interest)."""
    return _shown(alias)


def viewer_hides(owner: str, actor: str, *, notifications: bool = False) -> str:
    """SQL true when the local actor whose row id is `owner` blocks or mutes `actor`, or blocks
    its domain (migration 0022; each test a primary-key probe). With `notifications`, only mutes
    that hide notifications count. It lives here, the lowest package whose listings need it:
    posts and notifications, above, build their filters with it too."""
    muted = " AND um.notifications" if notifications else ""
    return f"""(EXISTS (SELECT 1 FROM user_blocks ub
                          WHERE ub.owner_id = {owner} AND ub.target = {actor})
             OR EXISTS (SELECT 1 FROM user_mutes um
                         WHERE um.owner_id = {owner} AND um.target = {actor}{muted})
             OR EXISTS (SELECT 1 FROM user_domain_blocks ud
                         WHERE ud.owner_id = {owner} AND ud.domain = uri_authority({actor})))"""


def _item(row: object) -> LocatedItem:
    return LocatedItem(**record_dict(row))  # type: ignore[arg-type]


async def upsert_item(conn: Connection, item: NewItem) -> LocatedItem:
    """Store (or refresh) a located item; its scope is its territory and every ancestor."""
    row = await conn.fetchrow(
        f"""INSERT INTO located_items (object_uri, kind, territory_id, scope_ids, latitude,
                                       longitude, title, summary, url, author_uri, origin_host,
                                       via, published, starts_at)
            VALUES ($1, $2, $3,
                    ARRAY(SELECT ancestor_id FROM territory_ancestors WHERE descendant_id = $3),
                    $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            ON CONFLICT (object_uri) DO UPDATE SET
                territory_id = EXCLUDED.territory_id, scope_ids = EXCLUDED.scope_ids,
                latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude,
                title = EXCLUDED.title, summary = EXCLUDED.summary, url = EXCLUDED.url,
                starts_at = EXCLUDED.starts_at, deleted_at = NULL
            WHERE located_items.author_uri = EXCLUDED.author_uri
            RETURNING {_COLUMNS}""",
        item.object_uri,
        item.kind,
        item.territory_id,
        item.latitude,
        item.longitude,
        item.title,
        item.summary,
        item.url,
        item.author_uri,
        item.origin_host,
        item.via,
        item.published,
        item.starts_at,
    )
    if row is None:
        existing = await select_item(conn, item.object_uri)
        assert existing is not None
        return existing
    return _item(row)


async def select_item(conn: Connection, object_uri: str) -> LocatedItem | None:
    """The located item of an object."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM located_items WHERE object_uri = $1 AND deleted_at IS NULL",
        object_uri,
    )
    return None if row is None else _item(row)


async def mark_deleted(conn: Connection, object_uri: str, when: datetime) -> bool:
    """Take an item out of every scope (its object was deleted)."""
    result = await conn.execute(
        "UPDATE located_items SET deleted_at = $2 WHERE object_uri = $1 AND deleted_at IS NULL",
        object_uri,
        when,
    )
    return result != "UPDATE 0"


async def mark_deleted_via(conn: Connection, object_uri: str, *, via: str, when: datetime) -> bool:
    """Take an item out of every scope when it came through `via`'s Announce (taken back)."""
    result = await conn.execute(
        """UPDATE located_items SET deleted_at = $3
            WHERE object_uri = $1 AND via = $2 AND deleted_at IS NULL""",
        object_uri,
        via,
        when,
    )
    return result != "UPDATE 0"


# Accounts the moderators silenced or suspended (actor_restrictions, migration 0023) are kept
# off the territories' pages and the map; their followers still see them in their feeds.
_UNRESTRICTED = """NOT EXISTS (SELECT 1 FROM actor_restrictions r
                                WHERE r.actor_uri = {alias}.author_uri)"""


async def select_in_scope(
    conn: Connection,
    territory_id: int,
    *,
    limit: int,
    kind: str | None = None,
    before: tuple[datetime, int] | None = None,
    viewer_id: int | None = None,
) -> list[LocatedItem]:
    """Items located in a territory or below it, newest first, keyset-paged; without those a
    local viewer (its actor row) hides: author or announcer blocked, muted or domain-blocked."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM located_items
             WHERE scope_ids @> ARRAY[$1::bigint] AND deleted_at IS NULL
               AND {_UNRESTRICTED.format(alias="located_items")}
               AND ($2::text IS NULL OR kind = $2) AND {_shown()}
               AND ($3::timestamptz IS NULL OR (published, id) < ($3, $4))
               AND ($6::bigint IS NULL OR NOT (
                        {viewer_hides("$6", "author_uri")}
                     OR {viewer_hides("$6", "via")}))
             ORDER BY published DESC, id DESC
             LIMIT $5""",
        territory_id,
        kind,
        before[0] if before else None,
        before[1] if before else None,
        limit,
        viewer_id,
    )
    return [_item(row) for row in rows]


async def select_upcoming_in_scope(
    conn: Connection,
    territory_id: int,
    now: datetime,
    *,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> list[LocatedItem]:
    """Events located in a territory or below it that have not ended, soonest first,
    keyset-paged by (start, id): `after` is the last one of the page seen."""
    # The end lives in the events table (every event item has its row there); an event without
    # an end is upcoming until it starts, as on the agenda.
    rows = await conn.fetch(
        f"""SELECT {_ITEM_COLUMNS} FROM located_items li
              LEFT JOIN events e ON e.uri = li.object_uri AND e.deleted_at IS NULL
             WHERE li.scope_ids @> ARRAY[$1::bigint] AND li.deleted_at IS NULL
               AND {_UNRESTRICTED.format(alias="li")}
               AND li.kind = 'event' AND li.starts_at IS NOT NULL AND {_shown("li")}
               AND coalesce(e.ends_at, li.starts_at) >= $2
               AND ($3::timestamptz IS NULL OR (li.starts_at, li.id) > ($3, $4))
             ORDER BY li.starts_at, li.id
             LIMIT $5""",
        territory_id,
        now,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_item(row) for row in rows]


def bounding_box(
    latitude: float, longitude: float, radius_km: float
) -> tuple[float, float, float, float]:
    """(min lat, max lat, min lon, max lon) enclosing a circle, for the indexed prefilter."""
    delta_lat = math.degrees(radius_km / EARTH_RADIUS_KM)
    cos_lat = max(math.cos(math.radians(latitude)), 1e-6)
    delta_lon = min(180.0, math.degrees(radius_km / (EARTH_RADIUS_KM * cos_lat)))
    return latitude - delta_lat, latitude + delta_lat, longitude - delta_lon, longitude + delta_lon


async def select_near(
    conn: Connection,
    latitude: float,
    longitude: float,
    radius_km: float,
    *,
    limit: int,
    kind: str | None = None,
    before: tuple[datetime, int] | None = None,
) -> list[LocatedItem]:
    """Items within `radius_km` of a point, newest first: a box on the index, then the circle."""
    min_lat, max_lat, min_lon, max_lon = bounding_box(latitude, longitude, radius_km)
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM located_items
             WHERE deleted_at IS NULL AND latitude BETWEEN $1 AND $2
               AND {_UNRESTRICTED.format(alias="located_items")}
               AND longitude BETWEEN $3 AND $4
               AND 2 * $9::float8 * asin(sqrt(
                     power(sin(radians(latitude - $5) / 2), 2)
                   + cos(radians($5)) * cos(radians(latitude))
                     * power(sin(radians(longitude - $6) / 2), 2))) <= $10
               AND ($7::text IS NULL OR kind = $7) AND {_shown()}
               AND ($8::timestamptz IS NULL OR (published, id) < ($8, $11))
             ORDER BY published DESC, id DESC
             LIMIT $12""",
        min_lat,
        max_lat,
        min_lon,
        max_lon,
        latitude,
        longitude,
        kind,
        before[0] if before else None,
        EARTH_RADIUS_KM,
        radius_km,
        before[1] if before else None,
        limit,
    )
    return [_item(row) for row in rows]


async def select_placed(
    conn: Connection, scope_id: int | None, *, kind: str, limit: int
) -> list[LocatedItem]:
    """Items of one kind with coordinates, located in the scope or below it (anywhere when
    `scope_id` is None), newest first."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM located_items
             WHERE deleted_at IS NULL AND kind = $2 AND {_shown()}
               AND {_UNRESTRICTED.format(alias="located_items")}
               AND latitude IS NOT NULL AND longitude IS NOT NULL
               AND ($1::bigint IS NULL OR scope_ids @> ARRAY[$1::bigint])
             ORDER BY published DESC, id DESC
             LIMIT $3""",
        scope_id,
        kind,
        limit,
    )
    return [_item(row) for row in rows]


async def select_listed(
    conn: Connection,
    *,
    limit: int,
    scope_id: int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    tag: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    before: tuple[datetime, int] | None = None,
) -> list[LocatedItem]:
    """Located items as the public API lists them, newest first, keyset-paged: in a scope (or
    anywhere), of a kind, published in [since, until), with a tag (the event's, proposal's or
    post's), in a box (min lon, min lat, max lon, max lat); what territory pages hide stays out."""
    rows = await conn.fetch(
        f"""SELECT {_ITEM_COLUMNS} FROM located_items li
             WHERE li.deleted_at IS NULL
               AND {_UNRESTRICTED.format(alias="li")} AND {_shown("li")}
               AND ($1::bigint IS NULL OR li.scope_ids @> ARRAY[$1::bigint])
               AND ($2::text IS NULL OR li.kind = $2)
               AND ($3::timestamptz IS NULL OR li.published >= $3)
               AND ($4::timestamptz IS NULL OR li.published < $4)
               AND ($5::text IS NULL
                    OR EXISTS (SELECT 1 FROM events e
                                WHERE e.uri = li.object_uri AND $5 = ANY (e.tags))
                    OR EXISTS (SELECT 1 FROM proposals p
                                WHERE p.uri = li.object_uri AND $5 = ANY (p.tags))
                    OR EXISTS (SELECT 1 FROM posts po JOIN post_tags pt ON pt.post_id = po.id
                                WHERE po.uri = li.object_uri AND pt.tag = $5))
               AND ($6::float8 IS NULL
                    OR (li.longitude BETWEEN $6 AND $8 AND li.latitude BETWEEN $7 AND $9))
               AND ($10::timestamptz IS NULL OR (li.published, li.id) < ($10, $11))
             ORDER BY li.published DESC, li.id DESC
             LIMIT $12""",
        scope_id,
        kind,
        since,
        until,
        tag,
        *(bbox or (None, None, None, None)),
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return [_item(row) for row in rows]
