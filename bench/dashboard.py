"""Dashboard benchmark: the four reads of `/dashboard` on an instance with many rooms.

Run from the repository root (about a minute with the defaults):

    .venv/bin/python -m bench.dashboard
    .venv/bin/python -m bench.dashboard --organizations 400 --proposals 40000 --iterations 300

What it does, against a real PostgreSQL (embedded in a temporary directory, or a fresh database on
FEDICITY_DATABASE_URL's server when that is set), created and migrated for the run:

- makes --organizations organisations with 5 rooms each, --proposals proposals spread over the
  rooms (a third open for amendments, a third voting, a third closed), as many actions (a quarter
  done or abandoned, half taken by one or two of 50 people), and votes by those people on a third
  of the voting proposals; then VACUUM (ANALYZE);
- makes two citizens: a busy one (accepted member of 10 % of the organisations, following 20 more
  rooms, assigned to some actions) and a newcomer (member of one organisation);
- times, for each citizen, all the reads the page makes (open proposals, votes to cast, my
  actions, actions nobody took), --iterations times in shuffled order after a warm-up, on one
  connection: "after", the query functions the page calls (the citizen's room ids once, then
  each list by room), and "before", the same lists as first written (each finding the rooms in
  one IN (... OR ... OR ...) subquery), interleaved in the same run;
- prints p50, p95 and max per citizen and version, and the p50 ratio.

Figures are printed, never asserted: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import CAVEAT, fresh_database, heading
from fedicity.db.pool import connect
from fedicity.proposals import followup_queries as queries
from fedicity.proposals.followup_queries import _TASK
from fedicity.proposals.queries import _COLUMNS as _PROPOSAL_COLUMNS

BASE = "https://bench.example"
NOW = datetime(2026, 12, 6, tzinfo=UTC)
PEOPLE = 50


def _actor(name: str) -> str:
    return f"{BASE}/actors/{name}"


async def _seed(conn: Any, organizations: int, proposals: int, rng: random.Random) -> None:
    """Organisations, rooms, proposals, actions and votes, by set-based statements."""
    await conn.execute(
        """INSERT INTO actors (username, kind, organization_kind, display_name)
           SELECT 'org' || n, 'organization', 'association', 'Org ' || n
             FROM generate_series(1, $1) n""",
        organizations,
    )
    await conn.execute(
        """INSERT INTO rooms (token, uri, name, organization_id, created_by, created_at)
           SELECT 'r' || a.id || '_' || k, $2 || '/rooms/r' || a.id || '_' || k,
                  'Room ' || k, a.id, 'x', $1
             FROM actors a, generate_series(1, 5) k WHERE a.kind = 'organization'""",
        NOW,
        BASE,
    )
    room_ids = [r["id"] for r in await conn.fetch("SELECT id FROM rooms ORDER BY id")]
    rows = []
    for n in range(proposals):
        state = ("amendable", "voting", "closed")[n % 3]
        rows.append(
            (
                f"{BASE}/proposals/p{n}",
                f"p{n}",
                _actor("someone"),
                f"Proposal {n}",
                ["Pour", "Contre", "Abstention"],
                NOW - timedelta(days=rng.randint(1, 300)),
                state,
                NOW + timedelta(days=rng.randint(1, 30)) if state == "amendable" else None,
                NOW - timedelta(days=1) if state == "voting" else None,
                NOW + timedelta(hours=rng.randint(1, 600)) if state == "voting" else None,
                rng.choice(room_ids),
            )
        )
    await conn.copy_records_to_table(
        "proposals",
        records=rows,
        columns=[
            "uri",
            "token",
            "author_uri",
            "title",
            "options",
            "published",
            "state",
            "amendable_until",
            "voting_opens",
            "voting_ends",
            "room_id",
        ],
    )
    await conn.execute(
        """INSERT INTO proposal_votes (proposal_id, voter_uri, options, local, created_at,
                                       updated_at)
           SELECT p.id, $2 || '/actors/u' || (p.id % $3), ARRAY['Pour'], true, $1, $1
             FROM proposals p WHERE p.state = 'voting' AND p.id % 3 = 0""",
        NOW,
        BASE,
        PEOPLE,
    )
    tasks = []
    for n in range(proposals):
        status = rng.choice(("todo", "todo", "in_progress", "done"))
        taken = rng.random() < 0.5
        assignees = (
            [_actor(f"u{rng.randrange(PEOPLE)}") for _ in range(rng.randint(1, 2))] if taken else []
        )
        tasks.append(
            (
                f"{BASE}/actions/a{n}",
                f"a{n}",
                True,
                rng.choice(room_ids),
                _actor("org1"),
                _actor("someone"),
                f"Action {n}",
                status,
                NOW + timedelta(days=rng.randint(1, 90)) if rng.random() < 0.7 else None,
                sorted(set(assignees)),
                NOW,
            )
        )
    await conn.copy_records_to_table(
        "actions",
        records=tasks,
        columns=[
            "uri",
            "token",
            "local",
            "room_id",
            "attributed_to",
            "created_by",
            "title",
            "status",
            "ends",
            "assignees",
            "published",
        ],
    )


async def _citizen(conn: Any, name: str, memberships: int, follows: int, rng: random.Random) -> str:
    """A citizen who is an accepted member of some organisations and follows some rooms."""
    uri = _actor(name)
    org_ids = [
        r["id"] for r in await conn.fetch("SELECT id FROM actors WHERE kind = 'organization'")
    ]
    for org_id in rng.sample(org_ids, memberships):
        await conn.execute(
            """INSERT INTO memberships (organization_id, member_uri, state, created_at, updated_at)
               VALUES ($1, $2, 'accepted', $3, $3)""",
            org_id,
            uri,
            NOW,
        )
    room_ids = [r["id"] for r in await conn.fetch("SELECT id FROM rooms")]
    for room_id in rng.sample(room_ids, follows):
        await queries.upsert_room_follow(
            conn, room_id=room_id, follower_uri=uri, local=True, activity_uri=None, now=NOW
        )
    return uri


# The reads as first written, kept to compare in the same run: each list asked for the
# citizen's rooms itself, as one IN (... OR ... OR ...) the planner could not drive from indexes.
_MY_ROOMS = """
SELECT r.id FROM rooms r
 WHERE r.organization_id IN (SELECT m.organization_id FROM memberships m
                              WHERE m.member_uri = $1 AND m.state = 'accepted')
    OR r.id IN (SELECT f.room_id FROM room_follows f WHERE f.follower_uri = $1)
    OR r.territory_id IN (SELECT a.ancestor_id FROM territory_ancestors a
                           WHERE a.descendant_id = $2)
"""
_BEFORE = {
    "open proposals": f"""SELECT {_PROPOSAL_COLUMNS} FROM proposals
        WHERE room_id IN ({_MY_ROOMS}) AND state IN ('amendable', 'voting')
        ORDER BY coalesce(voting_ends, amendable_until) NULLS LAST, id LIMIT 50""",  # noqa: S608
    "votes to cast": f"""SELECT {_PROPOSAL_COLUMNS} FROM proposals p
        WHERE p.room_id IN ({_MY_ROOMS}) AND p.state = 'voting'
          AND (p.voting_opens IS NULL OR p.voting_opens <= $3) AND p.voting_ends > $3
          AND NOT EXISTS (SELECT FROM proposal_votes v
                           WHERE v.proposal_id = p.id AND v.voter_uri = $1)
        ORDER BY p.voting_ends, p.id LIMIT 50""",  # noqa: S608
    "actions nobody took": f"""SELECT {_TASK} FROM actions
        WHERE room_id IN ({_MY_ROOMS}) AND cardinality(assignees) = 0
          AND status NOT IN ('done', 'abandoned')
        ORDER BY ends NULLS LAST, id LIMIT 50""",  # noqa: S608
}


def _reads(conn: Any, who: str) -> dict[str, Callable[[], Awaitable[object]]]:
    """The page's reads for one citizen, by name: "before" (each list finds the rooms itself)
    and "after" (the rooms' ids once, then each list by room)."""

    async def after_all() -> object:
        rooms = await queries.select_my_room_ids(conn, who, None)
        await queries.select_my_open_proposals(conn, rooms, limit=50)
        await queries.select_votes_to_cast(conn, who, rooms, NOW, limit=50)
        await queries.select_my_tasks(conn, who, limit=50)
        return await queries.select_untaken_tasks(conn, rooms, limit=50)

    async def before_all() -> object:
        await conn.fetch(_BEFORE["open proposals"], who, None)
        await conn.fetch(_BEFORE["votes to cast"], who, None, NOW)
        await queries.select_my_tasks(conn, who, limit=50)
        return await conn.fetch(_BEFORE["actions nobody took"], who, None)

    return {"before": before_all, "after": after_all}


async def _time(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def main() -> None:
    """Seed, then time the dashboard's reads."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organizations", type=int, default=200)
    parser.add_argument("--proposals", type=int, default=20_000)
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(14)
    with tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(Path(tmp) / "pg", "fedicity_bench_dashboard") as db:
            conn = await connect(db.dsn)
            try:
                started = time.perf_counter()
                await _seed(conn, args.organizations, args.proposals, rng)
                busy = await _citizen(conn, "u1", max(1, args.organizations // 10), 20, rng)
                newcomer = await _citizen(conn, "newcomer", 1, 0, rng)
                await conn.execute("VACUUM (ANALYZE)")
                took = time.perf_counter() - started
                heading(
                    f"seeded {args.organizations} organisations, {args.organizations * 5} rooms, "
                    f"{args.proposals} proposals and actions in {took:.1f} s"
                )
                families: dict[str, Callable[[], Awaitable[object]]] = {}
                for label, who in (("busy", busy), ("newcomer", newcomer)):
                    for version, call in _reads(conn, who).items():
                        families[f"{label}, {version}"] = call
                for call in families.values():
                    for _ in range(5):
                        await call()
                order = [name for name in families for _ in range(args.iterations)]
                rng.shuffle(order)
                timings: dict[str, list[float]] = {name: [] for name in families}
                for name in order:
                    timings[name].append(await _time(families[name]))
                heading(f"the whole dashboard's reads, ms ({args.iterations} each; {CAVEAT})")
                print(f"  {'citizen, version':<40} {'p50':>8} {'p95':>8} {'max':>8}")
                for name, values in timings.items():
                    values.sort()
                    p95 = values[int(len(values) * 0.95) - 1]
                    print(
                        f"  {name:<40} {statistics.median(values):>8.2f} {p95:>8.2f} "
                        f"{values[-1]:>8.2f}"
                    )
                for label in ("busy", "newcomer"):
                    before = statistics.median(timings[f"{label}, before"])
                    after = statistics.median(timings[f"{label}, after"])
                    print(f"  {label}: before/after p50 ratio {before / after:.1f}x")
            finally:
                await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
