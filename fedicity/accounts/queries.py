"""SQL for accounts; connection first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fedicity.accounts.models import Account, ApiToken, Session
from fedicity.db.pool import Connection, record_dict

_SELECT = """SELECT a.id, a.actor_id, act.username, a.email, a.password_hash, a.is_admin,
                    a.locale, a.session_epoch, a.created_at, a.last_login_at
               FROM accounts a JOIN actors act ON act.id = a.actor_id"""


async def insert_account(
    conn: Connection,
    *,
    actor_id: int,
    email: str | None,
    password_hash: str,
    is_admin: bool,
    locale: str | None,
) -> int:
    """Insert an account and return its id."""
    account_id: int = await conn.fetchval(
        """INSERT INTO accounts (actor_id, email, password_hash, is_admin, locale)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        actor_id,
        email,
        password_hash,
        is_admin,
        locale,
    )
    return account_id


async def select_account_by_id(conn: Connection, account_id: int) -> Account | None:
    """The account with this id."""
    row = await conn.fetchrow(f"{_SELECT} WHERE a.id = $1", account_id)
    return None if row is None else Account(**record_dict(row))


async def select_account_by_login(conn: Connection, login: str) -> Account | None:
    """The account whose username or e-mail is `login`, whatever its case."""
    row = await conn.fetchrow(
        f"{_SELECT} WHERE lower(act.username) = lower($1) OR lower(a.email) = lower($1)", login
    )
    return None if row is None else Account(**record_dict(row))


async def select_email_taken(conn: Connection, email: str) -> bool:
    """Whether an account already uses this e-mail address."""
    taken: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE lower(email) = lower($1))", email
    )
    return taken


async def select_accounts_page(conn: Connection, *, limit: int, after_id: int = 0) -> list[Account]:
    """Accounts in creation order, paged by id."""
    rows = await conn.fetch(f"{_SELECT} WHERE a.id > $1 ORDER BY a.id LIMIT $2", after_id, limit)
    return [Account(**record_dict(row)) for row in rows]


async def update_password(conn: Connection, account_id: int, password_hash: str) -> None:
    """Store a new password hash and move the session epoch on (the caller revokes sessions)."""
    await conn.execute(
        """UPDATE accounts SET password_hash = $2, session_epoch = session_epoch + 1
            WHERE id = $1""",
        account_id,
        password_hash,
    )


async def update_rehash(conn: Connection, account_id: int, password_hash: str) -> None:
    """Store a hash recomputed with current parameters (sessions stay valid)."""
    await conn.execute(
        "UPDATE accounts SET password_hash = $2 WHERE id = $1", account_id, password_hash
    )


async def update_last_login(conn: Connection, account_id: int, when: datetime) -> None:
    """Record a successful login."""
    await conn.execute("UPDATE accounts SET last_login_at = $2 WHERE id = $1", account_id, when)


async def update_locale(conn: Connection, account_id: int, locale: str | None) -> None:
    """Set the account's interface language."""
    await conn.execute("UPDATE accounts SET locale = $2 WHERE id = $1", account_id, locale)


async def count_accounts(conn: Connection) -> int:
    """How many accounts exist."""
    count: int = await conn.fetchval("SELECT count(*) FROM accounts")
    return count


async def count_active_accounts(conn: Connection, since: datetime) -> int:
    """Accounts that logged in (or were created) since a moment, for NodeInfo usage."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM accounts WHERE greatest(last_login_at, created_at) >= $1", since
    )
    return count


async def select_registration_open(conn: Connection) -> bool | None:
    """The admin's registration switch, or None when the admin never set it."""
    value: bool | None = await conn.fetchval("SELECT registration_open FROM instance_config")
    return value


async def update_registration_open(conn: Connection, value: bool) -> None:
    """Open or close registration."""
    await conn.execute(
        "UPDATE instance_config SET registration_open = $1, updated_at = now()", value
    )


# --- sessions --------------------------------------------------------------------------------

_SESSION = "s.id, s.account_id, s.created_at, s.last_seen_at, s.user_agent, s.ip, s.revoked_at"


async def insert_session(
    conn: Connection,
    *,
    token_hash: bytes,
    account_id: int,
    now: datetime,
    user_agent: str,
    ip: str,
) -> int:
    """Record a new session and return its id."""
    session_id: int = await conn.fetchval(
        """INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, user_agent, ip)
           VALUES ($1, $2, $3, $3, $4, $5) RETURNING id""",
        token_hash,
        account_id,
        now,
        user_agent,
        ip,
    )
    return session_id


async def select_session_account(
    conn: Connection, token_hash: bytes, seen_since: datetime
) -> tuple[Account, Session] | None:
    """The live session with this token and its account: one indexed lookup per request."""
    row = await conn.fetchrow(
        """SELECT a.id, a.actor_id, act.username, a.email, a.password_hash, a.is_admin,
                   a.locale, a.session_epoch, a.created_at, a.last_login_at,
                   s.id AS s_id, s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at,
                   s.user_agent AS s_user_agent, s.ip AS s_ip
              FROM sessions s
              JOIN accounts a ON a.id = s.account_id
              JOIN actors act ON act.id = a.actor_id
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.last_seen_at > $2
               -- A suspended account's sessions are dead even if one escaped the revocation.
               AND NOT EXISTS (SELECT 1 FROM actor_restrictions r
                                WHERE r.local_actor_id = act.id AND r.level = 'suspend')""",
        token_hash,
        seen_since,
    )
    if row is None:
        return None
    values = record_dict(row)
    session = Session(
        id=values.pop("s_id"),
        account_id=values["id"],
        created_at=values.pop("s_created_at"),
        last_seen_at=values.pop("s_last_seen_at"),
        user_agent=values.pop("s_user_agent"),
        ip=values.pop("s_ip"),
        revoked_at=None,
    )
    return Account(**values), session


async def update_session_seen(conn: Connection, session_id: int, now: datetime, ip: str) -> None:
    """Record that a session was used now, from this address."""
    await conn.execute(
        "UPDATE sessions SET last_seen_at = $2, ip = $3 WHERE id = $1", session_id, now, ip
    )


async def select_live_sessions(
    conn: Connection, account_id: int, seen_since: datetime, *, limit: int
) -> list[Session]:
    """An account's sessions that are neither revoked nor idle too long, latest used first."""
    rows = await conn.fetch(
        f"""SELECT {_SESSION} FROM sessions s
             WHERE s.account_id = $1 AND s.revoked_at IS NULL AND s.last_seen_at > $2
             ORDER BY s.last_seen_at DESC, s.id DESC LIMIT $3""",
        account_id,
        seen_since,
        limit,
    )
    return [Session(**record_dict(row)) for row in rows]


async def select_seen_from(
    conn: Connection, account_id: int, ip: str, seen_since: datetime
) -> bool:
    """Whether the account had a session used from this address since a moment."""
    seen: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM sessions
                           WHERE account_id = $1 AND ip = $2 AND last_seen_at > $3)""",
        account_id,
        ip,
        seen_since,
    )
    return seen


async def revoke_session_by_token(conn: Connection, token_hash: bytes, now: datetime) -> None:
    """End the session with this token."""
    await conn.execute(
        "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash,
        now,
    )


async def revoke_session(conn: Connection, account_id: int, session_id: int, now: datetime) -> bool:
    """End one of an account's sessions; whether there was such a live session."""
    result: str = await conn.execute(
        """UPDATE sessions SET revoked_at = $3
            WHERE id = $2 AND account_id = $1 AND revoked_at IS NULL""",
        account_id,
        session_id,
        now,
    )
    return result != "UPDATE 0"


async def revoke_account_sessions(conn: Connection, account_id: int, now: datetime) -> int:
    """End every session of an account; how many were live."""
    result: str = await conn.execute(
        "UPDATE sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
        account_id,
        now,
    )
    return int(result.split()[-1])


async def delete_dead_sessions(conn: Connection, before: datetime, batch: int) -> int:
    """Remove up to `batch` sessions last used before a moment (revoked ones included: they are
    no longer used); how many went."""
    result: str = await conn.execute(
        """DELETE FROM sessions WHERE id IN (
               SELECT id FROM sessions WHERE last_seen_at < $1 LIMIT $2)""",
        before,
        batch,
    )
    return int(result.split()[-1])


async def select_account_by_actor(conn: Connection, actor_id: int) -> Account | None:
    """The login of a local actor, if it has one."""
    row = await conn.fetchrow(f"{_SELECT} WHERE a.actor_id = $1", actor_id)
    return None if row is None else Account(**record_dict(row))


async def cancel_pending_deliveries(conn: Connection, actor_id: int) -> int:
    """Drop what an actor's outbox still had to deliver (a suspended account sends nothing)."""
    status = await conn.execute(
        """DELETE FROM deliveries d USING outbox_activities o
            WHERE d.activity_id = o.id AND o.actor_id = $1 AND d.state = 'pending'""",
        actor_id,
    )
    return int(status.rsplit(" ", 1)[-1])


async def select_account_by_email(conn: Connection, email: str) -> Account | None:
    """The account with this e-mail address, whatever its case."""
    row = await conn.fetchrow(f"{_SELECT} WHERE lower(a.email) = lower($1)", email)
    return None if row is None else Account(**record_dict(row))


# --- password resets --------------------------------------------------------------------------


async def insert_password_reset(
    conn: Connection, *, token_hash: bytes, account_id: int, now: datetime, expires_at: datetime
) -> None:
    """Record a reset link (its token's hash)."""
    await conn.execute(
        """INSERT INTO password_resets (token_hash, account_id, created_at, expires_at)
           VALUES ($1, $2, $3, $4)""",
        token_hash,
        account_id,
        now,
        expires_at,
    )


async def select_live_reset(conn: Connection, token_hash: bytes, now: datetime) -> int | None:
    """The account a reset token opens, when it is unused and unexpired."""
    account_id: int | None = await conn.fetchval(
        """SELECT account_id FROM password_resets
            WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2""",
        token_hash,
        now,
    )
    return account_id


async def use_reset(conn: Connection, token_hash: bytes, now: datetime) -> int | None:
    """Spend a live reset token (once: of two racing uses, one gets the account id)."""
    account_id: int | None = await conn.fetchval(
        """UPDATE password_resets SET used_at = $2
            WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
        RETURNING account_id""",
        token_hash,
        now,
    )
    return account_id


async def spend_account_resets(conn: Connection, account_id: int, now: datetime) -> None:
    """Spend every other live link of an account (its password just changed)."""
    await conn.execute(
        "UPDATE password_resets SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL",
        account_id,
        now,
    )


async def delete_old_resets(conn: Connection, before: datetime, batch: int) -> int:
    """Forget up to `batch` reset links that expired before a moment; how many went."""
    result: str = await conn.execute(
        """DELETE FROM password_resets WHERE id IN (
               SELECT id FROM password_resets WHERE expires_at < $1 LIMIT $2)""",
        before,
        batch,
    )
    return int(result.split()[-1])


# --- export and closing -----------------------------------------------------------------------
# An account's own data spans the other packages' tables. Reading it out (export) and removing
# it (closing) are the account's operations, done in one place, so these statements live here.


async def select_own_activities(
    conn: Connection, actor_id: int, *, after_id: int, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    """(row id, activity) of everything an actor published, oldest first, keyset-paged."""
    rows = await conn.fetch(
        """SELECT id, raw FROM outbox_activities
            WHERE actor_id = $1 AND id > $2 ORDER BY id LIMIT $3""",
        actor_id,
        after_id,
        limit,
    )
    return [(row["id"], row["raw"]) for row in rows]


async def select_followed_handles(
    conn: Connection, follower: str, local_prefix: str, *, after_id: int, limit: int
) -> list[tuple[int, str | None, str | None]]:
    """(follow id, local username or None, remote user@domain or None) of whom an actor
    follows (accepted), keyset-paged."""
    rows = await conn.fetch(
        """SELECT f.id,
                  CASE WHEN starts_with(f.followee, $2)
                       THEN substr(f.followee, length($2) + 1) END AS local_username,
                  CASE WHEN r.username IS NOT NULL
                       THEN r.username || '@' || r.domain END AS remote_handle
             FROM follows f LEFT JOIN remote_actors r ON r.uri = f.followee
            WHERE f.follower = $1 AND f.state = 'accepted' AND f.id > $3
            ORDER BY f.id LIMIT $4""",
        follower,
        local_prefix,
        after_id,
        limit,
    )
    return [(row["id"], row["local_username"], row["remote_handle"]) for row in rows]


# The per-user lists exported as Mastodon's CSVs, by the name of their file's list.
_CONTROL_TABLES = {"blocks": "user_blocks", "mutes": "user_mutes"}


async def select_control_handles(
    conn: Connection,
    owner_id: int,
    which: str,
    local_prefix: str,
    *,
    after_id: int,
    limit: int,
) -> list[tuple[int, str | None, str | None, bool]]:
    """(row id, local username or None, remote user@domain or None, notifications hidden) of
    whom an actor blocks or mutes (`which`), keyset-paged, oldest first."""
    table = _CONTROL_TABLES[which]
    hidden = "c.notifications" if which == "mutes" else "true"
    rows = await conn.fetch(
        f"""SELECT c.id, {hidden} AS notifications,
                   CASE WHEN starts_with(c.target, $2)
                        THEN substr(c.target, length($2) + 1) END AS local_username,
                   CASE WHEN r.username IS NOT NULL
                        THEN r.username || '@' || r.domain END AS remote_handle
              FROM {table} c LEFT JOIN remote_actors r ON r.uri = c.target
             WHERE c.owner_id = $1 AND c.id > $3
             ORDER BY c.id LIMIT $4""",
        owner_id,
        local_prefix,
        after_id,
        limit,
    )
    return [
        (row["id"], row["local_username"], row["remote_handle"], row["notifications"])
        for row in rows
    ]


async def select_blocked_domains(
    conn: Connection, owner_id: int, *, after_id: int, limit: int
) -> list[tuple[int, str]]:
    """(row id, domain) of the domains an actor blocks, keyset-paged, oldest first."""
    rows = await conn.fetch(
        """SELECT id, domain FROM user_domain_blocks WHERE owner_id = $1 AND id > $2
            ORDER BY id LIMIT $3""",
        owner_id,
        after_id,
        limit,
    )
    return [(row["id"], row["domain"]) for row in rows]


async def select_acquainted_remote_actors(
    conn: Connection, actor_uri: str, *, limit: int
) -> list[str]:
    """Remote actors whose servers know an actor: followers and followed, those who liked,
    shared or answered its posts, and those its posts mention."""
    rows = await conn.fetch(
        """SELECT uri FROM (
               SELECT follower AS uri FROM follows WHERE followee = $1
               UNION SELECT followee FROM follows WHERE follower = $1
               UNION SELECT i.actor_uri FROM interactions i
                       JOIN posts p ON p.uri = i.object_uri WHERE p.author_uri = $1
               UNION SELECT r.author_uri FROM posts r
                       JOIN posts p ON p.uri = r.in_reply_to WHERE p.author_uri = $1
               UNION SELECT m.actor_uri FROM post_mentions m
                       JOIN posts p ON p.id = m.post_id WHERE p.author_uri = $1
           ) AS known
            WHERE uri IN (SELECT uri FROM remote_actors WHERE deleted_at IS NULL)
            LIMIT $2""",
        actor_uri,
        limit,
    )
    return [row["uri"] for row in rows]


async def delete_own_activities(conn: Connection, actor_id: int) -> None:
    """Forget what a closing account published (and the deliveries still pending of it)."""
    await conn.execute("DELETE FROM outbox_activities WHERE actor_id = $1", actor_id)


async def delete_traces(conn: Connection, actor_id: int, actor_uri: str, now: datetime) -> None:
    """Remove a closing account's likes and shares, participations, memberships,
    notifications, blocks and mutes; cancel-delete the events it organised."""
    await conn.execute("DELETE FROM interactions WHERE actor_uri = $1", actor_uri)
    # The actor row stays as a tombstone, so its lists would outlive it: they are its choices,
    # nobody else's to keep.
    for table in ("user_blocks", "user_mutes", "user_domain_blocks", "hidden_boosts"):
        await conn.execute(f"DELETE FROM {table} WHERE owner_id = $1", actor_id)
    await conn.execute("DELETE FROM event_participations WHERE actor_uri = $1", actor_uri)
    await conn.execute("DELETE FROM memberships WHERE member_uri = $1", actor_uri)
    await conn.execute("DELETE FROM notifications WHERE recipient_id = $1", actor_id)
    await conn.execute(
        "UPDATE events SET deleted_at = $2 WHERE local_actor_id = $1 AND deleted_at IS NULL",
        actor_id,
        now,
    )


async def delete_unshared_media(conn: Connection, actor_id: int, media_prefix: str) -> list[str]:
    """Remove the rows of files an actor uploaded first that nothing else shows (another
    actor's picture, a live event's image); the names of the files to remove from disk."""
    rows = await conn.fetch(
        """DELETE FROM media m
            WHERE m.uploaded_by = $1
              AND NOT EXISTS (
                  SELECT 1 FROM actors a
                   WHERE a.id <> $1
                     AND (a.avatar_name = m.sha256 || '.' || m.extension
                          OR a.banner_name = m.sha256 || '.' || m.extension))
              AND NOT EXISTS (
                  SELECT 1 FROM events e
                   WHERE e.deleted_at IS NULL
                     AND e.image_url = $2 || m.sha256 || '.' || m.extension)
        RETURNING m.sha256 || '.' || m.extension AS name""",
        actor_id,
        media_prefix,
    )
    return [row["name"] for row in rows]


async def tombstone_actor(conn: Connection, actor_id: int, now: datetime) -> bool:
    """Empty a closing account's actor and mark it deleted (its row, username and key stay);
    False when it already was."""
    result: str = await conn.execute(
        """UPDATE actors
              SET display_name = '', summary = '', avatar_name = NULL, banner_name = NULL,
                  discoverable = false, home_territory_id = NULL, deleted_at = $2,
                  updated_at = $2
            WHERE id = $1 AND deleted_at IS NULL""",
        actor_id,
        now,
    )
    return result != "UPDATE 0"


async def delete_account(conn: Connection, account_id: int) -> None:
    """Remove the login (its sessions and reset links go with it)."""
    await conn.execute("DELETE FROM accounts WHERE id = $1", account_id)


# --- API tokens ------------------------------------------------------------------------------

_TOKEN_FIELDS = ("id", "account_id", "name", "created_at", "last_used_at", "revoked_at")
_API_TOKEN_COLUMNS = ", ".join(f"t.{name}" for name in _TOKEN_FIELDS)
_TOKEN_AS = ", ".join(f"t.{name} AS tok_{name}" for name in _TOKEN_FIELDS)


async def insert_api_token(
    conn: Connection, *, account_id: int, name: str, token_hash: bytes, now: datetime
) -> ApiToken:
    """Record a new API token."""
    row = await conn.fetchrow(
        f"""INSERT INTO api_tokens AS t (account_id, name, token_hash, created_at)
            VALUES ($1, $2, $3, $4) RETURNING {_API_TOKEN_COLUMNS}""",
        account_id,
        name,
        token_hash,
        now,
    )
    assert row is not None
    return ApiToken(**record_dict(row))


async def count_live_api_tokens(conn: Connection, account_id: int) -> int:
    """How many unrevoked API tokens an account has."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM api_tokens WHERE account_id = $1 AND revoked_at IS NULL",
        account_id,
    )
    return count


async def select_api_tokens(conn: Connection, account_id: int, *, limit: int) -> list[ApiToken]:
    """An account's unrevoked API tokens, newest first."""
    rows = await conn.fetch(
        f"""SELECT {_API_TOKEN_COLUMNS} FROM api_tokens t
             WHERE t.account_id = $1 AND t.revoked_at IS NULL
             ORDER BY t.created_at DESC, t.id DESC LIMIT $2""",
        account_id,
        limit,
    )
    return [ApiToken(**record_dict(row)) for row in rows]


async def revoke_api_token(conn: Connection, account_id: int, token_id: int, now: datetime) -> bool:
    """Revoke one of an account's API tokens; False when it has no such live token."""
    result = await conn.execute(
        """UPDATE api_tokens SET revoked_at = $3
            WHERE id = $2 AND account_id = $1 AND revoked_at IS NULL""",
        account_id,
        token_id,
        now,
    )
    return result != "UPDATE 0"


async def select_api_token_account(
    conn: Connection, token_hash: bytes
) -> tuple[Account, ApiToken] | None:
    """The live API token with this hash and its account (not suspended): one indexed lookup."""
    row = await conn.fetchrow(
        f"""SELECT a.id, a.actor_id, act.username, a.email, a.password_hash, a.is_admin,
                   a.locale, a.session_epoch, a.created_at, a.last_login_at,
                   {_TOKEN_AS}
              FROM api_tokens t
              JOIN accounts a ON a.id = t.account_id
              JOIN actors act ON act.id = a.actor_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM actor_restrictions r
                                WHERE r.local_actor_id = act.id AND r.level = 'suspend')""",
        token_hash,
    )
    if row is None:
        return None
    values = record_dict(row)
    token = ApiToken(
        **{name[4:]: values.pop(name) for name in list(values) if name.startswith("tok_")}
    )
    return Account(**values), token


async def touch_api_token(conn: Connection, token_id: int, now: datetime) -> None:
    """Record that a token was used now."""
    await conn.execute("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1", token_id, now)
