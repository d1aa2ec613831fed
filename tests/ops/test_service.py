"""The operations figures as the database and the media folder hold them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.ops import service
from tests.conftest import FixedKeys
from tests.ops.seeding import HOSTILE, seed


async def test_the_overview_counts_what_every_process_left(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock, tmp_path: Path
) -> None:
    now = clock.now()
    seeded = await seed(pool, keygen, tmp_path, now)
    async with pool.acquire() as conn:
        figures = await service.overview(conn, now=now, media_dir=tmp_path / "media")
    inbox, delivery = figures.queues
    assert (inbox.queue, inbox.pending, inbox.due, inbox.failed) == ("inbox", 1, 1, 1)
    assert inbox.lag_seconds(now) == 30
    # the row due in an hour waits, but is not late
    assert (delivery.queue, delivery.pending, delivery.due, delivery.failed) == (
        "delivery",
        4,
        3,
        None,
    )
    assert delivery.lag_seconds(now) == 120
    users = figures.users
    assert (users.accounts, users.active_30_days, users.admins, users.remote_actors) == (3, 1, 1, 2)
    storage = figures.storage
    assert (storage.media_files, storage.media_bytes) == (1, seeded.media_bytes)
    assert (storage.disk_files, storage.disk_bytes) == (seeded.disk_files, seeded.disk_bytes)
    assert storage.database_bytes > 1_000_000
    assert figures.backlog.open_reports == 2
    # the report resolved three hours ago is not waiting any more
    assert figures.backlog.oldest_open_at == now - timedelta(hours=2)
    assert (figures.domains_known, figures.domains_unavailable) == (4, 1)


async def test_domains_come_worst_first_a_page_at_a_time(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock, tmp_path: Path
) -> None:
    now = clock.now()
    await seed(pool, keygen, tmp_path, now)
    pages = []
    async with pool.acquire() as conn:
        for page in range(3):
            pages.append(await service.domains_page(conn, page=page, size=2))
        beyond = await service.domains_page(conn, page=1_000_000, size=2)
    names = [[row.domain for row in rows] for rows, _more in pages]
    # unavailable, then days of failures, then deliveries waiting, then activities waiting
    assert names == [
        ["down.example", "flaky.example"],
        ["busy.example", "spam.example"],
        sorted([HOSTILE, "fine.example"]),
    ]
    assert [more for _rows, more in pages] == [True, True, False]
    assert beyond == ([], False)
    down, flaky = pages[0][0]
    assert (down.status, down.failure_days, down.outgoing) == ("unavailable", 7, 0)
    assert (flaky.status, flaky.failure_days, flaky.outgoing) == ("failing", 2, 3)
    assert flaky.oldest_outgoing_at is not None
    assert (now - flaky.oldest_outgoing_at).total_seconds() == 120
    spam = pages[1][0][1]
    assert (spam.status, spam.incoming, spam.last_success_at) == ("ok", 1, None)


async def test_a_missing_media_folder_counts_nothing(tmp_path: Path) -> None:
    assert service.disk_usage(tmp_path / "absent") == (0, 0)
