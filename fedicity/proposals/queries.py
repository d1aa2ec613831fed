"""SQL for proposals, rooms, votes and comments."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from fedicity.db.pool import Connection, record_dict
from fedicity.proposals.models import (
    Amendment,
    Attachment,
    Comment,
    Proposal,
    ProposalData,
    Room,
    Tally,
    Vote,
    VoterServer,
)

_DATA_FIELDS = [f.name for f in fields(ProposalData)]
_COLUMNS = ", ".join(["id", *_DATA_FIELDS])
_TUPLES = ("options", "tags", "trusted_vote_domains")


def _proposal(row: object) -> Proposal:
    values: dict[str, Any] = record_dict(row)  # type: ignore[arg-type]
    for key in _TUPLES:
        values[key] = tuple(values[key] or ())
    values["attachments"] = tuple(
        Attachment(href=str(item["href"]), name=str(item["name"]))
        for item in values["attachments"] or []
        if isinstance(item, dict) and "href" in item and "name" in item
    )
    return Proposal(**{key: values[key] for key in ["id", *_DATA_FIELDS]})


async def upsert_proposal(conn: Connection, data: ProposalData) -> Proposal:
    """Insert a proposal, or replace its columns when its URI is known (same author only)."""
    values = asdict(data)
    for key in _TUPLES:
        values[key] = list(values[key])
    values["attachments"] = [{"href": a.href, "name": a.name} for a in data.attachments]
    placeholders = ", ".join(f"${n}" for n in range(1, len(_DATA_FIELDS) + 1))
    updates = ", ".join(
        f"{name} = EXCLUDED.{name}"
        for name in _DATA_FIELDS
        if name not in ("uri", "token", "local_actor_id", "author_uri", "published")
    )
    row = await conn.fetchrow(
        f"""INSERT INTO proposals AS p ({", ".join(_DATA_FIELDS)}) VALUES ({placeholders})
            ON CONFLICT (uri) DO UPDATE SET {updates}
            WHERE p.author_uri = EXCLUDED.author_uri
            RETURNING {_COLUMNS}""",
        *[values[name] for name in _DATA_FIELDS],
    )
    if row is None:
        existing = await select_proposal(conn, data.uri)
        assert existing is not None
        return existing
    return _proposal(row)


async def select_proposal(conn: Connection, uri: str) -> Proposal | None:
    """A proposal by its URI."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM proposals WHERE uri = $1", uri)
    return _proposal(row) if row else None


async def select_proposal_by_token(conn: Connection, token: str) -> Proposal | None:
    """A local proposal by its URL token."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM proposals WHERE token = $1", token)
    return _proposal(row) if row else None


async def select_proposal_by_id(conn: Connection, proposal_id: int) -> Proposal | None:
    """A proposal by its row id, for reading (no lock)."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM proposals WHERE id = $1", proposal_id)
    return _proposal(row) if row else None


async def select_proposal_for_update(conn: Connection, proposal_id: int) -> Proposal | None:
    """A proposal, locked until the transaction ends (votes and state changes serialise)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM proposals WHERE id = $1 FOR UPDATE", proposal_id
    )
    return _proposal(row) if row else None


def _vote(row: object) -> Vote:
    values = record_dict(row)  # type: ignore[arg-type]
    values["options"] = tuple(values["options"])
    values["activity_uris"] = tuple(values["activity_uris"])
    return Vote(**values)


_VOTE_COLUMNS = """id, proposal_id, voter_uri, options, activity_uris, local, created_at,
                   updated_at"""


async def select_vote(conn: Connection, proposal_id: int, voter_uri: str) -> Vote | None:
    """One voter's ballot."""
    row = await conn.fetchrow(
        f"""SELECT {_VOTE_COLUMNS} FROM proposal_votes
             WHERE proposal_id = $1 AND voter_uri = $2""",
        proposal_id,
        voter_uri,
    )
    return _vote(row) if row else None


async def upsert_vote(
    conn: Connection,
    *,
    proposal_id: int,
    voter_uri: str,
    options: list[str],
    activity_uris: list[str],
    local: bool,
    now: datetime,
) -> Vote:
    """Record a ballot, replacing the voter's earlier one (the caller decides whether it may)."""
    row = await conn.fetchrow(
        f"""INSERT INTO proposal_votes
                (proposal_id, voter_uri, options, activity_uris, local, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $6)
            ON CONFLICT (proposal_id, voter_uri) DO UPDATE SET
                options = EXCLUDED.options, activity_uris = EXCLUDED.activity_uris,
                updated_at = EXCLUDED.updated_at
            RETURNING {_VOTE_COLUMNS}""",
        proposal_id,
        voter_uri,
        options,
        activity_uris,
        local,
        now,
    )
    assert row is not None
    return _vote(row)


async def select_voters(conn: Connection, proposal_id: int) -> list[Vote]:
    """Every ballot, oldest first (callers must not show them for anonymous proposals)."""
    rows = await conn.fetch(
        f"""SELECT {_VOTE_COLUMNS} FROM proposal_votes WHERE proposal_id = $1
             ORDER BY created_at, id""",
        proposal_id,
    )
    return [_vote(row) for row in rows]


async def select_remote_voter_uris(conn: Connection, proposal_id: int) -> list[str]:
    """Who voted from another server: they get the Update(Question)s."""
    rows = await conn.fetch(
        "SELECT voter_uri FROM proposal_votes WHERE proposal_id = $1 AND NOT local", proposal_id
    )
    return [row["voter_uri"] for row in rows]


# A remote ballot counts when its voter's server is one the proposal (p) or the instance trusts.
_TRUSTED_HOST = """(v.voter_host = ANY(p.trusted_vote_domains)
                    OR v.voter_host IN (SELECT domain FROM vote_trusted_domains))"""


async def tally(conn: Connection, proposal_id: int) -> Tally:
    """Counts per option, local and federated apart, and the federated ones from servers the
    proposal or the instance trusts."""
    rows = await conn.fetch(
        f"""SELECT v.local, option, count(*) AS n,
                  count(*) FILTER (WHERE NOT v.local AND {_TRUSTED_HOST}) AS trusted
             FROM proposal_votes v JOIN proposals p ON p.id = v.proposal_id,
                  unnest(v.options) AS option
            WHERE v.proposal_id = $1 GROUP BY v.local, option""",
        proposal_id,
    )
    voters = await conn.fetchrow(
        f"""SELECT count(*) FILTER (WHERE v.local) AS local,
                  count(*) FILTER (WHERE NOT v.local) AS federated,
                  count(*) FILTER (WHERE NOT v.local AND {_TRUSTED_HOST}) AS trusted
             FROM proposal_votes v JOIN proposals p ON p.id = v.proposal_id
            WHERE v.proposal_id = $1""",
        proposal_id,
    )
    assert voters is not None
    return Tally(
        local={row["option"]: row["n"] for row in rows if row["local"]},
        federated={row["option"]: row["n"] for row in rows if not row["local"]},
        trusted={row["option"]: row["trusted"] for row in rows if row["trusted"]},
        local_voters=voters["local"],
        federated_voters=voters["federated"],
        trusted_voters=voters["trusted"],
    )


async def select_voter_servers(conn: Connection, proposal_id: int) -> list[VoterServer]:
    """The servers remote voters of a proposal came from, each with its number of voters and
    whether it is trusted; most voters first (at most 100 servers)."""
    rows = await conn.fetch(
        f"""SELECT coalesce(v.voter_host, '') AS host, count(*) AS voters,
                  bool_or({_TRUSTED_HOST}) AS trusted
             FROM proposal_votes v JOIN proposals p ON p.id = v.proposal_id
            WHERE v.proposal_id = $1 AND NOT v.local
            GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 100""",
        proposal_id,
    )
    return [
        VoterServer(host=row["host"], voters=row["voters"], trusted=bool(row["trusted"]))
        for row in rows
    ]


_COMMENT = """id, proposal_id, author_uri, stance, content_html, published, uri, local,
              content_source"""


async def insert_comment(
    conn: Connection,
    *,
    proposal_id: int,
    author_uri: str,
    stance: str,
    content_html: str,
    now: datetime,
    uri: str,
    local: bool = True,
    content_source: str | None = None,
) -> Comment | None:
    """A new comment with its stance (None when its URI is already known)."""
    row = await conn.fetchrow(
        f"""INSERT INTO proposal_comments
                (proposal_id, author_uri, stance, content_html, published, uri, local,
                 content_source)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (uri) DO NOTHING
            RETURNING {_COMMENT}""",
        proposal_id,
        author_uri,
        stance,
        content_html,
        now,
        uri,
        local,
        content_source,
    )
    return Comment(**record_dict(row)) if row else None


async def select_comments(
    conn: Connection,
    proposal_id: int,
    *,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> list[Comment]:
    """A proposal's comments, oldest first, keyset-paged by (moment, id): `after` is the last
    comment of the page seen."""
    rows = await conn.fetch(
        f"""SELECT {_COMMENT} FROM proposal_comments WHERE proposal_id = $1
               AND ($3::timestamptz IS NULL OR (published, id) > ($3, $4))
             ORDER BY published, id LIMIT $2""",
        proposal_id,
        limit,
        after[0] if after else None,
        after[1] if after else None,
    )
    return [Comment(**record_dict(row)) for row in rows]


async def select_comment(conn: Connection, uri: str) -> Comment | None:
    """A comment by its id."""
    row = await conn.fetchrow(f"SELECT {_COMMENT} FROM proposal_comments WHERE uri = $1", uri)
    return Comment(**record_dict(row)) if row else None


async def update_comment(
    conn: Connection,
    *,
    uri: str,
    author_uri: str,
    stance: str,
    content_html: str,
    content_source: str | None = None,
) -> Comment | None:
    """Replace a comment's text and stance if `author_uri` wrote it (None otherwise)."""
    row = await conn.fetchrow(
        f"""UPDATE proposal_comments SET stance = $3, content_html = $4, content_source = $5
             WHERE uri = $1 AND author_uri = $2
            RETURNING {_COMMENT}""",
        uri,
        author_uri,
        stance,
        content_html,
        content_source,
    )
    return Comment(**record_dict(row)) if row else None


async def delete_comment(conn: Connection, *, uri: str, author_uri: str) -> bool:
    """Remove a comment if `author_uri` wrote it; whether it did."""
    status: str = await conn.execute(
        "DELETE FROM proposal_comments WHERE uri = $1 AND author_uri = $2", uri, author_uri
    )
    return status != "DELETE 0"


async def count_comments(conn: Connection, proposal_id: int) -> int:
    """How many comments a proposal has."""
    found: int = await conn.fetchval(
        "SELECT count(*) FROM proposal_comments WHERE proposal_id = $1", proposal_id
    )
    return found


async def select_follower_uris(conn: Connection, followee: str) -> list[str]:
    """Accepted followers of an actor (local or remote), by URI."""
    rows = await conn.fetch(
        "SELECT follower FROM follows WHERE followee = $1 AND state = 'accepted'", followee
    )
    return [row["follower"] for row in rows]


# --- rooms --------------------------------------------------------------------------------------

_ROOM = """id, token, uri, name, description_html, organization_id, territory_id, status,
           members_only, created_by, created_at, updated_at"""


async def insert_room(
    conn: Connection,
    *,
    token: str,
    uri: str,
    name: str,
    description_html: str,
    organization_id: int | None,
    territory_id: int | None,
    members_only: bool,
    created_by: str,
    now: datetime,
) -> Room:
    """A new open room."""
    row = await conn.fetchrow(
        f"""INSERT INTO rooms (token, uri, name, description_html, organization_id,
                               territory_id, members_only, created_by, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            RETURNING {_ROOM}""",
        token,
        uri,
        name,
        description_html,
        organization_id,
        territory_id,
        members_only,
        created_by,
        now,
    )
    assert row is not None
    return Room(**record_dict(row))


async def select_room(conn: Connection, room_id: int) -> Room | None:
    """A room by its row id."""
    row = await conn.fetchrow(f"SELECT {_ROOM} FROM rooms WHERE id = $1", room_id)
    return Room(**record_dict(row)) if row else None


async def select_room_by_token(conn: Connection, token: str) -> Room | None:
    """A room by its URL token."""
    row = await conn.fetchrow(f"SELECT {_ROOM} FROM rooms WHERE token = $1", token)
    return Room(**record_dict(row)) if row else None


async def select_open_rooms(conn: Connection, *, limit: int = 200) -> list[Room]:
    """Open rooms, by name."""
    rows = await conn.fetch(
        f"SELECT {_ROOM} FROM rooms WHERE status = 'open' ORDER BY name, id LIMIT $1", limit
    )
    return [Room(**record_dict(row)) for row in rows]


async def select_organization_rooms(
    conn: Connection, organization_id: int, *, limit: int
) -> list[Room]:
    """An organisation's (or a project's) open rooms, by name."""
    rows = await conn.fetch(
        f"""SELECT {_ROOM} FROM rooms WHERE organization_id = $1 AND status = 'open'
             ORDER BY name, id LIMIT $2""",
        organization_id,
        limit,
    )
    return [Room(**record_dict(row)) for row in rows]


async def set_room_status(conn: Connection, room_id: int, status: str, now: datetime) -> None:
    """Open or archive a room."""
    await conn.execute(
        "UPDATE rooms SET status = $2, updated_at = $3 WHERE id = $1", room_id, status, now
    )


async def select_room_proposals(conn: Connection, room_id: int, *, limit: int) -> list[Proposal]:
    """A room's public (not draft) proposals, newest first."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM proposals WHERE room_id = $1 AND state <> 'draft'
             ORDER BY published DESC, id DESC LIMIT $2""",
        room_id,
        limit,
    )
    return [_proposal(row) for row in rows]


_AMENDMENT = """a.id, a.uri, a.proposal_id, a.author_uri, a.content_html, a.state, a.local,
                a.published, a.decided_by, a.decided_at, a.content_source,
                (SELECT count(*) FROM proposal_amendment_votes v
                  WHERE v.amendment_id = a.id AND v.up) AS up,
                (SELECT count(*) FROM proposal_amendment_votes v
                  WHERE v.amendment_id = a.id AND NOT v.up) AS down"""


async def insert_amendment(
    conn: Connection,
    *,
    uri: str,
    proposal_id: int,
    author_uri: str,
    content_html: str,
    local: bool,
    now: datetime,
    content_source: str | None = None,
) -> Amendment | None:
    """A new amendment (None when its URI is already known)."""
    row = await conn.fetchrow(
        f"""WITH a AS (
                INSERT INTO proposal_amendments
                    (uri, proposal_id, author_uri, content_html, local, published,
                     content_source)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (uri) DO NOTHING
                RETURNING *)
            SELECT {_AMENDMENT} FROM a""",
        uri,
        proposal_id,
        author_uri,
        content_html,
        local,
        now,
        content_source,
    )
    return Amendment(**record_dict(row)) if row else None


async def select_amendment(conn: Connection, amendment_id: int) -> Amendment | None:
    """An amendment with its vote counts."""
    row = await conn.fetchrow(
        f"SELECT {_AMENDMENT} FROM proposal_amendments a WHERE a.id = $1", amendment_id
    )
    return Amendment(**record_dict(row)) if row else None


async def select_amendments(conn: Connection, proposal_id: int) -> list[Amendment]:
    """A proposal's amendments, oldest first."""
    rows = await conn.fetch(
        f"""SELECT {_AMENDMENT} FROM proposal_amendments a WHERE a.proposal_id = $1
             ORDER BY a.published, a.id""",
        proposal_id,
    )
    return [Amendment(**record_dict(row)) for row in rows]


async def set_amendment_state(
    conn: Connection, amendment_id: int, *, state: str, decided_by: str, now: datetime
) -> bool:
    """Accept or reject a proposed amendment; False when it was already decided."""
    result = await conn.execute(
        """UPDATE proposal_amendments SET state = $2, decided_by = $3, decided_at = $4
            WHERE id = $1 AND state = 'proposed'""",
        amendment_id,
        state,
        decided_by,
        now,
    )
    return result != "UPDATE 0"


async def upsert_amendment_vote(
    conn: Connection, *, amendment_id: int, voter_uri: str, up: bool, now: datetime
) -> bool:
    """Record a voter's up or down vote (one per voter); False when it was already that."""
    row = await conn.fetchrow(
        """INSERT INTO proposal_amendment_votes (amendment_id, voter_uri, up, created_at,
                                                  updated_at)
           VALUES ($1, $2, $3, $4, $4)
           ON CONFLICT (amendment_id, voter_uri) DO UPDATE SET up = EXCLUDED.up,
               updated_at = EXCLUDED.updated_at
           WHERE proposal_amendment_votes.up <> EXCLUDED.up
           RETURNING 1""",
        amendment_id,
        voter_uri,
        up,
        now,
    )
    return row is not None


async def claim_due(conn: Connection, now: datetime, *, limit: int) -> list[Proposal]:
    """Local proposals whose phase is over, locked (others skip them): voting whose end passed,
    amendable whose period passed and that open their vote by themselves."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM proposals
             WHERE token IS NOT NULL
               AND ((state = 'voting' AND voting_ends <= $1)
                 OR (state = 'amendable' AND auto_voting_days IS NOT NULL
                     AND amendable_until <= $1))
             ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [_proposal(row) for row in rows]


async def is_instance_admin(conn: Connection, actor_id: int) -> bool:
    """Whether a local actor's account administers the instance."""
    found = await conn.fetchval("SELECT is_admin FROM accounts WHERE actor_id = $1", actor_id)
    return bool(found)


# The index's order: what can be acted on first (voting, then amendable), then what is over.
_STATE_RANK = """CASE state WHEN 'voting' THEN 0 WHEN 'amendable' THEN 1 WHEN 'closed' THEN 2
                  WHEN 'archived' THEN 3 ELSE 4 END"""


async def select_proposals_index(
    conn: Connection,
    *,
    limit: int,
    state: str | None = None,
    room_id: int | None = None,
    after: tuple[int, int] | None = None,
) -> list[tuple[int, Proposal]]:
    """Published proposals (no drafts) by state rank then newest, keyset-paged after (rank, id);
    each with its rank, which with its id makes the next page's cursor."""
    rank, last_id = after or (None, None)
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS}, {_STATE_RANK} AS rank FROM proposals
             WHERE state <> 'draft'
               AND ($1::text IS NULL OR state = $1)
               AND ($2::bigint IS NULL OR room_id = $2)
               AND ($3::int IS NULL OR ({_STATE_RANK}, -id) > ($3, -$4::bigint))
             ORDER BY {_STATE_RANK}, id DESC
             LIMIT $5""",
        state,
        room_id,
        rank,
        last_id,
        limit,
    )
    return [(int(row["rank"]), _proposal(row)) for row in rows]


async def select_tallies(conn: Connection, proposal_ids: list[int]) -> dict[int, Tally]:
    """`tally` of many proposals in two statements (a proposal without votes is absent)."""
    rows = await conn.fetch(
        f"""SELECT v.proposal_id, v.local, option, count(*) AS n,
                  count(*) FILTER (WHERE NOT v.local AND {_TRUSTED_HOST}) AS trusted
             FROM proposal_votes v JOIN proposals p ON p.id = v.proposal_id,
                  unnest(v.options) AS option
            WHERE v.proposal_id = ANY($1::bigint[]) GROUP BY v.proposal_id, v.local, option""",
        proposal_ids,
    )
    voters = await conn.fetch(
        f"""SELECT v.proposal_id, count(*) FILTER (WHERE v.local) AS local,
                  count(*) FILTER (WHERE NOT v.local) AS federated,
                  count(*) FILTER (WHERE NOT v.local AND {_TRUSTED_HOST}) AS trusted
             FROM proposal_votes v JOIN proposals p ON p.id = v.proposal_id
            WHERE v.proposal_id = ANY($1::bigint[]) GROUP BY v.proposal_id""",
        proposal_ids,
    )
    by_proposal: dict[int, list[Any]] = {}
    for r in rows:
        by_proposal.setdefault(r["proposal_id"], []).append(r)
    found: dict[int, Tally] = {}
    for row in voters:
        mine = by_proposal.get(row["proposal_id"], [])
        found[row["proposal_id"]] = Tally(
            local={r["option"]: r["n"] for r in mine if r["local"]},
            federated={r["option"]: r["n"] for r in mine if not r["local"]},
            trusted={r["option"]: r["trusted"] for r in mine if r["trusted"]},
            local_voters=row["local"],
            federated_voters=row["federated"],
            trusted_voters=row["trusted"],
        )
    return found


# Proposals of silenced or suspended domains and restricted authors stay off the public lists,
# as do those a territory's moderators took off its pages (their located item deleted).
_PUBLIC_PROPOSAL = """state <> 'draft'
    AND NOT EXISTS (SELECT 1 FROM actor_restrictions r WHERE r.actor_uri = proposals.author_uri)
    AND (territory_id IS NULL
         OR NOT EXISTS (SELECT 1 FROM located_items h
                         WHERE h.object_uri = proposals.uri AND h.deleted_at IS NOT NULL))
    AND (NOT EXISTS (SELECT 1 FROM domain_policies WHERE action IN ('silence', 'suspend'))
         OR NOT (domain_hidden(uri, (SELECT domain_policy_map()))
                 OR domain_hidden(author_uri, (SELECT domain_policy_map()))))"""


async def select_listed(
    conn: Connection,
    *,
    limit: int,
    scope_id: int | None = None,
    state: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    tag: str | None = None,
    before: tuple[datetime, int] | None = None,
    unplaced_in_scope: bool = False,
) -> list[Proposal]:
    """Proposals as the public API and the exports list them (no drafts), newest first,
    keyset-paged: of a territory or below it (and our own with no territory when
    `unplaced_in_scope`), in a state, published in [since, until), with a tag."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM proposals
             WHERE {_PUBLIC_PROPOSAL}
               AND ($1::bigint IS NULL
                    OR territory_id IN (SELECT descendant_id FROM territory_ancestors
                                         WHERE ancestor_id = $1)
                    OR ($9 AND territory_id IS NULL AND local_actor_id IS NOT NULL))
               AND ($2::text IS NULL OR state = $2)
               AND ($3::timestamptz IS NULL OR published >= $3)
               AND ($4::timestamptz IS NULL OR published < $4)
               AND ($5::text IS NULL OR $5 = ANY (tags))
               AND ($6::timestamptz IS NULL OR (published, id) < ($6, $7))
             ORDER BY published DESC, id DESC LIMIT $8""",
        scope_id,
        state,
        since,
        until,
        tag,
        before[0] if before else None,
        before[1] if before else None,
        limit,
        unplaced_in_scope,
    )
    return [_proposal(row) for row in rows]
