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


# --- per-user controls: blocks, mutes, domain blocks, hidden boosts (migration 0022) ------------


@dataclass(frozen=True)
class Control:
    """One entry of an owner's lists: an actor (or a domain) blocked, muted or boost-hidden."""

    id: int
    target: str
    created_at: datetime
    # A mute's "hide notifications too"; False for the other lists.
    notifications: bool = False


@dataclass(frozen=True)
class Controls:
    """What an owner has chosen about one actor."""

    blocked: bool
    muted: bool
    mute_notifications: bool
    domain_blocked: bool
    boosts_hidden: bool


async def insert_user_block(
    conn: Connection, *, owner_id: int, target: str, activity_uri: str, now: datetime
) -> bool:
    """Record that a local actor blocks `target`; whether it is new."""
    row_id = await conn.fetchval(
        """INSERT INTO user_blocks (owner_id, target, activity_uri, created_at)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id""",
        owner_id,
        target,
        activity_uri,
        now,
    )
    return row_id is not None


async def delete_user_block(conn: Connection, owner_id: int, target: str) -> str | None:
    """Lift a block; the id of the Block it had sent, None when there was no block."""
    activity_uri: str | None = await conn.fetchval(
        "DELETE FROM user_blocks WHERE owner_id = $1 AND target = $2 RETURNING activity_uri",
        owner_id,
        target,
    )
    return activity_uri


async def refuses(conn: Connection, owner_id: int, actor_uri: str) -> bool:
    """Whether a local actor blocks this actor, or its domain."""
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM user_blocks WHERE owner_id = $1 AND target = $2)
               OR EXISTS (SELECT 1 FROM user_domain_blocks
                           WHERE owner_id = $1 AND domain = uri_authority($2))""",
        owner_id,
        actor_uri,
    )
    return found


async def upsert_user_mute(
    conn: Connection, *, owner_id: int, target: str, notifications: bool, now: datetime
) -> None:
    """Mute `target` for a local actor (muting again changes only the notifications choice)."""
    await conn.execute(
        """INSERT INTO user_mutes (owner_id, target, notifications, created_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (owner_id, target) DO UPDATE SET notifications = EXCLUDED.notifications""",
        owner_id,
        target,
        notifications,
        now,
    )


async def delete_user_mute(conn: Connection, owner_id: int, target: str) -> bool:
    """Unmute; whether there was a mute."""
    result = await conn.execute(
        "DELETE FROM user_mutes WHERE owner_id = $1 AND target = $2", owner_id, target
    )
    return result != "DELETE 0"


async def insert_user_domain_block(
    conn: Connection, *, owner_id: int, domain: str, now: datetime
) -> bool:
    """Block a domain for a local actor; whether it is new."""
    row_id = await conn.fetchval(
        """INSERT INTO user_domain_blocks (owner_id, domain, created_at)
           VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id""",
        owner_id,
        domain,
        now,
    )
    return row_id is not None


async def delete_user_domain_block(conn: Connection, owner_id: int, domain: str) -> bool:
    """Lift a domain block; whether there was one."""
    result = await conn.execute(
        "DELETE FROM user_domain_blocks WHERE owner_id = $1 AND domain = $2", owner_id, domain
    )
    return result != "DELETE 0"


async def insert_hidden_boosts(
    conn: Connection, *, owner_id: int, target: str, now: datetime
) -> bool:
    """Hide an actor's boosts from a local actor's feed; whether it is new."""
    row_id = await conn.fetchval(
        """INSERT INTO hidden_boosts (owner_id, target, created_at)
           VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id""",
        owner_id,
        target,
        now,
    )
    return row_id is not None


async def delete_hidden_boosts(conn: Connection, owner_id: int, target: str) -> bool:
    """Show an actor's boosts again; whether they were hidden."""
    result = await conn.execute(
        "DELETE FROM hidden_boosts WHERE owner_id = $1 AND target = $2", owner_id, target
    )
    return result != "DELETE 0"


# Each list's table and the column it names its entry by; the keys are the only names used.
_LISTS = {
    "blocks": ("user_blocks", "target", "false"),
    "mutes": ("user_mutes", "target", "notifications"),
    "domains": ("user_domain_blocks", "domain", "false"),
    "boosts": ("hidden_boosts", "target", "false"),
}
LISTS = tuple(_LISTS)


async def select_controls_page(
    conn: Connection, owner_id: int, which: str, *, limit: int, before_id: int | None = None
) -> list[Control]:
    """One of an owner's lists (blocks, mutes, domains, boosts), newest first, keyset-paged."""
    table, column, notifications = _LISTS[which]
    rows = await conn.fetch(
        f"""SELECT id, {column} AS target, created_at, {notifications} AS notifications
              FROM {table}
             WHERE owner_id = $1 AND ($2::bigint IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3""",
        owner_id,
        before_id,
        limit,
    )
    return [Control(**record_dict(row)) for row in rows]


async def select_controls(conn: Connection, owner_id: int, target: str) -> Controls:
    """What an owner has chosen about one actor."""
    row = await conn.fetchrow(
        """SELECT EXISTS (SELECT 1 FROM user_blocks WHERE owner_id = $1 AND target = $2)
                      AS blocked,
                  (SELECT notifications FROM user_mutes WHERE owner_id = $1 AND target = $2)
                      AS mute_notifications,
                  EXISTS (SELECT 1 FROM user_domain_blocks
                           WHERE owner_id = $1 AND domain = uri_authority($2)) AS domain_blocked,
                  EXISTS (SELECT 1 FROM hidden_boosts WHERE owner_id = $1 AND target = $2)
                      AS boosts_hidden""",
        owner_id,
        target,
    )
    assert row is not None
    return Controls(
        blocked=row["blocked"],
        muted=row["mute_notifications"] is not None,
        mute_notifications=bool(row["mute_notifications"]),
        domain_blocked=row["domain_blocked"],
        boosts_hidden=row["boosts_hidden"],
    )


async def select_follows_between(conn: Connection, me: str, other: str) -> list[Follow]:
    """The follows between two actors, either way, accepted or pending."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM follows
             WHERE (follower = $1 AND followee = $2) OR (follower = $2 AND followee = $1)""",
        me,
        other,
    )
    return [Follow(**record_dict(row)) for row in rows]


async def select_follows_with_domain(conn: Connection, me: str, domain: str) -> list[Follow]:
    """The follows between an actor and the actors of a domain, either way."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM follows
             WHERE (follower = $1 AND uri_authority(followee) = $2)
                OR (followee = $1 AND uri_authority(follower) = $2)""",
        me,
        domain,
    )
    return [Follow(**record_dict(row)) for row in rows]
