"""The dashboard's figures, gathered in one read-only transaction, and the media folder's size."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import Path

from fedicity.db.pool import Connection
from fedicity.ops import queries
from fedicity.ops.models import DomainRow, Overview, StorageStats


def disk_usage(root: Path) -> tuple[int, int]:
    """(files, bytes) under `root`, symbolic links not followed; (0, 0) when it does not exist."""
    files = size = 0
    for directory, _subdirs, names in os.walk(root):
        for name in names:
            try:
                stat = os.lstat(os.path.join(directory, name))
            except OSError:  # removed while we walked
                continue
            files += 1
            size += stat.st_size
    return files, size


async def overview(conn: Connection, *, now: datetime, media_dir: Path) -> Overview:
    """Queues, users, storage, the moderation backlog and the domains' counts, at `now`."""
    # The walk of the media folder is blocking file-system work: it runs on a thread while the
    # database answers.
    disk = asyncio.create_task(asyncio.to_thread(disk_usage, media_dir))
    async with conn.transaction(readonly=True):
        queues = await queries.select_queues(conn, now)
        users = await queries.select_users(conn, now)
        database_bytes, media_files, media_bytes = await queries.select_storage(conn)
        backlog = await queries.select_backlog(conn)
        known, down = await queries.count_domains(conn)
    disk_files, disk_bytes = await disk
    return Overview(
        taken_at=now,
        queues=queues,
        users=users,
        storage=StorageStats(database_bytes, media_files, media_bytes, disk_files, disk_bytes),
        backlog=backlog,
        domains_known=known,
        domains_unavailable=down,
    )


async def domains_page(conn: Connection, *, page: int, size: int) -> tuple[list[DomainRow], bool]:
    """Page `page` (from 0) of the domains, worst first, and whether another page follows."""
    rows = await queries.select_domains(conn, limit=size + 1, offset=page * size)
    return rows[:size], len(rows) > size
