"""Territory actors: each served territory is a Group that anyone can follow to communect to it;
here their handles and rows (their documents are in document.py)."""

from __future__ import annotations

import itertools
import re

from fedicity.actors import queries as actor_queries
from fedicity.actors.service import RESERVED_USERNAMES
from fedicity.db.pool import Connection
from fedicity.territories.models import Territory, slugify

MAX_USERNAME = 30


def handle_base(name: str) -> str:
    """An ASCII handle from a name: 'Île-de-France' -> 'ile_de_france'."""
    return slugify(name).replace("-", "_")


def handle_for(territory: Territory, taken: set[str]) -> str:
    """The territory's handle: its name, or its name and code when the name is already taken."""
    base = handle_base(territory.name)[:MAX_USERNAME].strip("_") or territory.level
    if base not in taken and base not in RESERVED_USERNAMES:
        return base
    code = re.sub(r"[^a-z0-9]+", "_", territory.code.lower()).strip("_")
    # A long code (a quartier's holds its name) leaves no room for the name; a handle with the
    # code that is taken too (a citizen chose it) gets a counter, so every territory gets one.
    for attempt in itertools.count(1):
        counter = "" if attempt == 1 else f"_{attempt}"
        room = MAX_USERNAME - len(counter)
        suffix = f"_{code}"[:room]
        handle = (base[: room - len(suffix)].strip("_") + suffix).strip("_") + counter
        if handle not in taken and handle not in RESERVED_USERNAMES:
            return handle
    raise AssertionError("unreachable")  # pragma: no cover


async def ensure_actors(conn: Connection, territories: list[Territory]) -> int:
    """Create the actor rows of served territories that have none (keys come later)."""
    existing = await actor_queries.select_territory_actor_ids(conn, [t.id for t in territories])
    missing = [t for t in territories if t.id not in existing]
    if not missing:
        return 0
    taken = await actor_queries.select_taken_usernames(conn)
    rows: list[tuple[int, str, str]] = []
    for territory in missing:
        handle = handle_for(territory, taken)
        taken.add(handle)
        rows.append((territory.id, handle, territory.name))
    await actor_queries.insert_territory_actors(conn, rows)
    return len(rows)
