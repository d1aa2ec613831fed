"""SQL for local actors; connection first, one statement each."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from fedicity.actors.models import (
    INSTANCE_ACTOR_USERNAME,
    Actor,
    ActorKind,
    KnownActor,
    OrganizationKind,
    RemoteActor,
    RemoteActorData,
)
from fedicity.db.pool import Connection, record_dict

_COLUMNS = """id, username, kind, organization_kind, display_name, summary,
              manually_approves_followers, discoverable, public_key_pem, private_key_pem,
              created_at, updated_at, hide_network, territory_id, home_territory_id,
              avatar_name, banner_name, deleted_at"""


async def insert_actor(
    conn: Connection,
    *,
    username: str,
    kind: ActorKind,
    organization_kind: OrganizationKind | None,
    display_name: str,
    summary: str,
    public_key_pem: str | None,
    private_key_pem: str | None,
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
        f"""SELECT {_COLUMNS} FROM actors
             WHERE lower(username) = lower($1) AND deleted_at IS NULL""",
        username,
    )
    return None if row is None else Actor(**record_dict(row))


async def select_deleted_actor(conn: Connection, username: str) -> Actor | None:
    """The closed account's actor with this username (a tombstone), if there is one."""
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM actors
             WHERE lower(username) = lower($1) AND deleted_at IS NOT NULL""",
        username,
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
             WHERE kind IN ('person', 'organization')
               AND discoverable AND deleted_at IS NULL
               AND ($1::text IS NULL OR kind = $1)
               -- Organisations asked for: projects are listed on their own (/projects).
               AND ($1::text IS DISTINCT FROM 'organization'
                    OR organization_kind IS DISTINCT FROM 'project')
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


async def update_pictures(
    conn: Connection, actor_id: int, *, avatar_name: str | None, banner_name: str | None
) -> Actor | None:
    """Set (or clear, with None) a local actor's uploaded avatar and banner."""
    row = await conn.fetchrow(
        f"""UPDATE actors SET avatar_name = $2, banner_name = $3, updated_at = now()
             WHERE id = $1
         RETURNING {_COLUMNS}""",
        actor_id,
        avatar_name,
        banner_name,
    )
    return None if row is None else Actor(**record_dict(row))


async def count_actors(conn: Connection, kind: ActorKind) -> int:
    """How many local actors of a kind exist."""
    count: int = await conn.fetchval("SELECT count(*) FROM actors WHERE kind = $1", kind)
    return count


_REMOTE_COLUMNS = """id, uri, domain, type, username, display_name, summary_html, url, icon_url,
                     inbox, shared_inbox, followers_uri, key_id, public_key_pem,
                     manually_approves_followers, also_known_as, moved_to, raw, fetched_at,
                     deleted_at"""


def _remote_actor(row: asyncpg.Record) -> RemoteActor:
    fields = record_dict(row)
    fields["also_known_as"] = tuple(fields["also_known_as"])
    return RemoteActor(**fields)


async def upsert_remote_actor(conn: Connection, data: RemoteActorData) -> RemoteActor:
    """Insert or refresh a remote actor from its parsed document."""
    row = await conn.fetchrow(
        f"""INSERT INTO remote_actors (uri, domain, type, username, display_name, summary_html,
                                       url, icon_url, inbox, shared_inbox, followers_uri, key_id,
                                       public_key_pem, manually_approves_followers, also_known_as,
                                       moved_to, raw, fetched_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
            ON CONFLICT (uri) DO UPDATE SET
                domain = EXCLUDED.domain, type = EXCLUDED.type, username = EXCLUDED.username,
                display_name = EXCLUDED.display_name, summary_html = EXCLUDED.summary_html,
                url = EXCLUDED.url, icon_url = EXCLUDED.icon_url, inbox = EXCLUDED.inbox,
                shared_inbox = EXCLUDED.shared_inbox, followers_uri = EXCLUDED.followers_uri,
                key_id = EXCLUDED.key_id, public_key_pem = EXCLUDED.public_key_pem,
                manually_approves_followers = EXCLUDED.manually_approves_followers,
                also_known_as = EXCLUDED.also_known_as, moved_to = EXCLUDED.moved_to,
                raw = EXCLUDED.raw, fetched_at = EXCLUDED.fetched_at, deleted_at = NULL
            RETURNING {_REMOTE_COLUMNS}""",
        data.uri,
        data.domain,
        data.type,
        data.username,
        data.display_name,
        data.summary_html,
        data.url,
        data.icon_url,
        data.inbox,
        data.shared_inbox,
        data.followers_uri,
        data.key_id,
        data.public_key_pem,
        data.manually_approves_followers,
        list(data.also_known_as),
        data.moved_to,
        data.raw,
        data.fetched_at,
    )
    assert row is not None
    return _remote_actor(row)


async def select_remote_actor(conn: Connection, uri: str) -> RemoteActor | None:
    """The remote actor with this URI."""
    row = await conn.fetchrow(f"SELECT {_REMOTE_COLUMNS} FROM remote_actors WHERE uri = $1", uri)
    return None if row is None else _remote_actor(row)


async def select_followers_uri(conn: Connection, uri: str) -> str | None:
    """The followers collection of the remote actor with this URI, if we keep the actor."""
    # One column, not select_remote_actor: each post received needs only this, and its author's
    # row carries the whole actor document, which would be decoded for nothing.
    followers_uri: str | None = await conn.fetchval(
        "SELECT followers_uri FROM remote_actors WHERE uri = $1", uri
    )
    return followers_uri


async def select_remote_actor_by_key_id(conn: Connection, key_id: str) -> RemoteActor | None:
    """The remote actor whose public key has this id."""
    row = await conn.fetchrow(
        f"SELECT {_REMOTE_COLUMNS} FROM remote_actors WHERE key_id = $1 AND deleted_at IS NULL",
        key_id,
    )
    return None if row is None else _remote_actor(row)


async def select_public_key(conn: Connection, key_id: str) -> tuple[str, str] | None:
    """The owner and PEM of a known remote key: what an inbox POST needs, without the rest of
    the actor (its raw document is not decoded on every delivery)."""
    row = await conn.fetchrow(
        "SELECT uri, public_key_pem FROM remote_actors"
        " WHERE key_id = $1 AND deleted_at IS NULL AND public_key_pem IS NOT NULL",
        key_id,
    )
    return None if row is None or not row["public_key_pem"] else (row["uri"], row["public_key_pem"])


async def select_remote_actors(conn: Connection, uris: list[str]) -> list[RemoteActor]:
    """The known remote actors among these URIs."""
    rows = await conn.fetch(
        f"""SELECT {_REMOTE_COLUMNS} FROM remote_actors
             WHERE uri = ANY($1::text[]) AND deleted_at IS NULL""",
        uris,
    )
    return [_remote_actor(row) for row in rows]


async def mark_remote_actor_deleted(conn: Connection, uri: str, when: datetime) -> None:
    """Remember that a remote actor deleted itself (its key stops verifying anything)."""
    await conn.execute(
        "UPDATE remote_actors SET deleted_at = $2, key_id = NULL WHERE uri = $1", uri, when
    )


async def update_remote_actor_moved(conn: Connection, uri: str, target: str) -> None:
    """Record where a remote actor moved to."""
    await conn.execute("UPDATE remote_actors SET moved_to = $2 WHERE uri = $1", uri, target)


async def select_remote_actor_by_handle(
    conn: Connection, username: str, domain: str
) -> RemoteActor | None:
    """A known remote actor by @username@domain, whatever the case."""
    row = await conn.fetchrow(
        f"""SELECT {_REMOTE_COLUMNS} FROM remote_actors
             WHERE lower(username) = lower($1) AND domain = lower($2) AND deleted_at IS NULL
             ORDER BY fetched_at DESC LIMIT 1""",
        username,
        domain,
    )
    return None if row is None else _remote_actor(row)


async def update_missing_keys(
    conn: Connection, actor_id: int, public_key_pem: str, private_key_pem: str
) -> None:
    """Give an actor its key pair unless it already has one."""
    await conn.execute(
        """UPDATE actors SET public_key_pem = $2, private_key_pem = $3, updated_at = now()
            WHERE id = $1 AND public_key_pem IS NULL""",
        actor_id,
        public_key_pem,
        private_key_pem,
    )


async def select_territory_actor_ids(conn: Connection, territory_ids: list[int]) -> set[int]:
    """Which of these territories already have an actor."""
    rows = await conn.fetch(
        "SELECT territory_id FROM actors WHERE territory_id = ANY($1::bigint[])", territory_ids
    )
    return {row["territory_id"] for row in rows}


async def select_taken_usernames(conn: Connection) -> set[str]:
    """Every local username, lower-cased."""
    rows = await conn.fetch("SELECT lower(username) AS name FROM actors")
    return {row["name"] for row in rows}


async def insert_territory_actors(conn: Connection, rows: list[tuple[int, str, str]]) -> None:
    """Create territory actors (territory id, username, display name) without keys."""
    await conn.execute(
        """INSERT INTO actors (territory_id, username, display_name, kind)
           SELECT t.territory_id, t.username, t.display_name, 'territory'
             FROM unnest($1::bigint[], $2::text[], $3::text[])
                  AS t(territory_id, username, display_name)
           ON CONFLICT DO NOTHING""",
        [row[0] for row in rows],
        [row[1] for row in rows],
        [row[2] for row in rows],
    )


async def select_territory_actor(conn: Connection, territory_id: int) -> Actor | None:
    """The actor of a territory."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM actors WHERE territory_id = $1", territory_id
    )
    return None if row is None else Actor(**record_dict(row))


async def update_home_territory(conn: Connection, actor_id: int, territory_id: int | None) -> None:
    """Set where an actor communects (its home territory)."""
    await conn.execute(
        "UPDATE actors SET home_territory_id = $2, updated_at = now() WHERE id = $1",
        actor_id,
        territory_id,
    )


async def select_actors_in_territory(
    conn: Connection,
    territory_id: int,
    *,
    limit: int,
    before: tuple[datetime, int] | None = None,
) -> list[Actor]:
    """Discoverable citizens and organisations whose home is this territory or below it, newest
    first, keyset-paged by (arrival, id): `before` is the last one of the page seen."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM actors
             WHERE kind IN ('person', 'organization') AND discoverable AND deleted_at IS NULL
               AND home_territory_id IN (SELECT descendant_id FROM territory_ancestors
                                          WHERE ancestor_id = $1)
               AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
             ORDER BY created_at DESC, id DESC
             LIMIT $4""",
        territory_id,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return [Actor(**record_dict(row)) for row in rows]


async def insert_instance_actor(
    conn: Connection, public_key_pem: str, private_key_pem: str
) -> None:
    """Create the instance actor with its key pair, unless a concurrent start made it first."""
    await conn.execute(
        """INSERT INTO actors (username, kind, public_key_pem, private_key_pem)
           VALUES ($1, 'application', $2, $3)
           ON CONFLICT DO NOTHING""",
        INSTANCE_ACTOR_USERNAME,
        public_key_pem,
        private_key_pem,
    )


async def select_known_actors(
    conn: Connection, local: dict[str, str], remote: list[str]
) -> list[KnownActor]:
    """In one statement, local actors (URI -> username) and known remote ones, by URI."""
    rows = await conn.fetch(
        """SELECT l.uri, a.display_name AS name, a.username, NULL AS domain, a.kind,
                  NULL AS url, true AS local, a.avatar_name AS avatar
             FROM unnest($1::text[], $2::text[]) AS l (uri, username)
             JOIN actors a ON lower(a.username) = lower(l.username)
            WHERE a.kind <> 'application'
           UNION ALL
           SELECT r.uri, r.display_name, r.username, r.domain, lower(r.type), r.url, false,
                  r.icon_url
             FROM remote_actors r
            WHERE r.uri = ANY($3::text[]) AND r.deleted_at IS NULL""",
        list(local),
        list(local.values()),
        remote,
    )
    return [KnownActor(**record_dict(row)) for row in rows]
