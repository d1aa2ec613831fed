"""SQL for uploaded media."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fedicity.db.pool import Connection, record_dict
from fedicity.media.models import Media

_COLUMNS = "sha256, extension, media_type, width, height, size, uploaded_by, created_at"


def _media(row: Any) -> Media:
    return Media(**record_dict(row))


async def insert_media(conn: Connection, media: Media) -> Media:
    """Record a file once: the same bytes uploaded again return the first row."""
    row = await conn.fetchrow(
        f"""INSERT INTO media ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (sha256) DO NOTHING
            RETURNING {_COLUMNS}""",
        media.sha256,
        media.extension,
        media.media_type,
        media.width,
        media.height,
        media.size,
        media.uploaded_by,
        media.created_at,
    )
    if row is None:
        found = await select_media(conn, media.sha256)
        assert found is not None, "a conflicting row exists"
        return found
    return _media(row)


async def select_media(conn: Connection, sha256: str) -> Media | None:
    """A stored file by its hash."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM media WHERE sha256 = $1", sha256)
    return None if row is None else _media(row)


async def lock_uploader(conn: Connection, actor_id: int) -> None:
    """Hold an uploader's quota check until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('media-quota'), $1::int)", actor_id)


async def bytes_uploaded_since(conn: Connection, actor_id: int, since: datetime) -> int:
    """How many bytes of files an actor uploaded first since a moment."""
    total = await conn.fetchval(
        "SELECT coalesce(sum(size), 0) FROM media WHERE uploaded_by = $1 AND created_at >= $2",
        actor_id,
        since,
    )
    return int(total)
