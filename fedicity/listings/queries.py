"""SQL for listings: storing them, one by its id or token, the paged and filtered lists, and
the expired ones housekeeping takes out of the located items."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from fedicity.db.pool import Connection, record_dict
from fedicity.listings.models import Listing, ListingData

_FIELDS = tuple(ListingData.__dataclass_fields__)
_COLUMNS = ", ".join((*_FIELDS, "id", "deleted_at"))
_L_COLUMNS = ", ".join(f"l.{c}" for c in (*_FIELDS, "id", "deleted_at"))


def _listing(row: object) -> Listing:
    return Listing(**record_dict(row))  # type: ignore[arg-type]


async def upsert_listing(conn: Connection, data: ListingData) -> Listing | None:
    """Store a listing or replace what it says; None when the row is another author's."""
    values = asdict(data)
    placeholders = ", ".join(f"${i}" for i in range(1, len(_FIELDS) + 1))
    updated = ", ".join(
        f"{name} = EXCLUDED.{name}" for name in _FIELDS if name not in ("uri", "published")
    )
    row = await conn.fetchrow(
        f"""INSERT INTO listings ({", ".join(_FIELDS)}) VALUES ({placeholders})
            ON CONFLICT (uri) DO UPDATE SET {updated}, unlocated_at = NULL
            WHERE listings.author_uri = EXCLUDED.author_uri AND listings.deleted_at IS NULL
            RETURNING {_COLUMNS}""",
        *(values[name] for name in _FIELDS),
    )
    return None if row is None else _listing(row)


async def select_listing(conn: Connection, uri: str) -> Listing | None:
    """The listing with this id, deleted or not."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM listings WHERE uri = $1", uri)
    return None if row is None else _listing(row)


async def select_by_token(conn: Connection, token: str) -> Listing | None:
    """A local listing by its token, deleted or not."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM listings WHERE token = $1", token)
    return None if row is None else _listing(row)


async def mark_deleted(conn: Connection, uri: str, author_uri: str, when: datetime) -> bool:
    """Tombstone a listing of this author; False when there was none to delete."""
    result = await conn.execute(
        """UPDATE listings SET deleted_at = $3
            WHERE uri = $1 AND author_uri = $2 AND deleted_at IS NULL""",
        uri,
        author_uri,
        when,
    )
    return result != "UPDATE 0"


async def delete_listings_of(conn: Connection, author_uri: str, when: datetime) -> int:
    """Tombstone every listing of an author (a closed account, a remote actor deleted) and take
    them out of the located items; how many were live."""
    count: int = await conn.fetchval(
        """WITH gone AS (
               UPDATE listings SET deleted_at = $2
                WHERE author_uri = $1 AND deleted_at IS NULL
               RETURNING uri),
           unlocated AS (
               UPDATE located_items li SET deleted_at = $2
                 FROM gone
                WHERE li.object_uri = gone.uri AND li.deleted_at IS NULL)
           SELECT count(*) FROM gone""",
        author_uri,
        when,
    )
    return count


async def select_live(
    conn: Connection,
    now: datetime,
    *,
    limit: int,
    scope_id: int | None = None,
    kind: str | None = None,
    section: str | None = None,
    category: str | None = None,
    text: str | None = None,
    before: tuple[datetime, int] | None = None,
) -> list[Listing]:
    """Listings not deleted nor expired, newest first, keyset-paged: in a territory or below it,
    of a kind, section and category, whose title or description has the words of a text (as
    the search reads them: accents, case and plurals folded); the authors the moderators
    silenced or suspended, and the servers they limit, left out, as on the territories' pages."""
    rows = await conn.fetch(
        f"""SELECT {_L_COLUMNS} FROM listings l
             WHERE l.deleted_at IS NULL AND l.expires_at > $1
               AND NOT EXISTS (SELECT 1 FROM actor_restrictions r
                                WHERE r.actor_uri = l.author_uri)
               AND (NOT EXISTS (SELECT 1 FROM domain_policies
                                 WHERE action IN ('silence', 'suspend'))
                    OR NOT domain_hidden(l.uri, (SELECT domain_policy_map())))
               AND ($2::bigint IS NULL OR l.territory_id IN (
                        SELECT descendant_id FROM territory_ancestors WHERE ancestor_id = $2))
               AND ($3::text IS NULL OR l.kind = $3)
               AND ($4::text IS NULL OR l.section = $4)
               AND ($5::text IS NULL OR l.category = $5)
               AND ($6::text IS NULL
                    OR l.search_vector @@ websearch_to_tsquery('french', search_fold($6)))
               AND ($7::timestamptz IS NULL OR (l.published, l.id) < ($7, $8))
             ORDER BY l.published DESC, l.id DESC
             LIMIT $9""",
        now,
        scope_id,
        kind,
        section,
        category,
        text,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return [_listing(row) for row in rows]


async def unlocate_expired(conn: Connection, now: datetime, *, limit: int) -> int:
    """Take up to `limit` listings that expired out of the located items (scope queries, the
    map, the API); their rows stay, so renewing locates them again. How many were taken."""
    rows = await conn.fetch(
        """WITH expired AS (
               UPDATE listings SET unlocated_at = $1
                WHERE id IN (SELECT id FROM listings
                              WHERE deleted_at IS NULL AND unlocated_at IS NULL
                                AND expires_at <= $1
                              ORDER BY expires_at LIMIT $2)
               RETURNING uri, expires_at)
           UPDATE located_items li SET deleted_at = expired.expires_at
             FROM expired
            WHERE li.object_uri = expired.uri AND li.deleted_at IS NULL
           RETURNING expired.uri""",
        now,
        limit,
    )
    return len(rows)
