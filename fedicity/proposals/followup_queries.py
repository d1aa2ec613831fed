"""SQL for what follows a vote: resolutions, actions (tasks), who follows a room, and the
dashboard's lists (kept apart from queries.py, which holds the proposals' own statements)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fedicity.db.pool import Connection, record_dict
from fedicity.proposals.models import Proposal, Resolution, Room, Task
from fedicity.proposals.queries import _COLUMNS as _PROPOSAL_COLUMNS
from fedicity.proposals.queries import _ROOM, _proposal

_RESOLUTION = """id, uri, token, proposal_id, proposal_uri, room_id, room_uri, attributed_to,
    title, adopted, outcome, chosen, tally, voters, content_html, closed_at, local, created_at"""
_TASK = """id, uri, token, local, room_id, room_uri, resolution_uri, attributed_to, created_by,
    title, description_html, description_source, status, starts, ends, assignees, published,
    updated"""


def _placeholders(count: int) -> str:
    """$1, $2 ... $count."""
    return ", ".join(f"${i}" for i in range(1, count + 1))


def _resolution(row: object) -> Resolution:
    values: dict[str, Any] = record_dict(row)  # type: ignore[arg-type]
    values["tally"] = {str(k): int(v) for k, v in (values["tally"] or {}).items()}
    return Resolution(**values)


def _task(row: object) -> Task:
    values: dict[str, Any] = record_dict(row)  # type: ignore[arg-type]
    values["assignees"] = tuple(values["assignees"] or ())
    return Task(**values)


# -- resolutions ---------------------------------------------------------------------------------


async def insert_resolution(
    conn: Connection, values: dict[str, Any], *, raw: dict[str, Any] | None = None
) -> Resolution | None:
    """A new resolution; None when its proposal already has one (one per proposal)."""
    columns = list(values)
    row = await conn.fetchrow(
        f"""INSERT INTO resolutions ({", ".join(columns)}, raw)
            VALUES ({_placeholders(len(columns) + 1)})
            ON CONFLICT DO NOTHING RETURNING {_RESOLUTION}""",
        *values.values(),
        raw,
    )
    return _resolution(row) if row else None


async def select_resolution(conn: Connection, uri: str) -> Resolution | None:
    """A resolution by its URI."""
    row = await conn.fetchrow(f"SELECT {_RESOLUTION} FROM resolutions WHERE uri = $1", uri)
    return _resolution(row) if row else None


async def select_resolution_by_token(conn: Connection, token: str) -> Resolution | None:
    """One of our resolutions by its URL token."""
    row = await conn.fetchrow(f"SELECT {_RESOLUTION} FROM resolutions WHERE token = $1", token)
    return _resolution(row) if row else None


async def select_resolution_of(conn: Connection, proposal_uri: str) -> Resolution | None:
    """The resolution of a proposal (ours or remote), if its vote closed."""
    row = await conn.fetchrow(
        f"SELECT {_RESOLUTION} FROM resolutions WHERE proposal_uri = $1", proposal_uri
    )
    return _resolution(row) if row else None


async def select_resolutions_of(conn: Connection, proposal_uris: list[str]) -> list[Resolution]:
    """The resolutions of several proposals (a listing's remote ones)."""
    rows = await conn.fetch(
        f"SELECT {_RESOLUTION} FROM resolutions WHERE proposal_uri = ANY($1::text[])",
        proposal_uris,
    )
    return [_resolution(row) for row in rows]


# -- actions -------------------------------------------------------------------------------------


async def insert_task(conn: Connection, values: dict[str, Any]) -> Task:
    """A new action."""
    columns = list(values)
    row = await conn.fetchrow(
        f"""INSERT INTO actions ({", ".join(columns)})
            VALUES ({_placeholders(len(columns))})
            RETURNING {_TASK}""",
        *values.values(),
    )
    assert row is not None
    return _task(row)


async def update_task(conn: Connection, task_id: int, values: dict[str, Any]) -> Task:
    """Change an action's columns."""
    columns = list(values)
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(columns, start=2))
    row = await conn.fetchrow(
        f"UPDATE actions SET {sets} WHERE id = $1 RETURNING {_TASK}", task_id, *values.values()
    )
    assert row is not None
    return _task(row)


async def upsert_remote_task(conn: Connection, values: dict[str, Any]) -> Task | None:
    """A received action, new or replacing the stored one of the same URI and publisher when it
    is not older; None when a local action or another publisher's has that URI, or the copy is
    older than the stored one."""
    columns = list(values)
    sets = ", ".join(f"{name} = EXCLUDED.{name}" for name in columns if name != "uri")
    row = await conn.fetchrow(
        f"""INSERT INTO actions ({", ".join(columns)}, local)
            VALUES ({_placeholders(len(columns))}, false)
            ON CONFLICT (uri) DO UPDATE SET {sets}
             WHERE NOT actions.local AND actions.attributed_to = EXCLUDED.attributed_to
               AND EXCLUDED.updated >= coalesce(actions.updated, actions.published)
            RETURNING {_TASK}""",
        *values.values(),
    )
    return _task(row) if row else None


async def delete_task(conn: Connection, task_id: int) -> None:
    """Remove an action."""
    await conn.execute("DELETE FROM actions WHERE id = $1", task_id)


async def select_task(conn: Connection, uri: str) -> Task | None:
    """An action by its URI."""
    row = await conn.fetchrow(f"SELECT {_TASK} FROM actions WHERE uri = $1", uri)
    return _task(row) if row else None


async def select_task_by_token(conn: Connection, token: str) -> Task | None:
    """One of our actions by its URL token."""
    row = await conn.fetchrow(f"SELECT {_TASK} FROM actions WHERE token = $1", token)
    return _task(row) if row else None


async def select_task_for_update(conn: Connection, task_id: int) -> Task | None:
    """An action, its row locked until the transaction ends."""
    row = await conn.fetchrow(f"SELECT {_TASK} FROM actions WHERE id = $1 FOR UPDATE", task_id)
    return _task(row) if row else None


async def select_room_tasks(conn: Connection, room_id: int, *, limit: int) -> list[Task]:
    """A room's actions, unfinished first, then by end date."""
    rows = await conn.fetch(
        f"""SELECT {_TASK} FROM actions WHERE room_id = $1
             ORDER BY status IN ('done', 'abandoned'), ends NULLS LAST, id DESC LIMIT $2""",
        room_id,
        limit,
    )
    return [_task(row) for row in rows]


async def select_resolution_tasks(
    conn: Connection, resolution_uri: str, *, limit: int
) -> list[Task]:
    """The actions that follow a resolution."""
    rows = await conn.fetch(
        f"""SELECT {_TASK} FROM actions WHERE resolution_uri = $1
             ORDER BY status IN ('done', 'abandoned'), ends NULLS LAST, id DESC LIMIT $2""",
        resolution_uri,
        limit,
    )
    return [_task(row) for row in rows]


# -- room follows --------------------------------------------------------------------------------


async def upsert_room_follow(
    conn: Connection,
    *,
    room_id: int,
    follower_uri: str,
    local: bool,
    activity_uri: str | None,
    now: datetime,
) -> bool:
    """Follow a room (again: the newest Follow's id is kept); whether the follow is new."""
    inserted: bool = await conn.fetchval(
        """INSERT INTO room_follows (room_id, follower_uri, local, activity_uri, created_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (room_id, follower_uri) DO UPDATE SET activity_uri = EXCLUDED.activity_uri
           RETURNING xmax = 0""",
        room_id,
        follower_uri,
        local,
        activity_uri,
        now,
    )
    return inserted


async def delete_room_follow(conn: Connection, room_id: int, follower_uri: str) -> bool:
    """Stop following a room; whether there was a follow."""
    done = await conn.execute(
        "DELETE FROM room_follows WHERE room_id = $1 AND follower_uri = $2", room_id, follower_uri
    )
    return bool(done.endswith(" 1"))


async def delete_room_follow_by_activity(
    conn: Connection, activity_uri: str, follower_uri: str
) -> bool:
    """Undo of a room's Follow by the Follow's id (its actor only); whether one ended."""
    done = await conn.execute(
        "DELETE FROM room_follows WHERE activity_uri = $1 AND follower_uri = $2",
        activity_uri,
        follower_uri,
    )
    return bool(done.endswith(" 1"))


async def delete_room_follows_of(conn: Connection, follower_uri: str) -> None:
    """Every room follow of an actor (it deleted itself)."""
    await conn.execute("DELETE FROM room_follows WHERE follower_uri = $1", follower_uri)


async def is_following_room(conn: Connection, room_id: int, follower_uri: str) -> bool:
    """Whether an actor follows a room."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT FROM room_follows WHERE room_id = $1 AND follower_uri = $2)",
        room_id,
        follower_uri,
    )
    return found


async def select_room_followers(conn: Connection, room_id: int, *, local: bool) -> list[str]:
    """A room's local (to notify) or remote (to deliver to) followers."""
    rows = await conn.fetch(
        """SELECT follower_uri FROM room_follows WHERE room_id = $1 AND local = $2
            ORDER BY created_at, follower_uri LIMIT 10000""",
        room_id,
        local,
    )
    return [row["follower_uri"] for row in rows]


async def count_room_followers(conn: Connection, room_id: int) -> int:
    """How many follow a room."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM room_follows WHERE room_id = $1", room_id
    )
    return count


async def select_room_by_uri(conn: Connection, uri: str) -> Room | None:
    """A room by its URI."""
    row = await conn.fetchrow(f"SELECT {_ROOM} FROM rooms WHERE uri = $1", uri)
    return Room(**record_dict(row)) if row else None


# -- the dashboard -------------------------------------------------------------------------------


async def select_my_room_ids(
    conn: Connection, me_uri: str, home_territory_id: int | None
) -> list[int]:
    """A citizen's rooms: those of the organisations they are an accepted member of, those they
    follow, and those of their home territory and the territories above it (each part on its
    own index; the dashboard's lists then read by room)."""
    rows = await conn.fetch(
        """SELECT r.id FROM rooms r JOIN memberships m ON m.organization_id = r.organization_id
            WHERE m.member_uri = $1 AND m.state = 'accepted'
           UNION
           SELECT f.room_id FROM room_follows f WHERE f.follower_uri = $1
           UNION
           SELECT r.id FROM rooms r JOIN territory_ancestors a ON a.ancestor_id = r.territory_id
            WHERE a.descendant_id = $2""",
        me_uri,
        home_territory_id,
    )
    return [row["id"] for row in rows]


async def select_my_open_proposals(
    conn: Connection, room_ids: list[int], *, limit: int
) -> list[Proposal]:
    """Proposals of these rooms open for amendments or votes, the nearest deadline first."""
    rows = await conn.fetch(
        f"""SELECT {_PROPOSAL_COLUMNS} FROM proposals
             WHERE room_id = ANY($1::bigint[]) AND state IN ('amendable', 'voting')
             ORDER BY coalesce(voting_ends, amendable_until) NULLS LAST, id LIMIT $2""",
        room_ids,
        limit,
    )
    return [_proposal(row) for row in rows]


async def select_votes_to_cast(
    conn: Connection, me_uri: str, room_ids: list[int], now: datetime, *, limit: int
) -> list[Proposal]:
    """Proposals of these rooms, and our co-moderation votes (which sit in no room), whose vote
    is open now and that I have not voted on (who may vote is checked by the caller, as the
    ballot would be: a co-moderation vote's residents or members)."""
    rows = await conn.fetch(
        f"""SELECT {_PROPOSAL_COLUMNS} FROM proposals p
             WHERE (p.room_id = ANY($2::bigint[])
                    OR (p.moderation_of IS NOT NULL AND p.local_actor_id IS NOT NULL))
               AND p.state = 'voting'
               AND (p.voting_opens IS NULL OR p.voting_opens <= $3) AND p.voting_ends > $3
               AND NOT EXISTS (SELECT FROM proposal_votes v
                                WHERE v.proposal_id = p.id AND v.voter_uri = $1)
             ORDER BY p.voting_ends, p.id LIMIT $4""",
        me_uri,
        room_ids,
        now,
        limit,
    )
    return [_proposal(row) for row in rows]


async def select_my_tasks(conn: Connection, me_uri: str, *, limit: int) -> list[Task]:
    """Unfinished actions assigned to me, the nearest end first."""
    rows = await conn.fetch(
        f"""SELECT {_TASK} FROM actions
             WHERE assignees @> ARRAY[$1]::text[] AND status NOT IN ('done', 'abandoned')
             ORDER BY ends NULLS LAST, id LIMIT $2""",
        me_uri,
        limit,
    )
    return [_task(row) for row in rows]


async def select_untaken_tasks(conn: Connection, room_ids: list[int], *, limit: int) -> list[Task]:
    """Unfinished actions of these rooms that nobody took, the nearest end first."""
    rows = await conn.fetch(
        f"""SELECT {_TASK} FROM actions
             WHERE room_id = ANY($1::bigint[]) AND cardinality(assignees) = 0
               AND status NOT IN ('done', 'abandoned')
             ORDER BY ends NULLS LAST, id LIMIT $2""",
        room_ids,
        limit,
    )
    return [_task(row) for row in rows]
