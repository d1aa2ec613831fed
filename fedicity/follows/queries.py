"""SQL for follow relations (actors are named by URI, local or remote)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fedicity.db.pool import Connection, record_dict


@dataclass(frozen=True)
class Follow:
    """One actor following another."""

    id: int
    follower: str
    followee: str
    activity_uri: str | None
    state: str
    created_at: datetime


_COLUMNS = "id, follower, followee, activity_uri, state, created_at"


async def upsert_follow(
    conn: Connection,
    *,
    follower: str,
    followee: str,
    activity_uri: str | None,
    accepted: bool,
    now: datetime,
) -> Follow:
    """Record a follow (a repeated Follow refreshes its activity id; never downgrades)."""
    row = await conn.fetchrow(
        f"""INSERT INTO follows (follower, followee, activity_uri, state, created_at, accepted_at)
            VALUES ($1, $2, $3, CASE WHEN $4::boolean THEN 'accepted' ELSE 'pending' END,
                    $5::timestamptz, CASE WHEN $4::boolean THEN $5::timestamptz END)
            ON CONFLICT (follower, followee) DO UPDATE SET
                activity_uri = coalesce(EXCLUDED.activity_uri, follows.activity_uri),
                state = CASE WHEN follows.state = 'accepted' OR $4::boolean THEN 'accepted'
                             ELSE 'pending' END,
                accepted_at = coalesce(follows.accepted_at, EXCLUDED.accepted_at)
            RETURNING {_COLUMNS}""",
        follower,
        followee,
        activity_uri,
        accepted,
        now,
    )
    assert row is not None
    return Follow(**record_dict(row))


async def select_follow(conn: Connection, follower: str, followee: str) -> Follow | None:
    """The follow between two actors."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM follows WHERE follower = $1 AND followee = $2", follower, followee
    )
    return None if row is None else Follow(**record_dict(row))


async def select_follow_by_activity(conn: Connection, activity_uri: str) -> Follow | None:
    """The follow created by a Follow activity."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM follows WHERE activity_uri = $1", activity_uri
    )
    return None if row is None else Follow(**record_dict(row))


async def accept_follow(conn: Connection, follow_id: int, now: datetime) -> None:
    """Mark a pending follow accepted."""
    await conn.execute(
        "UPDATE follows SET state = 'accepted', accepted_at = $2 WHERE id = $1", follow_id, now
    )


async def delete_follow(conn: Connection, follower: str, followee: str) -> bool:
    """Remove a follow; whether one existed."""
    result = await conn.execute(
        "DELETE FROM follows WHERE follower = $1 AND followee = $2", follower, followee
    )
    return result != "DELETE 0"


async def delete_follow_by_activity(conn: Connection, follower: str, activity_uri: str) -> bool:
    """Remove the follow a follower made with a given Follow activity; whether one existed."""
    result = await conn.execute(
        "DELETE FROM follows WHERE follower = $1 AND activity_uri = $2", follower, activity_uri
    )
    return result != "DELETE 0"


async def delete_follows_of(conn: Connection, actor: str) -> int:
    """Remove every follow an actor is part of (it was deleted)."""
    result = await conn.execute("DELETE FROM follows WHERE follower = $1 OR followee = $1", actor)
    return int(result.rsplit(" ", 1)[-1])


async def select_followers_page(
    conn: Connection, followee: str, *, limit: int, after_id: int = 0
) -> list[Follow]:
    """Accepted followers of an actor, paged by id."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM follows
             WHERE followee = $1 AND state = 'accepted' AND id > $2
             ORDER BY id LIMIT $3""",
        followee,
        after_id,
        limit,
    )
    return [Follow(**record_dict(row)) for row in rows]


async def select_following_page(
    conn: Connection, follower: str, *, limit: int, after_id: int = 0, pending: bool = False
) -> list[Follow]:
    """Whom an actor follows (accepted, or pending too), paged by id."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM follows
             WHERE follower = $1 AND (state = 'accepted' OR $4) AND id > $2
             ORDER BY id LIMIT $3""",
        follower,
        after_id,
        limit,
        pending,
    )
    return [Follow(**record_dict(row)) for row in rows]


async def select_pending_requests(
    conn: Connection, followee: str, *, limit: int, after_id: int = 0
) -> list[Follow]:
    """Follow requests waiting for a local actor's approval, oldest first, keyset-paged by id."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM follows WHERE followee = $1 AND state = 'pending'
               AND id > $3
             ORDER BY id LIMIT $2""",
        followee,
        limit,
        after_id,
    )
    return [Follow(**record_dict(row)) for row in rows]


async def count_followers(conn: Connection, followee: str) -> int:
    """Accepted followers of an actor."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM follows WHERE followee = $1 AND state = 'accepted'", followee
    )
    return count


async def count_following(conn: Connection, follower: str) -> int:
    """Accepted follows of an actor."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM follows WHERE follower = $1 AND state = 'accepted'", follower
    )
    return count


async def select_local_followers_of(
    conn: Connection, followee: str, local_prefix: str
) -> list[str]:
    """Local actors (URIs under local_prefix) that follow an actor, accepted or pending."""
    rows = await conn.fetch(
        "SELECT follower FROM follows WHERE followee = $1 AND follower LIKE $2 || '%'",
        followee,
        local_prefix,
    )
    return [row["follower"] for row in rows]
