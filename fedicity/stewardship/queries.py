"""SQL of the stewardship package: co-moderation votes (migration 0038), the reports that count,
the territories' Announces of an object, and an item brought back on the territories' pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fedicity.db.pool import Connection, record_dict

VoteState = Literal["open", "adopted", "rejected", "vetoed"]


@dataclass(frozen=True)
class ComoderationVote:
    """A co-moderation vote about one object, and where it stands."""

    id: int
    object_uri: str
    object_kind: str
    territory_id: int | None
    organization_id: int | None
    proposal_id: int
    state: VoteState
    report_ids: list[int]
    opened_at: datetime
    closed_at: datetime | None
    undone_announces: list[str]
    vetoed_by: str | None
    vetoed_at: datetime | None


@dataclass(frozen=True)
class Announced:
    """An Announce one of our territory actors published of an object."""

    uri: str
    actor_id: int
    raw: dict[str, Any]


_COLUMNS = """id, object_uri, object_kind, territory_id, organization_id, proposal_id, state,
              report_ids, opened_at, closed_at, undone_announces, vetoed_by, vetoed_at"""


def _vote(row: object) -> ComoderationVote:
    values = record_dict(row)  # type: ignore[arg-type]
    values["report_ids"] = list(values["report_ids"])
    values["undone_announces"] = list(values["undone_announces"])
    return ComoderationVote(**values)


async def select_counting_reports(
    conn: Connection, object_uri: str, owner_uri: str | None
) -> dict[int, tuple[int, str]]:
    """The open reports of local accounts naming the object, one per account (its first), by
    account: (report, reporter). Remote Flags and the owner's own reports do not count."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (reporter_account_id) reporter_account_id, id, reporter
             FROM reports
            WHERE resolved_at IS NULL AND origin = 'local' AND reporter_account_id IS NOT NULL
              AND $1 = ANY(targets) AND reporter IS DISTINCT FROM $2
            ORDER BY reporter_account_id, id""",
        object_uri,
        owner_uri,
    )
    return {row["reporter_account_id"]: (row["id"], row["reporter"]) for row in rows}


async def select_open_report_ids(conn: Connection, object_uri: str) -> list[int]:
    """Every open report naming the object, local or received."""
    rows = await conn.fetch(
        """SELECT id FROM reports WHERE resolved_at IS NULL AND $1 = ANY(targets)
            ORDER BY id""",
        object_uri,
    )
    return [row["id"] for row in rows]


async def lock_object(conn: Connection, object_uri: str) -> None:
    """Serialise the opening of an object's vote until the transaction ends (two reports filed
    at once both see the threshold reached; one opens it)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 38))", object_uri)


async def insert_vote(
    conn: Connection,
    *,
    object_uri: str,
    object_kind: str,
    territory_id: int | None,
    organization_id: int | None,
    proposal_id: int,
    report_ids: list[int],
    now: datetime,
) -> ComoderationVote | None:
    """Record an opened vote; None when the object had one already (once per object)."""
    row = await conn.fetchrow(
        f"""INSERT INTO comoderation_votes (object_uri, object_kind, territory_id,
                                            organization_id, proposal_id, report_ids, opened_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (object_uri) DO NOTHING RETURNING {_COLUMNS}""",
        object_uri,
        object_kind,
        territory_id,
        organization_id,
        proposal_id,
        report_ids,
        now,
    )
    return None if row is None else _vote(row)


async def exists_for(conn: Connection, object_uri: str) -> bool:
    """Whether the object ever had a co-moderation vote."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM comoderation_votes WHERE object_uri = $1)", object_uri
    )
    return found


async def select_vote(
    conn: Connection, vote_id: int, *, for_update: bool = False
) -> ComoderationVote | None:
    """One vote by its number (locked until the transaction ends when asked)."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM comoderation_votes WHERE id = $1{lock}", vote_id
    )
    return None if row is None else _vote(row)


async def select_votes_about(conn: Connection, object_uris: list[str]) -> list[ComoderationVote]:
    """The votes about these objects (a report's page)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM comoderation_votes WHERE object_uri = ANY($1::text[]) ORDER BY id",
        object_uris,
    )
    return [_vote(row) for row in rows]


async def select_votes_page(
    conn: Connection,
    *,
    limit: int,
    everything: bool,
    organization_ids: list[int],
    territory_ids: list[int],
) -> list[ComoderationVote]:
    """Open votes and those adopted (a veto may still bring the object back), newest first;
    unless `everything`, only those of these organisations or territories (and below)."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM comoderation_votes v
             WHERE v.state IN ('open', 'adopted')
               AND ($1 OR v.organization_id = ANY($2::bigint[])
                    OR EXISTS (SELECT 1 FROM territory_ancestors ta
                                WHERE ta.descendant_id = v.territory_id
                                  AND ta.ancestor_id = ANY($3::bigint[])))
             ORDER BY v.id DESC LIMIT $4""",
        everything,
        organization_ids,
        territory_ids,
        limit,
    )
    return [_vote(row) for row in rows]


async def claim_settled(conn: Connection, *, limit: int) -> list[ComoderationVote]:
    """Open votes whose proposal has closed, locked (SKIP LOCKED: several workers share them)."""
    rows = await conn.fetch(
        f"""SELECT {", ".join("v." + c.strip() for c in _COLUMNS.split(","))}
              FROM comoderation_votes v JOIN proposals p ON p.id = v.proposal_id
             WHERE v.state = 'open' AND p.state IN ('closed', 'archived')
             ORDER BY v.id LIMIT $1 FOR UPDATE OF v SKIP LOCKED""",
        limit,
    )
    return [_vote(row) for row in rows]


async def set_state(
    conn: Connection,
    vote_id: int,
    state: VoteState,
    *,
    now: datetime,
    undone: list[str] | None = None,
    vetoed_by: str | None = None,
) -> None:
    """Settle a vote (adopted, rejected) or veto it, with what was undone and by whom."""
    await conn.execute(
        """UPDATE comoderation_votes
              SET state = $2, closed_at = coalesce(closed_at, $3),
                  undone_announces = coalesce($4::text[], undone_announces),
                  vetoed_by = coalesce($5, vetoed_by),
                  vetoed_at = CASE WHEN $5::text IS NULL THEN vetoed_at ELSE $3 END
            WHERE id = $1""",
        vote_id,
        state,
        now,
        undone,
        vetoed_by[:200] if vetoed_by else None,
    )


async def select_territory_announces(conn: Connection, object_uri: str) -> list[Announced]:
    """The Announces our territory actors published of the activity that carries the object
    (the index of migration 0038)."""
    rows = await conn.fetch(
        """SELECT oa.uri, oa.actor_id, oa.raw FROM outbox_activities oa
              JOIN actors a ON a.id = oa.actor_id AND a.kind = 'territory'
             WHERE oa.type = 'Announce'
               AND coalesce(oa.raw -> 'object' -> 'object' ->> 'id',
                            oa.raw -> 'object' ->> 'object') = $1
             ORDER BY oa.id""",
        object_uri,
    )
    return [Announced(row["uri"], row["actor_id"], row["raw"]) for row in rows]


async def select_announces(conn: Connection, uris: list[str]) -> list[Announced]:
    """Announces of ours by their ids (those a vote undid)."""
    rows = await conn.fetch(
        """SELECT uri, actor_id, raw FROM outbox_activities
            WHERE type = 'Announce' AND uri = ANY($1::text[]) ORDER BY id""",
        uris,
    )
    return [Announced(row["uri"], row["actor_id"], row["raw"]) for row in rows]


async def restore_item(conn: Connection, object_uri: str) -> bool:
    """Bring a hidden located item back on the territories' pages."""
    status = await conn.execute(
        """UPDATE located_items SET deleted_at = NULL
            WHERE object_uri = $1 AND deleted_at IS NOT NULL""",
        object_uri,
    )
    return status != "UPDATE 0"
