"""An instance with something in every figure the dashboard shows, written as other processes
would have left it in the database and the media folder."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import seed_remote_actor

# A domain a hostile peer named: it must be shown as text.
HOSTILE = '<script>alert("x")</script>.example'


@dataclass(frozen=True)
class Seeded:
    """What was written, to compare with what is shown."""

    media_bytes: int
    disk_files: int
    disk_bytes: int


async def seed(pool: Pool, keygen: FixedKeys, data_dir: Path, now: datetime) -> Seeded:
    """Accounts (one seen lately), remote actors, media, reports, domains in every health,
    deliveries and inbox rows waiting."""
    async with pool.acquire() as conn:
        admin = await accounts.register(
            conn, username="root_admin", password="long enough pw", keygen=keygen, is_admin=True
        )
        recent = await accounts.register(
            conn, username="camille", password="long enough pw", keygen=keygen
        )
        idle = await accounts.register(
            conn, username="dominique", password="long enough pw", keygen=keygen
        )
        for account_id, seen in (
            (recent.id, now - timedelta(days=5)),
            (idle.id, now - timedelta(days=40)),
        ):
            await conn.execute(
                """INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at)
                   VALUES ($1, $2, $3, $3)""",
                hashlib.sha256(str(account_id).encode()).digest(),
                account_id,
                seen,
            )
        sha = "ab" + "0" * 62
        await conn.execute(
            """INSERT INTO media (sha256, extension, media_type, width, height, size, created_at)
               VALUES ($1, 'png', 'image/png', 10, 10, 2048, $2)""",
            sha,
            now,
        )
        for number, resolved in ((1, None), (2, None), (3, now)):
            await conn.execute(
                """INSERT INTO reports (activity_uri, reporter, targets, raw, created_at,
                                        resolved_at, resolution)
                   VALUES ($1, 'https://flaky.example/actor', '{}', '{}', $2, $3,
                           CASE WHEN $3::timestamptz IS NULL THEN NULL ELSE 'dismissed' END)""",
                f"https://flaky.example/flags/{number}",
                now - timedelta(hours=number),
                resolved,
            )
        await conn.execute(
            """INSERT INTO domain_health (domain, failure_days, last_failure_at, last_success_at,
                                          unavailable)
               VALUES ('down.example', $1, $2, NULL, true),
                      ('flaky.example', $3, $2, $4, false),
                      ('fine.example', '{}', NULL, $4, false),
                      ($5, '{}', NULL, $4, false)""",
            [(now - timedelta(days=day)).date() for day in range(7)],
            now - timedelta(hours=1),
            [(now - timedelta(days=day)).date() for day in range(2)],
            now - timedelta(days=1),
            HOSTILE,
        )
        activity_id = await conn.fetchval(
            """INSERT INTO outbox_activities (uri, actor_id, type, raw, created_at)
               VALUES ('http://fedicity.test/activities/1', $1, 'Create', '{}', $2)
               RETURNING id""",
            admin.actor_id,
            now,
        )
        for number, domain, due, state in (
            (1, "flaky.example", now - timedelta(seconds=120), "pending"),
            (2, "flaky.example", now - timedelta(seconds=60), "pending"),
            (3, "flaky.example", now, "pending"),
            (4, "busy.example", now + timedelta(hours=1), "pending"),
            (5, "fine.example", now - timedelta(days=1), "delivered"),
        ):
            await conn.execute(
                """INSERT INTO deliveries (activity_id, inbox, domain, state, next_attempt_at)
                   VALUES ($1, $2, $3, $4, $5)""",
                activity_id,
                f"https://{domain}/inbox/{number}",
                domain,
                state,
                due,
            )
        for number, state in ((1, "pending"), (2, "failed")):
            await conn.execute(
                """INSERT INTO inbox_items (activity_uri, actor_uri, type, raw, key_id, state,
                                            received_at, next_attempt_at, origin_host)
                   VALUES ($1, 'https://spam.example/u', 'Like', '{}', 'k', $2, $3, $3,
                           'spam.example')""",
                f"https://spam.example/likes/{number}",
                state,
                now - timedelta(seconds=30),
            )
    for number, keypair in enumerate(fixed_keypairs()[:2]):
        await seed_remote_actor(pool, f"https://far{number}.example/users/u", keypair, now)
    recorded = data_dir / "media" / "ab" / f"{sha}.png"
    recorded.parent.mkdir(parents=True)
    recorded.write_bytes(b"x" * 3000)
    stray = data_dir / "media" / "cd" / "left-over.tmp"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"y" * 10)
    return Seeded(media_bytes=2048, disk_files=2, disk_bytes=3010)
