"""SQL for local actors; connection first, one statement each."""

from __future__ import annotations

from datetime import datetime

from fedicity.actors.models import Actor, ActorKind, OrganizationKind
from fedicity.db.pool import Connection, record_dict

_COLUMNS = """id, username, kind, organization_kind, display_name, summary,
              manually_approves_followers, discoverable, public_key_pem, private_key_pem,
              created_at, updated_at"""


async def insert_actor(
    conn: Connection,
    *,
    username: str,
    kind: ActorKind,
    organization_kind: OrganizationKind | None,
    display_name: str,
    summary: str,
    public_key_pem: str,
    private_key_pem: str,
) -> Actor:
    """Insert a local actor and return it."""
    row = await conn.fetchrow(
        f"""INSERT INTO actors (username, kind, organization_kind, display_name, summary,
                                public_key_pem, private_key_pem)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            RETURNING {_COLUMNS}""",
        username,
        kind,
        organization_kind,
        display_name,
        summary,
        public_key_pem,
        private_key_pem,
    )
    assert row is not None
    return Actor(**record_dict(row))


async def select_actor_by_username(conn: Connection, username: str) -> Actor | None:
    """The local actor with this username, whatever its case."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM actors WHERE lower(username) = lower($1)", username
    )
    return None if row is None else Actor(**record_dict(row))


async def select_actor_by_id(conn: Connection, actor_id: int) -> Actor | None:
    """The local actor with this id."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM actors WHERE id = $1", actor_id)
    return None if row is None else Actor(**record_dict(row))


async def select_instance_actor(conn: Connection) -> Actor | None:
    """The instance actor, if it was created."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM actors WHERE kind = 'application'")
    return None if row is None else Actor(**record_dict(row))


async def select_actors_page(
    conn: Connection,
    *,
    limit: int,
    before: tuple[datetime, int] | None = None,
    kind: ActorKind | None = None,
) -> list[Actor]:
    """Discoverable citizens and organisations, newest first, keyset-paged."""
    row_before = before or (None, None)
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM actors
             WHERE kind <> 'application'
               AND discoverable
               AND ($1::text IS NULL OR kind = $1)
               AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
             ORDER BY created_at DESC, id DESC
             LIMIT $4""",
        kind,
        row_before[0],
        row_before[1],
        limit,
    )
    return [Actor(**record_dict(row)) for row in rows]


async def update_profile(
    conn: Connection,
    actor_id: int,
    *,
    display_name: str,
    summary: str,
    manually_approves_followers: bool,
    discoverable: bool,
) -> Actor | None:
    """Change what a local actor shows of itself."""
    row = await conn.fetchrow(
        f"""UPDATE actors
               SET display_name = $2, summary = $3, manually_approves_followers = $4,
                   discoverable = $5, updated_at = now()
             WHERE id = $1
         RETURNING {_COLUMNS}""",
        actor_id,
        display_name,
        summary,
        manually_approves_followers,
        discoverable,
    )
    return None if row is None else Actor(**record_dict(row))


async def count_actors(conn: Connection, kind: ActorKind) -> int:
    """How many local actors of a kind exist."""
    count: int = await conn.fetchval("SELECT count(*) FROM actors WHERE kind = $1", kind)
    return count
