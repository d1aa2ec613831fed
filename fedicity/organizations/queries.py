"""SQL for organisation settings and memberships."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fedicity.actors.models import Actor
from fedicity.db.pool import Connection, record_dict
from fedicity.organizations.models import (
    ListedOrganization,
    Membership,
    OfficialIdentifier,
    OrganizationSettings,
)

_ACTOR_COLUMNS = """a.id, a.username, a.kind, a.organization_kind, a.display_name, a.summary,
    a.manually_approves_followers, a.discoverable, a.public_key_pem, a.private_key_pem,
    a.created_at, a.updated_at, a.hide_network, a.territory_id, a.home_territory_id"""
_MEMBERSHIP_COLUMNS = """id, organization_id, member_uri, role, roles, state, activity_uri,
    invited_by, created_at, updated_at"""


def _membership(row: Any) -> Membership:
    return Membership(
        id=row["id"],
        organization_id=row["organization_id"],
        member_uri=row["member_uri"],
        role=row["role"],
        roles=tuple(row["roles"]),
        state=row["state"],
        activity_uri=row["activity_uri"],
        invited_by=row["invited_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def select_settings(conn: Connection, actor_id: int) -> OrganizationSettings:
    """An organisation's settings (the defaults when it has no row yet)."""
    row = await conn.fetchrow("SELECT * FROM organizations WHERE actor_id = $1", actor_id)
    if row is None:
        return OrganizationSettings(actor_id=actor_id)
    identifier = None
    if row["official_id_kind"] is not None:
        identifier = OfficialIdentifier(
            kind=row["official_id_kind"],
            value=row["official_id_value"],
            verified_at=row["official_id_verified_at"],
            verified_by=row["official_id_verified_by"],
        )
    return OrganizationSettings(
        actor_id=actor_id,
        membership_mode=row["membership_mode"],
        hide_members=row["hide_members"],
        official_identifier=identifier,
        latitude=row["latitude"],
        longitude=row["longitude"],
        address=row["address"],
        postal_code=row["postal_code"],
        website=row["website"],
        email=row["email"],
    )


async def upsert_settings(
    conn: Connection, actor_id: int, *, membership_mode: str, hide_members: bool
) -> None:
    """Store how people join and whether members are listed."""
    await conn.execute(
        """INSERT INTO organizations (actor_id, membership_mode, hide_members)
           VALUES ($1, $2, $3)
           ON CONFLICT (actor_id) DO UPDATE
              SET membership_mode = EXCLUDED.membership_mode,
                  hide_members = EXCLUDED.hide_members""",
        actor_id,
        membership_mode,
        hide_members,
    )


async def set_place(
    conn: Connection, actor_id: int, *, latitude: float | None, longitude: float | None
) -> None:
    """Set (or clear, with None) where the organisation can be found."""
    await conn.execute(
        """INSERT INTO organizations (actor_id, latitude, longitude) VALUES ($1, $2, $3)
           ON CONFLICT (actor_id) DO UPDATE
              SET latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude""",
        actor_id,
        latitude,
        longitude,
    )


async def set_identifier(
    conn: Connection,
    actor_id: int,
    *,
    kind: str | None,
    value: str | None,
    verified_at: datetime | None,
    verified_by: int | None,
) -> None:
    """Set (or clear, with None) the verified official identifier."""
    await conn.execute(
        """INSERT INTO organizations (actor_id, official_id_kind, official_id_value,
                                      official_id_verified_at, official_id_verified_by)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (actor_id) DO UPDATE
              SET official_id_kind = EXCLUDED.official_id_kind,
                  official_id_value = EXCLUDED.official_id_value,
                  official_id_verified_at = EXCLUDED.official_id_verified_at,
                  official_id_verified_by = EXCLUDED.official_id_verified_by""",
        actor_id,
        kind,
        value,
        verified_at,
        verified_by,
    )


async def select_membership(
    conn: Connection, organization_id: int, member_uri: str, *, for_update: bool = False
) -> Membership | None:
    """One person's membership row in an organisation."""
    row = await conn.fetchrow(
        f"""SELECT {_MEMBERSHIP_COLUMNS} FROM memberships
             WHERE organization_id = $1 AND member_uri = $2
             {"FOR UPDATE" if for_update else ""}""",
        organization_id,
        member_uri,
    )
    return _membership(row) if row is not None else None


async def select_membership_by_activity(conn: Connection, activity_uri: str) -> Membership | None:
    """The membership a Join or Invite started."""
    row = await conn.fetchrow(
        f"SELECT {_MEMBERSHIP_COLUMNS} FROM memberships WHERE activity_uri = $1", activity_uri
    )
    return _membership(row) if row is not None else None


async def upsert_membership(
    conn: Connection,
    *,
    organization_id: int,
    member_uri: str,
    state: str,
    role: str,
    activity_uri: str | None,
    invited_by: str | None,
    now: datetime,
) -> Membership:
    """Create or overwrite a membership's state (roles kept when it already existed)."""
    row = await conn.fetchrow(
        f"""INSERT INTO memberships (organization_id, member_uri, role, state, activity_uri,
                                     invited_by, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
            ON CONFLICT (organization_id, member_uri) DO UPDATE
               SET state = EXCLUDED.state, role = EXCLUDED.role,
                   activity_uri = coalesce(EXCLUDED.activity_uri, memberships.activity_uri),
                   invited_by = coalesce(EXCLUDED.invited_by, memberships.invited_by),
                   updated_at = EXCLUDED.updated_at
            RETURNING {_MEMBERSHIP_COLUMNS}""",
        organization_id,
        member_uri,
        role,
        state,
        activity_uri,
        invited_by,
        now,
    )
    assert row is not None
    return _membership(row)


async def update_state(conn: Connection, membership_id: int, state: str, now: datetime) -> None:
    """Move a membership to another state."""
    await conn.execute(
        "UPDATE memberships SET state = $2, updated_at = $3 WHERE id = $1",
        membership_id,
        state,
        now,
    )


async def update_role(
    conn: Connection, membership_id: int, role: str, roles: list[str], now: datetime
) -> None:
    """Change a member's role and free-text roles."""
    await conn.execute(
        "UPDATE memberships SET role = $2, roles = $3, updated_at = $4 WHERE id = $1",
        membership_id,
        role,
        roles,
        now,
    )


async def delete_membership(conn: Connection, membership_id: int) -> None:
    """Forget a membership (left or removed)."""
    await conn.execute("DELETE FROM memberships WHERE id = $1", membership_id)


async def lock_admins(conn: Connection, organization_id: int) -> None:
    """Lock the rows of an organisation's accepted admins until the transaction ends."""
    await conn.execute(
        """SELECT id FROM memberships
            WHERE organization_id = $1 AND state = 'accepted' AND role = 'admin' FOR UPDATE""",
        organization_id,
    )


async def count_admins(conn: Connection, organization_id: int) -> int:
    """Accepted admins of an organisation."""
    found: int = await conn.fetchval(
        """SELECT count(*) FROM memberships
            WHERE organization_id = $1 AND state = 'accepted' AND role = 'admin'""",
        organization_id,
    )
    return found


async def count_members(conn: Connection, organization_id: int) -> int:
    """Accepted members of an organisation."""
    found: int = await conn.fetchval(
        "SELECT count(*) FROM memberships WHERE organization_id = $1 AND state = 'accepted'",
        organization_id,
    )
    return found


# Admins, then moderators, then the others: the order members are listed in, and the first half
# of a members page's cursor.
_ROLE_RANK = "CASE role WHEN 'admin' THEN 0 WHEN 'moderator' THEN 1 ELSE 2 END"


async def select_memberships(
    conn: Connection,
    organization_id: int,
    *,
    state: str = "accepted",
    limit: int = 200,
    after: tuple[int, int] | None = None,
) -> list[Membership]:
    """Memberships in a state, admins first, then moderators, then by arrival; keyset-paged by
    (role rank, id): `after` is the cursor of the last one seen (`member_cursor`)."""
    rows = await conn.fetch(
        f"""SELECT {_MEMBERSHIP_COLUMNS} FROM memberships
             WHERE organization_id = $1 AND state = $2
               AND ($4::int IS NULL OR ({_ROLE_RANK}, id) > ($4, $5))
             ORDER BY {_ROLE_RANK}, id
             LIMIT $3""",
        organization_id,
        state,
        limit,
        after[0] if after else None,
        after[1] if after else None,
    )
    return [_membership(row) for row in rows]


def member_cursor(membership: Membership) -> tuple[int, int]:
    """Where the members page after this membership starts."""
    return {"admin": 0, "moderator": 1}.get(membership.role, 2), membership.id


async def select_organizations_of(conn: Connection, member_uri: str) -> list[tuple[int, str]]:
    """(organisation actor id, role) of every organisation someone is an accepted member of."""
    rows = await conn.fetch(
        """SELECT organization_id, role FROM memberships
            WHERE member_uri = $1 AND state = 'accepted' ORDER BY organization_id""",
        member_uri,
    )
    return [(row["organization_id"], row["role"]) for row in rows]


# Projects are organisation-shaped actors listed as projects (projects/queries.py), not here.
_NOT_PROJECT = "a.organization_kind IS DISTINCT FROM 'project'"
# Lists leave out the silenced and the suspended.
_UNRESTRICTED = "NOT EXISTS (SELECT 1 FROM actor_restrictions r WHERE r.local_actor_id = a.id)"


async def select_organizations_index(
    conn: Connection,
    *,
    limit: int,
    kind: str | None = None,
    after: tuple[int, int] | None = None,
) -> list[tuple[int, Actor]]:
    """Discoverable local organisations (not deleted, silenced or suspended: the rule the API
    and the open-data files share), verified ones first, then newest, keyset-paged after
    (unverified, id); each with its 0 (verified) or 1, which with its id makes the cursor."""
    unverified, last_id = after or (None, None)
    rows = await conn.fetch(
        f"""SELECT {_ACTOR_COLUMNS},
                   (o.official_id_verified_at IS NULL)::int AS unverified
              FROM actors a LEFT JOIN organizations o ON o.actor_id = a.id
             WHERE a.kind = 'organization' AND a.discoverable AND a.deleted_at IS NULL
               AND {_NOT_PROJECT}
               AND {_UNRESTRICTED}
               AND ($1::text IS NULL OR a.organization_kind = $1)
               AND ($2::int IS NULL
                    OR ((o.official_id_verified_at IS NULL)::int, -a.id) > ($2, -$3::bigint))
             ORDER BY unverified, a.id DESC
             LIMIT $4""",
        kind,
        unverified,
        last_id,
        limit,
    )
    return [
        (
            int(row["unverified"]),
            Actor(**{k: v for k, v in record_dict(row).items() if k != "unverified"}),
        )
        for row in rows
    ]


# The directory's organisations: discoverable, not deleted.
_DISCOVERABLE = f"""SELECT {_ACTOR_COLUMNS}, o.official_id_kind, o.official_id_value,
                     o.official_id_verified_at IS NOT NULL AS verified,
                     o.latitude AS place_latitude, o.longitude AS place_longitude
                FROM actors a LEFT JOIN organizations o ON o.actor_id = a.id
               WHERE a.kind = 'organization' AND a.discoverable AND a.deleted_at IS NULL
                 AND {_NOT_PROJECT}"""
# Lists leave out the silenced and the suspended too.
_LISTED = f"""{_DISCOVERABLE}
                 AND {_UNRESTRICTED}"""


def _listed(row: Any) -> ListedOrganization:
    columns = record_dict(row)
    extra = {
        name: columns.pop(name)
        for name in (
            "official_id_kind",
            "official_id_value",
            "verified",
            "place_latitude",
            "place_longitude",
        )
    }
    return ListedOrganization(
        actor=Actor(**columns),
        official_id_kind=extra["official_id_kind"],
        official_id_value=extra["official_id_value"],
        verified=bool(extra["verified"]),
        latitude=extra["place_latitude"],
        longitude=extra["place_longitude"],
    )


async def select_listed(
    conn: Connection,
    *,
    limit: int,
    scope_id: int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    before: int | None = None,
) -> list[ListedOrganization]:
    """Discoverable, unrestricted local organisations, newest first, keyset-paged by id: whose
    home territory is the scope or below it, of a kind, created in [since, until), whose place
    is in a box (min lon, min lat, max lon, max lat)."""
    rows = await conn.fetch(
        f"""{_LISTED}
               AND ($1::bigint IS NULL
                    OR a.home_territory_id IN (SELECT descendant_id FROM territory_ancestors
                                                WHERE ancestor_id = $1))
               AND ($2::text IS NULL OR a.organization_kind = $2)
               AND ($3::timestamptz IS NULL OR a.created_at >= $3)
               AND ($4::timestamptz IS NULL OR a.created_at < $4)
               AND ($5::float8 IS NULL
                    OR (o.longitude BETWEEN $5 AND $7 AND o.latitude BETWEEN $6 AND $8))
               AND ($9::bigint IS NULL OR a.id < $9)
             ORDER BY a.id DESC LIMIT $10""",
        scope_id,
        kind,
        since,
        until,
        *(bbox or (None, None, None, None)),
        before,
        limit,
    )
    return [_listed(row) for row in rows]


async def select_listed_by_username(conn: Connection, username: str) -> ListedOrganization | None:
    """One discoverable organisation by its username, silenced or suspended as it may be (its
    reader refuses the suspended, as their pages do)."""
    row = await conn.fetchrow(f"{_DISCOVERABLE} AND lower(a.username) = lower($1)", username)
    return None if row is None else _listed(row)
