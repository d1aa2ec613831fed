"""SQL for import sources and provenance; connection first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fedicity.db.pool import Connection, record_dict
from fedicity.imports.models import Change, ImportSource, ObjectKind, Provenance, SourceKind

_SOURCE_COLUMNS = (
    "id, kind, label, url, owner_actor_id, created_by, created_at, active, next_fetch_at,"
    " locked_until, attempts, last_fetched_at, last_error, etag, last_modified, detect_format,"
    " last_report"
)
_PROVENANCE_COLUMNS = (
    "id, source_id, source_label, object_kind, object_id, external_id, row_number,"
    " content_hash, first_imported_at, imported_at"
)


async def ensure_source(
    conn: Connection,
    kind: SourceKind,
    label: str,
    *,
    url: str | None = None,
    owner_actor_id: int | None = None,
    created_by: int | None = None,
    now: datetime,
) -> ImportSource:
    """The source of this kind, label and owner, made on first use: a file applied again under
    the same name is the same source, so its rows are recognised."""
    row = await conn.fetchrow(
        f"""INSERT INTO import_sources (kind, label, url, owner_actor_id, created_by, created_at,
                                        next_fetch_at)
            VALUES ($1, $2, $3, $4, $5, $6::timestamptz,
                    CASE WHEN $3::text IS NULL THEN NULL ELSE $6::timestamptz END)
            ON CONFLICT (kind, label, owner_actor_id)
               DO UPDATE SET url = EXCLUDED.url
            RETURNING {_SOURCE_COLUMNS}""",
        kind,
        label,
        url,
        owner_actor_id,
        created_by,
        now,
    )
    assert row is not None  # an upsert returns its row
    return ImportSource(**record_dict(row))


async def select_source(conn: Connection, source_id: int) -> ImportSource | None:
    """One source by id."""
    row = await conn.fetchrow(
        f"SELECT {_SOURCE_COLUMNS} FROM import_sources WHERE id = $1", source_id
    )
    return None if row is None else ImportSource(**record_dict(row))


async def select_imported(conn: Connection, source_id: int, external_id: str) -> Provenance | None:
    """What a source's row (by its identity there) became, if it was imported before."""
    row = await conn.fetchrow(
        f"""SELECT {_PROVENANCE_COLUMNS} FROM provenance
             WHERE source_id = $1 AND external_id = $2""",
        source_id,
        external_id,
    )
    return None if row is None else Provenance(**record_dict(row))


async def select_source_rows(conn: Connection, source_id: int) -> list[Provenance]:
    """Every row a source made, in the order it was last read."""
    rows = await conn.fetch(
        f"""SELECT {_PROVENANCE_COLUMNS} FROM provenance WHERE source_id = $1
             ORDER BY row_number NULLS LAST, id""",
        source_id,
    )
    return [Provenance(**record_dict(row)) for row in rows]


async def record_provenance(
    conn: Connection,
    source: ImportSource,
    object_kind: ObjectKind,
    object_id: int,
    *,
    external_id: str,
    row_number: int | None,
    content_hash: str,
    now: datetime,
) -> Change:
    """Write where a row came from, in the caller's transaction (it stands or falls with the
    import), and say whether its content is new, changed or the same as last time."""
    before = await conn.fetchrow(
        """SELECT content_hash, object_id FROM provenance
            WHERE source_id = $1 AND external_id = $2 FOR UPDATE""",
        source.id,
        external_id,
    )
    await record_provenance_rows(
        conn, source, object_kind, [(object_id, external_id, row_number, content_hash)], now=now
    )
    if before is None:
        return "created"
    if before["content_hash"] == content_hash and before["object_id"] == object_id:
        return "unchanged"
    return "updated"


async def provenance_of(
    conn: Connection, object_kind: ObjectKind, object_id: int
) -> list[Provenance]:
    """Where a row came from, the latest import first (a page shows these)."""
    rows = await conn.fetch(
        f"""SELECT {_PROVENANCE_COLUMNS} FROM provenance
             WHERE object_kind = $1 AND object_id = $2
             ORDER BY imported_at DESC, id DESC""",
        object_kind,
        object_id,
    )
    return [Provenance(**record_dict(row)) for row in rows]


# Followed feeds (iCalendar, OpenAgenda JSON): the admins' list, the worker's lease.

FEED_KINDS = ("ical", "openagenda")


async def select_feed(conn: Connection, url: str, owner_actor_id: int) -> ImportSource | None:
    """The feed at this URL followed for this owner, in whichever format."""
    row = await conn.fetchrow(
        f"""SELECT {_SOURCE_COLUMNS} FROM import_sources
             WHERE kind = ANY($3::text[]) AND label = $1 AND owner_actor_id = $2""",
        url,
        owner_actor_id,
        list(FEED_KINDS),
    )
    return None if row is None else ImportSource(**record_dict(row))


async def set_feed_format(conn: Connection, source_id: int, *, detect: bool) -> None:
    """Whether the feed's format is read from each answer ("auto")."""
    await conn.execute(
        "UPDATE import_sources SET detect_format = $2 WHERE id = $1", source_id, detect
    )


async def set_active(
    conn: Connection, source_id: int, active: bool, *, now: datetime, error: str | None = None
) -> ImportSource | None:
    """Follow a feed again (due at once) or stop (paused, kept with its rows and its reason)."""
    row = await conn.fetchrow(
        f"""UPDATE import_sources
               SET active = $2, locked_until = NULL, attempts = 0,
                   next_fetch_at = CASE WHEN $2 THEN $3::timestamptz ELSE next_fetch_at END,
                   last_error = CASE WHEN $2 THEN last_error ELSE $4 END
             WHERE id = $1 AND url IS NOT NULL
         RETURNING {_SOURCE_COLUMNS}""",
        source_id,
        active,
        now,
        error,
    )
    return None if row is None else ImportSource(**record_dict(row))


async def select_feeds(
    conn: Connection, *, owner_actor_id: int | None = None
) -> list[tuple[ImportSource, int, str]]:
    """Followed feeds (of one owner, or all), newest first, with their count of imported
    events and their owner's username."""
    rows = await conn.fetch(
        f"""SELECT {", ".join("s." + c.strip() for c in _SOURCE_COLUMNS.split(","))},
                   (SELECT count(*) FROM provenance p WHERE p.source_id = s.id) AS imported,
                   a.username AS owner_username
              FROM import_sources s JOIN actors a ON a.id = s.owner_actor_id
             WHERE s.kind = ANY($1::text[]) AND s.url IS NOT NULL
               AND ($2::bigint IS NULL OR s.owner_actor_id = $2)
             ORDER BY s.created_at DESC, s.id DESC
             LIMIT 500""",
        list(FEED_KINDS),
        owner_actor_id,
    )
    found = []
    for row in rows:
        values = record_dict(row)
        imported = int(values.pop("imported"))
        owner = str(values.pop("owner_username"))
        found.append((ImportSource(**values), imported, owner))
    return found


async def claim_due_feed(
    conn: Connection, *, now: datetime, lease_until: datetime
) -> ImportSource | None:
    """Lease the feed due first: another worker skips it until the lease ends, so a crash mid
    fetch loses nothing and two workers never fetch one feed together."""
    row = await conn.fetchrow(
        f"""UPDATE import_sources SET locked_until = $2
             WHERE id = (SELECT id FROM import_sources
                          WHERE active AND url IS NOT NULL AND kind = ANY($3::text[])
                            AND next_fetch_at <= $1
                            AND (locked_until IS NULL OR locked_until <= $1)
                          ORDER BY next_fetch_at, id
                          LIMIT 1
                          FOR UPDATE SKIP LOCKED)
         RETURNING {_SOURCE_COLUMNS}""",
        now,
        lease_until,
        list(FEED_KINDS),
    )
    return None if row is None else ImportSource(**record_dict(row))


async def lease_feed(
    conn: Connection, source_id: int, *, now: datetime, lease_until: datetime
) -> ImportSource | None:
    """Lease one feed now (an admin's "fetch now"); None when a worker holds it."""
    row = await conn.fetchrow(
        f"""UPDATE import_sources SET locked_until = $3
             WHERE id = $1 AND active AND (locked_until IS NULL OR locked_until <= $2)
         RETURNING {_SOURCE_COLUMNS}""",
        source_id,
        now,
        lease_until,
    )
    return None if row is None else ImportSource(**record_dict(row))


async def lock_feed(conn: Connection, source_id: int) -> ImportSource | None:
    """The feed's row, locked for the transaction that applies what was fetched."""
    row = await conn.fetchrow(
        f"SELECT {_SOURCE_COLUMNS} FROM import_sources WHERE id = $1 FOR UPDATE", source_id
    )
    return None if row is None else ImportSource(**record_dict(row))


async def feed_fetched(
    conn: Connection,
    source_id: int,
    *,
    now: datetime,
    next_fetch_at: datetime,
    kind: str,
    etag: str | None,
    last_modified: str | None,
    report: dict[str, object],
) -> None:
    """A fetch went through (applied, or 304): the lease ends, the next fetch is scheduled."""
    await conn.execute(
        """UPDATE import_sources
              SET locked_until = NULL, attempts = 0, last_error = NULL, last_fetched_at = $2,
                  next_fetch_at = $3, etag = $5, last_modified = $6, last_report = $7,
                  kind = CASE WHEN NOT detect_format OR EXISTS (
                                  SELECT 1 FROM import_sources o
                                   WHERE o.kind = $4 AND o.label = import_sources.label
                                     AND o.owner_actor_id = import_sources.owner_actor_id
                                     AND o.id <> import_sources.id)
                              THEN kind ELSE $4 END
            WHERE id = $1""",
        source_id,
        now,
        next_fetch_at,
        kind,
        etag,
        last_modified,
        report,
    )


async def feed_failed(
    conn: Connection, source_id: int, *, now: datetime, next_fetch_at: datetime, error: str
) -> None:
    """A fetch failed: its reason kept, tried again later (the source is never dropped)."""
    await conn.execute(
        """UPDATE import_sources
              SET locked_until = NULL, attempts = attempts + 1, last_error = $3,
                  last_fetched_at = $2, next_fetch_at = $4
            WHERE id = $1""",
        source_id,
        now,
        error[:2000],
        next_fetch_at,
    )


async def select_event_uri(conn: Connection, event_id: int) -> str | None:
    """The URI of the event an import made (provenance keeps its row id)."""
    uri = await conn.fetchval("SELECT uri FROM events WHERE id = $1", event_id)
    return None if uri is None else str(uri)


# --- files an admin applies: organisations and commune centres (imports/files.py) -----------


async def lock_file_kind(conn: Connection, kind: SourceKind) -> None:
    """Hold, until the transaction ends, the right to plan and apply files of this kind."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('fedicity.imports.' || $1))", kind)


async def select_file_source(conn: Connection, kind: SourceKind, label: str) -> ImportSource | None:
    """The file of this kind applied under this name before, if any (a dry run makes none)."""
    row = await conn.fetchrow(
        f"""SELECT {_SOURCE_COLUMNS} FROM import_sources
             WHERE kind = $1 AND label = $2 AND owner_actor_id IS NULL""",
        kind,
        label,
    )
    return None if row is None else ImportSource(**record_dict(row))


async def select_provenance_ids(conn: Connection, source_id: int) -> dict[str, int]:
    """external id -> object id of every row a source made."""
    rows = await conn.fetch(
        "SELECT external_id, object_id FROM provenance WHERE source_id = $1", source_id
    )
    return {row["external_id"]: row["object_id"] for row in rows}


async def record_provenance_rows(
    conn: Connection,
    source: ImportSource,
    object_kind: ObjectKind,
    rows: list[tuple[int, str, int | None, str]],
    *,
    now: datetime,
) -> None:
    """record_provenance for many (object id, external id, line, digest) rows in one statement."""
    await conn.execute(
        """INSERT INTO provenance (source_id, source_label, object_kind, object_id, external_id,
                                   row_number, content_hash, first_imported_at, imported_at)
           SELECT $1, $2, $3, r.object_id, r.external_id, r.row_number, r.content_hash, $8, $8
             FROM unnest($4::bigint[], $5::text[], $6::int[], $7::text[])
                  AS r(object_id, external_id, row_number, content_hash)
           ON CONFLICT (source_id, external_id) DO UPDATE
              SET source_label = EXCLUDED.source_label, object_kind = EXCLUDED.object_kind,
                  object_id = EXCLUDED.object_id, row_number = EXCLUDED.row_number,
                  content_hash = EXCLUDED.content_hash, imported_at = EXCLUDED.imported_at""",
        source.id,
        source.label,
        object_kind,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        now,
    )


async def select_local_organizations(conn: Connection) -> list[dict[str, Any]]:
    """Every local organisation as an import compares it: names, kind, territory, identifier,
    description, place and contacts."""
    rows = await conn.fetch(
        """SELECT a.id, a.username, a.display_name, a.summary, a.organization_kind,
                  a.home_territory_id, o.official_id_kind, o.official_id_value,
                  o.latitude, o.longitude, o.address, o.postal_code, o.website, o.email
             FROM actors a LEFT JOIN organizations o ON o.actor_id = a.id
            WHERE a.kind = 'organization' AND a.deleted_at IS NULL
              AND a.organization_kind IS DISTINCT FROM 'project'
            ORDER BY a.id"""
    )
    return [record_dict(row) for row in rows]


async def update_organization_import(
    conn: Connection, actor_id: int, *, organization_kind: str, home_territory_id: int | None
) -> None:
    """An imported organisation's kind and territory, as its register says."""
    await conn.execute(
        """UPDATE actors SET organization_kind = $2, home_territory_id = $3, updated_at = now()
            WHERE id = $1 AND kind = 'organization'""",
        actor_id,
        organization_kind,
        home_territory_id,
    )


async def set_organization_contacts(
    conn: Connection,
    actor_id: int,
    *,
    address: str | None,
    postal_code: str | None,
    website: str | None,
    email: str | None,
) -> None:
    """Where and how to reach an organisation (migration 0031)."""
    await conn.execute(
        """INSERT INTO organizations (actor_id, address, postal_code, website, email)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (actor_id) DO UPDATE
              SET address = EXCLUDED.address, postal_code = EXCLUDED.postal_code,
                  website = EXCLUDED.website, email = EXCLUDED.email""",
        actor_id,
        address,
        postal_code,
        website,
        email,
    )


async def select_organization_contacts(conn: Connection, actor_id: int) -> dict[str, Any]:
    """An organisation's address, postal code, website and e-mail (None each when unknown)."""
    row = await conn.fetchrow(
        "SELECT address, postal_code, website, email FROM organizations WHERE actor_id = $1",
        actor_id,
    )
    if row is None:
        return {"address": None, "postal_code": None, "website": None, "email": None}
    return record_dict(row)


async def select_communes(conn: Connection) -> dict[str, dict[str, Any]]:
    """Every known commune by its code: id, name, centre and box."""
    rows = await conn.fetch(
        """SELECT id, code, name, latitude, longitude, bbox FROM territories
            WHERE level = 'commune'"""
    )
    return {row["code"]: record_dict(row) for row in rows}


async def set_centres(
    conn: Connection, centres: list[tuple[int, float, float, list[float] | None]]
) -> None:
    """Communes' centres (and boxes, where given), then every item located in one of them that
    had no point of its own: what is written in a commune stands at its centre."""
    await conn.execute(
        """UPDATE territories t
              SET latitude = c.latitude, longitude = c.longitude,
                  bbox = CASE WHEN c.has_bbox THEN c.bbox ELSE t.bbox END, updated_at = now()
             FROM (SELECT r.id, r.latitude, r.longitude, r.has_bbox,
                          ARRAY[r.west, r.south, r.east, r.north] AS bbox
                     FROM unnest($1::bigint[], $2::float8[], $3::float8[], $4::bool[],
                                 $5::float8[], $6::float8[], $7::float8[], $8::float8[])
                          AS r(id, latitude, longitude, has_bbox, west, south, east, north)) c
            WHERE t.id = c.id""",
        [c[0] for c in centres],
        [c[1] for c in centres],
        [c[2] for c in centres],
        [c[3] is not None for c in centres],
        *([(c[3] or [0.0] * 4)[i] for c in centres] for i in range(4)),
    )
    await conn.execute(
        """UPDATE located_items li SET latitude = t.latitude, longitude = t.longitude
             FROM territories t
            WHERE t.id = ANY($1::bigint[]) AND li.territory_id = t.id
              AND li.latitude IS NULL AND li.longitude IS NULL""",
        [c[0] for c in centres],
    )
