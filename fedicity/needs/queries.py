"""SQL for needs and offers to help."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fedicity.db.pool import Connection, record_dict
from fedicity.needs.models import Need, NeedData, NeedOffer

_NEED_COLUMNS = (
    "id, uri, token, owner_uri, local_owner_id, title, description_source, description_html,"
    " kind, quantity, starts_on, ends_on, state, raw, created_at, updated_at, deleted_at"
)
_OFFER_COLUMNS = "id, need_id, helper_uri, message, state, activity_uri, created_at, updated_at"


def _need(row: Any) -> Need:
    values = dict(row.items())
    raw = values["raw"]
    # The pool decodes jsonb; a connection without its codecs hands back text.
    values["raw"] = json.loads(raw) if isinstance(raw, str) else raw
    return Need(**values)


async def upsert_need(conn: Connection, data: NeedData, now: datetime) -> tuple[Need, bool]:
    """Store a need by its id, or replace what it says (a deleted one stays deleted); the row and
    whether it is new."""
    row = await conn.fetchrow(
        f"""INSERT INTO needs (uri, token, owner_uri, local_owner_id, title, description_source,
                               description_html, kind, quantity, starts_on, ends_on, state, raw,
                               created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
            ON CONFLICT (uri) DO UPDATE SET
                title = EXCLUDED.title, description_source = EXCLUDED.description_source,
                description_html = EXCLUDED.description_html, kind = EXCLUDED.kind,
                quantity = EXCLUDED.quantity, starts_on = EXCLUDED.starts_on,
                ends_on = EXCLUDED.ends_on, state = EXCLUDED.state, raw = EXCLUDED.raw,
                updated_at = EXCLUDED.updated_at
              WHERE needs.deleted_at IS NULL AND needs.owner_uri = EXCLUDED.owner_uri
            RETURNING {_NEED_COLUMNS}, (xmax = 0) AS inserted""",
        data.uri,
        data.token,
        data.owner_uri,
        data.local_owner_id,
        data.title,
        data.description_source,
        data.description_html,
        data.kind,
        data.quantity,
        data.starts_on,
        data.ends_on,
        data.state,
        data.raw,
        now,
    )
    if row is None:
        # A conflict the WHERE refused: deleted, or another owner's id. Nothing changed.
        found = await select_need(conn, data.uri)
        assert found is not None
        return found, False
    values = dict(row.items())
    inserted = bool(values.pop("inserted"))
    return _need(values), inserted


async def select_need(conn: Connection, uri: str) -> Need | None:
    """A need by its id, deleted or not."""
    row = await conn.fetchrow(f"SELECT {_NEED_COLUMNS} FROM needs WHERE uri = $1", uri)
    return _need(row) if row else None


async def select_need_by_id(conn: Connection, need_id: int) -> Need | None:
    """A need by its row id."""
    row = await conn.fetchrow(f"SELECT {_NEED_COLUMNS} FROM needs WHERE id = $1", need_id)
    return _need(row) if row else None


async def select_need_by_token(conn: Connection, token: str) -> Need | None:
    """A local need by its token, deleted or not."""
    row = await conn.fetchrow(f"SELECT {_NEED_COLUMNS} FROM needs WHERE token = $1", token)
    return _need(row) if row else None


async def select_owner_needs(
    conn: Connection,
    owner_uri: str,
    *,
    states: tuple[str, ...],
    limit: int,
    before_id: int | None = None,
) -> list[Need]:
    """An owner's needs in these states, newest first, keyset-paged by id."""
    rows = await conn.fetch(
        f"""SELECT {_NEED_COLUMNS} FROM needs
             WHERE owner_uri = $1 AND deleted_at IS NULL AND state = ANY($2::text[])
               AND ($3::bigint IS NULL OR id < $3)
             ORDER BY id DESC LIMIT $4""",
        owner_uri,
        list(states),
        before_id,
        limit,
    )
    return [_need(row) for row in rows]


async def count_owner_needs(conn: Connection, owner_uri: str) -> int:
    """How many needs an owner has (not deleted), for its collection's totalItems."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM needs WHERE owner_uri = $1 AND deleted_at IS NULL", owner_uri
    )
    return count


async def update_state(conn: Connection, need_id: int, state: str, now: datetime) -> None:
    """Open, fulfilled or closed."""
    await conn.execute(
        "UPDATE needs SET state = $2, updated_at = $3 WHERE id = $1", need_id, state, now
    )


async def mark_deleted(conn: Connection, need_id: int, now: datetime) -> None:
    """Keep the row (its id must not come back) but show it no more."""
    await conn.execute(
        "UPDATE needs SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL",
        need_id,
        now,
    )


def _offer(row: Any) -> NeedOffer:
    return NeedOffer(**record_dict(row))


async def insert_offer(
    conn: Connection,
    *,
    need_id: int,
    helper_uri: str,
    message: str,
    activity_uri: str,
    now: datetime,
) -> NeedOffer | None:
    """A new pending offer; None when the helper already has a live one on this need, or the
    activity was already taken (a redelivered Offer)."""
    row = await conn.fetchrow(
        f"""INSERT INTO need_offers (need_id, helper_uri, message, activity_uri, created_at,
                                     updated_at)
            VALUES ($1, $2, $3, $4, $5, $5)
            ON CONFLICT DO NOTHING RETURNING {_OFFER_COLUMNS}""",
        need_id,
        helper_uri,
        message,
        activity_uri,
        now,
    )
    return _offer(row) if row else None


async def select_offer_by_activity(conn: Connection, activity_uri: str) -> NeedOffer | None:
    """The offer an Offer activity made."""
    row = await conn.fetchrow(
        f"SELECT {_OFFER_COLUMNS} FROM need_offers WHERE activity_uri = $1", activity_uri
    )
    return _offer(row) if row else None


async def select_offer(conn: Connection, offer_id: int) -> NeedOffer | None:
    """An offer by its row id."""
    row = await conn.fetchrow(f"SELECT {_OFFER_COLUMNS} FROM need_offers WHERE id = $1", offer_id)
    return _offer(row) if row else None


async def select_live_offer(conn: Connection, need_id: int, helper_uri: str) -> NeedOffer | None:
    """The helper's standing (pending or accepted) offer on a need, if any."""
    row = await conn.fetchrow(
        f"""SELECT {_OFFER_COLUMNS} FROM need_offers
             WHERE need_id = $1 AND helper_uri = $2 AND state IN ('pending', 'accepted')""",
        need_id,
        helper_uri,
    )
    return _offer(row) if row else None


async def select_live_offers_of(
    conn: Connection, need_ids: list[int], helper_uri: str
) -> dict[int, NeedOffer]:
    """The helper's standing offers on these needs, by need: one statement for a whole list."""
    rows = await conn.fetch(
        f"""SELECT {_OFFER_COLUMNS} FROM need_offers
             WHERE need_id = ANY($1::bigint[]) AND helper_uri = $2
               AND state IN ('pending', 'accepted')""",
        need_ids,
        helper_uri,
    )
    return {row["need_id"]: _offer(row) for row in rows}


async def select_offers(
    conn: Connection, need_id: int, *, states: tuple[str, ...], limit: int
) -> list[NeedOffer]:
    """A need's offers in these states, in the order they came."""
    rows = await conn.fetch(
        f"""SELECT {_OFFER_COLUMNS} FROM need_offers
             WHERE need_id = $1 AND state = ANY($2::text[]) ORDER BY id LIMIT $3""",
        need_id,
        list(states),
        limit,
    )
    return [_offer(row) for row in rows]


async def update_offer_state(conn: Connection, offer_id: int, state: str, now: datetime) -> None:
    """Accepted, declined or withdrawn."""
    await conn.execute(
        "UPDATE need_offers SET state = $2, updated_at = $3 WHERE id = $1", offer_id, state, now
    )


async def count_helpers(conn: Connection, need_ids: list[int]) -> dict[int, int]:
    """Accepted helpers per need."""
    rows = await conn.fetch(
        """SELECT need_id, count(*) AS n FROM need_offers
            WHERE need_id = ANY($1::bigint[]) AND state = 'accepted' GROUP BY need_id""",
        need_ids,
    )
    return {row["need_id"]: row["n"] for row in rows}
