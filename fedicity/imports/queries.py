"""SQL for import sources and provenance; connection first."""

from __future__ import annotations

from datetime import datetime

from fedicity.db.pool import Connection, record_dict
from fedicity.imports.models import Change, ImportSource, ObjectKind, Provenance, SourceKind

_SOURCE_COLUMNS = (
    "id, kind, label, url, owner_actor_id, created_by, created_at, active, next_fetch_at,"
    " locked_until, attempts, last_fetched_at, last_error, etag, last_modified"
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
    await conn.execute(
        """INSERT INTO provenance (source_id, source_label, object_kind, object_id, external_id,
                                   row_number, content_hash, first_imported_at, imported_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
           ON CONFLICT (source_id, external_id) DO UPDATE
              SET source_label = EXCLUDED.source_label, object_kind = EXCLUDED.object_kind,
                  object_id = EXCLUDED.object_id, row_number = EXCLUDED.row_number,
                  content_hash = EXCLUDED.content_hash, imported_at = EXCLUDED.imported_at""",
        source.id,
        source.label,
        object_kind,
        object_id,
        external_id,
        row_number,
        content_hash,
        now,
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
