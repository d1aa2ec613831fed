"""SQL for events and participations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fedicity.db.pool import Connection, record_dict
from fedicity.events.models import Event, EventData, Location, Participation

_LOCATION = (
    "place_name",
    "street",
    "postal_code",
    "locality",
    "region",
    "country",
    "latitude",
    "longitude",
    "online_url",
)
_DATA = (
    "uri",
    "token",
    "local_actor_id",
    "organizer_uri",
    "title",
    "description_source",
    "description_html",
    "starts_at",
    "ends_at",
    "timezone",
    "all_day",
    "category",
    "tags",
    "image_url",
    "image_media_type",
    "image_width",
    "image_height",
    *_LOCATION,
    "coordinates_swapped",
    "capacity",
    "join_mode",
    "waiting_list",
    "external_url",
    "status",
    "parent_uri",
    "territory_id",
    "url",
    "public",
    "remote_participant_count",
    "raw",
    "published",
    "updated",
)
_COLUMNS = ", ".join(("id", *_DATA, "parent_id", "deleted_at", "sequence"))
# What calendar apps show of an event: a change to any of these is a new iCalendar SEQUENCE
# (migration 0028); counts, the raw document and the update time are not content.
_PUBLISHED = tuple(
    name
    for name in _DATA
    if name
    not in (
        "uri",
        "token",
        "local_actor_id",
        "organizer_uri",
        "published",
        "updated",
        "raw",
        "remote_participant_count",
        "coordinates_swapped",
    )
)
_CHANGED = (
    f"({', '.join(f'events.{n}' for n in _PUBLISHED)}) IS DISTINCT FROM "
    f"({', '.join(f'EXCLUDED.{n}' for n in _PUBLISHED)})"
)
# The public listings (the agenda, the month, the map) leave out events of silenced or suspended
# domains (migration 0020's domain_hidden); their followers still find them on their pages.
_NOT_SILENCED = """(NOT EXISTS (SELECT 1 FROM domain_policies
                                WHERE action IN ('silence', 'suspend'))
                    OR NOT (domain_hidden(uri, (SELECT domain_policy_map()))
                            OR domain_hidden(organizer_uri, (SELECT domain_policy_map()))))"""
# What every public listing of events leaves out (the agenda, the map, the API, the exports):
# deleted or non-public events, those of silenced or suspended domains or organisers, and those
# a territory's moderators took off its pages (their located item deleted, the event kept).
_LISTED_EVENT = f"""deleted_at IS NULL AND public AND {_NOT_SILENCED}
    AND NOT EXISTS (SELECT 1 FROM actor_restrictions r WHERE r.actor_uri = events.organizer_uri)
    AND (territory_id IS NULL
         OR NOT EXISTS (SELECT 1 FROM located_items h
                         WHERE h.object_uri = events.uri AND h.deleted_at IS NOT NULL))"""
_PARTICIPATION = "id, event_id, actor_uri, state, join_uri, created_at, updated_at, waiting_rank"


def _event(row: Any) -> Event:
    values = record_dict(row)
    location = Location(**{name: values.pop(name) for name in _LOCATION})
    values["tags"] = tuple(values["tags"] or ())
    return Event(location=location, **values)


def _values(data: EventData) -> list[Any]:
    values: list[Any] = []
    for name in _DATA:
        if name in _LOCATION:
            values.append(getattr(data.location, name))
        elif name == "tags":
            values.append(list(data.tags))
        else:
            values.append(getattr(data, name))
    return values


async def upsert_event(conn: Connection, data: EventData) -> Event | None:
    """Store an event, or replace it when the same organiser sends it again (None otherwise);
    a replacement that changes what is published of it counts one more iCalendar SEQUENCE."""
    placeholders = ", ".join(f"${n}" for n in range(1, len(_DATA) + 1))
    updates = ", ".join(
        f"{name} = EXCLUDED.{name}"
        for name in _DATA
        if name not in ("uri", "token", "local_actor_id", "organizer_uri", "published")
    )
    row = await conn.fetchrow(
        f"""INSERT INTO events ({", ".join(_DATA)}, parent_id)
            VALUES ({placeholders},
                    (SELECT id FROM events WHERE uri = ${_DATA.index("parent_uri") + 1}))
            ON CONFLICT (uri) DO UPDATE SET {updates}, parent_id = EXCLUDED.parent_id,
                deleted_at = NULL,
                sequence = events.sequence + CASE WHEN {_CHANGED} THEN 1 ELSE 0 END
            WHERE events.organizer_uri = EXCLUDED.organizer_uri AND events.deleted_at IS NULL
            RETURNING {_COLUMNS}""",
        *_values(data),
    )
    return None if row is None else _event(row)


async def select_event(
    conn: Connection, uri: str, *, include_deleted: bool = False
) -> Event | None:
    """An event by its id."""
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM events
             WHERE uri = $1 AND ($2 OR deleted_at IS NULL)""",
        uri,
        include_deleted,
    )
    return None if row is None else _event(row)


async def select_event_by_token(conn: Connection, token: str) -> Event | None:
    """A local event by its token, deleted ones included (the page answers 410)."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM events WHERE token = $1", token)
    return None if row is None else _event(row)


async def mark_deleted(conn: Connection, uri: str, organizer_uri: str, when: datetime) -> bool:
    """Delete an event of this organiser; whether there was one."""
    result = await conn.execute(
        """UPDATE events SET deleted_at = $3
            WHERE uri = $1 AND organizer_uri = $2 AND deleted_at IS NULL""",
        uri,
        organizer_uri,
        when,
    )
    return result != "UPDATE 0"


async def select_by_organizer(
    conn: Connection, organizer_uri: str, *, limit: int, public_only: bool = True
) -> list[Event]:
    """An organiser's events, soonest first."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM events
             WHERE organizer_uri = $1 AND deleted_at IS NULL AND (public OR NOT $2)
             ORDER BY starts_at, id LIMIT $3""",
        organizer_uri,
        public_only,
        limit,
    )
    return [_event(row) for row in rows]


async def select_agenda(
    conn: Connection,
    *,
    scope_id: int | None,
    unplaced_in_scope: bool = False,
    tag: str | None = None,
    since: datetime | None,
    limit: int,
) -> list[Event]:
    """Public events, cancelled ones included (calendar apps learn of it so), soonest first:
    those located in the scope or below it (all when `scope_id` is None), and our own with no
    territory when `unplaced_in_scope`; with the hashtag `tag` when given; not ended before
    `since` when given."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM events
             WHERE {_LISTED_EVENT}
               AND ($1::bigint IS NULL
                    OR territory_id IN (SELECT descendant_id FROM territory_ancestors
                                         WHERE ancestor_id = $1)
                    OR ($2 AND territory_id IS NULL AND local_actor_id IS NOT NULL))
               AND ($3::text IS NULL OR tags @> ARRAY[$3::text])
               AND ($4::timestamptz IS NULL OR coalesce(ends_at, starts_at) >= $4)
             ORDER BY starts_at, id LIMIT $5""",
        scope_id,
        unplaced_in_scope,
        tag,
        since,
        limit,
    )
    return [_event(row) for row in rows]


async def select_children(conn: Connection, parent_id: int) -> list[Event]:
    """The programme of an event: its sub-events, in order."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM events WHERE parent_id = $1 AND deleted_at IS NULL
             ORDER BY starts_at, id""",
        parent_id,
    )
    return [_event(row) for row in rows]


def _participation(row: Any) -> Participation:
    return Participation(**record_dict(row))


async def select_participation(
    conn: Connection, event_id: int, actor_uri: str, *, lock: bool = False
) -> Participation | None:
    """An actor's participation in an event."""
    row = await conn.fetchrow(
        f"""SELECT {_PARTICIPATION} FROM event_participations
             WHERE event_id = $1 AND actor_uri = $2 {"FOR UPDATE" if lock else ""}""",
        event_id,
        actor_uri,
    )
    return None if row is None else _participation(row)


async def set_participation(
    conn: Connection,
    *,
    event_id: int,
    actor_uri: str,
    state: str,
    join_uri: str | None,
    now: datetime,
) -> Participation:
    """Record an actor's participation state (the Join's id kept when one is given). Starting to
    wait draws a place in line; waiting again keeps it; any other state clears it."""
    row = await conn.fetchrow(
        f"""INSERT INTO event_participations (event_id, actor_uri, state, join_uri, created_at,
                                              updated_at, waiting_rank)
            VALUES ($1, $2, $3, $4, $5, $5,
                    CASE WHEN $3 = 'waiting' THEN nextval('event_waiting_rank') END)
            ON CONFLICT (event_id, actor_uri) DO UPDATE SET
                state = EXCLUDED.state,
                join_uri = COALESCE(EXCLUDED.join_uri, event_participations.join_uri),
                updated_at = EXCLUDED.updated_at,
                waiting_rank = CASE
                    WHEN EXCLUDED.state <> 'waiting' THEN NULL
                    WHEN event_participations.state = 'waiting'
                        THEN event_participations.waiting_rank
                    ELSE EXCLUDED.waiting_rank END
            RETURNING {_PARTICIPATION}""",
        event_id,
        actor_uri,
        state,
        join_uri,
        now,
    )
    assert row is not None
    return _participation(row)


async def lock_event(conn: Connection, event_id: int) -> Event | None:
    """Serialise participation changes of one event (capacity checks); the event as it is now
    (its capacity may have changed since the caller read it)."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM events WHERE id = $1 FOR UPDATE", event_id)
    return None if row is None else _event(row)


async def count_participants(conn: Connection, event_id: int, state: str = "accepted") -> int:
    """How many participations of an event are in `state`."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM event_participations WHERE event_id = $1 AND state = $2",
        event_id,
        state,
    )
    return count


async def count_by_state(conn: Connection, event_id: int) -> dict[str, int]:
    """How many participations of an event are in each state (the companion poll's tallies)."""
    rows = await conn.fetch(
        """SELECT state, count(*) AS n FROM event_participations
            WHERE event_id = $1 GROUP BY state""",
        event_id,
    )
    return {row["state"]: row["n"] for row in rows}


async def select_participant_uris(conn: Connection, event_id: int) -> list[str]:
    """Every actor with a participation in an event, whatever its state."""
    rows = await conn.fetch(
        "SELECT actor_uri FROM event_participations WHERE event_id = $1", event_id
    )
    return [row["actor_uri"] for row in rows]


async def select_participants(
    conn: Connection,
    event_id: int,
    *,
    state: str = "accepted",
    limit: int = 200,
    after: int | None = None,
) -> list[Participation]:
    """Participations of an event in `state`, in order: the waiting by their place in line,
    the others oldest first; `after` is the last key (place in line or row id) already shown."""
    key = "waiting_rank" if state == "waiting" else "id"
    rows = await conn.fetch(
        f"""SELECT {_PARTICIPATION} FROM event_participations
             WHERE event_id = $1 AND state = $2 AND ($4::bigint IS NULL OR {key} > $4)
             ORDER BY {key} LIMIT $3""",
        event_id,
        state,
        limit,
        after,
    )
    return [_participation(row) for row in rows]


async def waiting_position(conn: Connection, event_id: int, waiting_rank: int) -> int:
    """The position in line (1 is next) of the participation waiting with this rank."""
    position: int = await conn.fetchval(
        """SELECT count(*) FROM event_participations
            WHERE event_id = $1 AND state = 'waiting' AND waiting_rank <= $2""",
        event_id,
        waiting_rank,
    )
    return position


async def select_timezones(conn: Connection, uris: list[str]) -> dict[str, str]:
    """The time zone of each of these events that is stored here."""
    rows = await conn.fetch(
        "SELECT uri, timezone FROM events WHERE uri = ANY($1::text[]) AND deleted_at IS NULL",
        uris,
    )
    return {row["uri"]: row["timezone"] for row in rows}


async def select_starting_between(
    conn: Connection, start: datetime, end: datetime, *, limit: int
) -> list[Event]:
    """Public events here and federated that start in [start, end), soonest first."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM events
             WHERE deleted_at IS NULL AND public AND starts_at >= $1 AND starts_at < $2
               AND {_NOT_SILENCED}
             ORDER BY starts_at, id LIMIT $3""",
        start,
        end,
        limit,
    )
    return [_event(row) for row in rows]


async def select_upcoming(
    conn: Connection,
    now: datetime,
    *,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> list[Event]:
    """Public events here and federated that have not ended yet (an event without an end is
    upcoming until it starts), soonest first, keyset-paged by (start, id): `after` is the last
    event of the page seen."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM events
             WHERE deleted_at IS NULL AND public AND coalesce(ends_at, starts_at) >= $1
               AND ($3::timestamptz IS NULL OR (starts_at, id) > ($3, $4)) AND {_NOT_SILENCED}
             ORDER BY starts_at, id LIMIT $2""",
        now,
        limit,
        after[0] if after else None,
        after[1] if after else None,
    )
    return [_event(row) for row in rows]


async def select_upcoming_placed(
    conn: Connection,
    now: datetime,
    *,
    scope_id: int | None,
    unplaced_in_scope: bool,
    limit: int,
) -> list[tuple[Event, tuple[float, float] | None]]:
    """Public upcoming events that are not cancelled and have coordinates or a commune with a
    known centre, soonest first, each with that centre when it has no point of its own: those
    located in the scope or below it (all of them when `scope_id` is None), and our own with no
    territory when `unplaced_in_scope` (they happen in the territory this instance serves)."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS}, c.centre_latitude, c.centre_longitude
             FROM events
             LEFT JOIN LATERAL (SELECT t.latitude AS centre_latitude,
                                       t.longitude AS centre_longitude FROM territories t
                                 WHERE t.id = events.territory_id AND t.level = 'commune'
                                   AND t.latitude IS NOT NULL AND t.longitude IS NOT NULL
                                   AND (events.latitude IS NULL OR events.longitude IS NULL))
                  AS c ON true
             WHERE {_LISTED_EVENT} AND status <> 'cancelled'
               AND coalesce(ends_at, starts_at) >= $1
               AND ((latitude IS NOT NULL AND longitude IS NOT NULL)
                    OR c.centre_latitude IS NOT NULL)
               AND ($2::bigint IS NULL
                    OR territory_id IN (SELECT descendant_id FROM territory_ancestors
                                         WHERE ancestor_id = $2)
                    OR ($3 AND territory_id IS NULL AND local_actor_id IS NOT NULL))
             ORDER BY starts_at, id LIMIT $4""",
        now,
        scope_id,
        unplaced_in_scope,
        limit,
    )
    placed: list[tuple[Event, tuple[float, float] | None]] = []
    for row in rows:
        values = record_dict(row)
        centre = values.pop("centre_latitude"), values.pop("centre_longitude")
        event = _event(values)
        placed.append((event, None if centre[0] is None else (centre[0], centre[1])))
    return placed


async def select_attended(conn: Connection, actor_uri: str, *, limit: int) -> list[Event]:
    """The events someone takes part in (accepted), soonest first: their calendar export."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM events
             WHERE deleted_at IS NULL AND id IN (
                   SELECT event_id FROM event_participations
                    WHERE actor_uri = $1 AND state = 'accepted')
             ORDER BY starts_at, id LIMIT $2""",
        actor_uri,
        limit,
    )
    return [_event(row) for row in rows]


async def select_listed(
    conn: Connection,
    *,
    limit: int,
    scope_id: int | None = None,
    category: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    tag: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    after: tuple[datetime, int] | None = None,
) -> list[Event]:
    """Public events here and federated as the API lists them, soonest first, keyset-paged by
    (start, id): located in a scope or below it, of a category, not ended before `since` and
    starting before `until`, with a tag, in a box (min lon, min lat, max lon, max lat). Cancelled
    ones stay (shown as such); those of silenced, suspended or restricted organisers do not."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM events
             WHERE {_LISTED_EVENT}
               AND ($1::bigint IS NULL
                    OR territory_id IN (SELECT descendant_id FROM territory_ancestors
                                         WHERE ancestor_id = $1))
               AND ($2::text IS NULL OR category = $2)
               AND ($3::timestamptz IS NULL OR coalesce(ends_at, starts_at) >= $3)
               AND ($4::timestamptz IS NULL OR starts_at < $4)
               AND ($5::text IS NULL OR $5 = ANY (tags))
               AND ($6::float8 IS NULL
                    OR (longitude BETWEEN $6 AND $8 AND latitude BETWEEN $7 AND $9))
               AND ($10::timestamptz IS NULL OR (starts_at, id) > ($10, $11))
             ORDER BY starts_at, id LIMIT $12""",
        scope_id,
        category,
        since,
        until,
        tag,
        *(bbox or (None, None, None, None)),
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_event(row) for row in rows]
