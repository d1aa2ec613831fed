"""SQL for projects (the only place with it): their row, their lists, their parents."""

from __future__ import annotations

from typing import Any

from fedicity.actors.models import Actor
from fedicity.db.pool import Connection, record_dict
from fedicity.projects.models import ListedProject, Project

_PROJECT_COLUMNS = """p.actor_id, p.owner_uri, p.maturity, p.starts_on, p.ends_on, p.license,
    p.parent_organization_id, p.parent_project_id, p.territory_id, p.created_at, p.updated_at"""
_ACTOR_COLUMNS = """a.id, a.username, a.kind, a.organization_kind, a.display_name, a.summary,
    a.manually_approves_followers, a.discoverable, a.public_key_pem, a.private_key_pem,
    a.created_at, a.updated_at, a.hide_network, a.territory_id, a.home_territory_id,
    a.avatar_name, a.banner_name, a.deleted_at"""
_PROJECT_FIELDS = frozenset(Project.__dataclass_fields__)


def _project(row: Any) -> Project:
    return Project(**{k: v for k, v in record_dict(row).items() if k in _PROJECT_FIELDS})


def _listed(row: Any) -> ListedProject:
    columns = record_dict(row)
    project = {name: columns.pop(name) for name in _PROJECT_FIELDS - {"created_at", "updated_at"}}
    project["created_at"] = columns.pop("p_created_at")
    project["updated_at"] = columns.pop("p_updated_at")
    return ListedProject(actor=Actor(**columns), project=Project(**project))


async def insert_project(conn: Connection, project: Project) -> Project:
    """Store a new project's own fields."""
    row = await conn.fetchrow(
        f"""INSERT INTO projects AS p (actor_id, owner_uri, maturity, starts_on, ends_on, license,
                                       parent_organization_id, parent_project_id, territory_id,
                                       created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
            RETURNING {_PROJECT_COLUMNS}""",
        project.actor_id,
        project.owner_uri,
        project.maturity,
        project.starts_on,
        project.ends_on,
        project.license,
        project.parent_organization_id,
        project.parent_project_id,
        project.territory_id,
        project.created_at,
    )
    assert row is not None
    return _project(row)


async def update_project(conn: Connection, project: Project) -> Project | None:
    """Change a project's own fields (its owner stays)."""
    row = await conn.fetchrow(
        f"""UPDATE projects AS p
               SET maturity = $2, starts_on = $3, ends_on = $4, license = $5,
                   parent_organization_id = $6, parent_project_id = $7, territory_id = $8,
                   updated_at = $9
             WHERE actor_id = $1
         RETURNING {_PROJECT_COLUMNS}""",
        project.actor_id,
        project.maturity,
        project.starts_on,
        project.ends_on,
        project.license,
        project.parent_organization_id,
        project.parent_project_id,
        project.territory_id,
        project.updated_at,
    )
    return None if row is None else _project(row)


async def select_project(conn: Connection, actor_id: int) -> Project | None:
    """A local project's own fields, by its actor id."""
    row = await conn.fetchrow(
        f"SELECT {_PROJECT_COLUMNS} FROM projects p WHERE p.actor_id = $1", actor_id
    )
    return None if row is None else _project(row)


async def select_ancestor_ids(conn: Connection, actor_id: int) -> list[int]:
    """The project's parent, its parent's parent... up the chain (a cycle stops the walk)."""
    rows = await conn.fetch(
        """WITH RECURSIVE up (id, depth) AS (
               SELECT parent_project_id, 1 FROM projects WHERE actor_id = $1
               UNION ALL
               SELECT p.parent_project_id, up.depth + 1
                 FROM projects p JOIN up ON p.actor_id = up.id
                WHERE up.depth < 100)
           SELECT id FROM up WHERE id IS NOT NULL ORDER BY depth""",
        actor_id,
    )
    return [int(row["id"]) for row in rows]


# Lists leave out the hidden, the deleted, the silenced and the suspended (as organisations').
_LISTED = f"""SELECT {_ACTOR_COLUMNS}, p.owner_uri, p.maturity, p.starts_on, p.ends_on, p.license,
                    p.parent_organization_id, p.parent_project_id, p.actor_id,
                    p.territory_id, p.created_at AS p_created_at, p.updated_at AS p_updated_at
               FROM projects p JOIN actors a ON a.id = p.actor_id
              WHERE a.discoverable AND a.deleted_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM actor_restrictions r WHERE r.local_actor_id = a.id)"""


async def select_listed(
    conn: Connection,
    *,
    limit: int,
    maturity: str | None = None,
    scope_id: int | None = None,
    before: int | None = None,
) -> list[ListedProject]:
    """Discoverable local projects, newest first, keyset-paged by id: of a maturity, located in
    the scope territory or under it."""
    rows = await conn.fetch(
        f"""{_LISTED}
               AND ($1::text IS NULL OR p.maturity = $1)
               AND ($2::bigint IS NULL
                    OR p.territory_id IN (SELECT descendant_id FROM territory_ancestors
                                           WHERE ancestor_id = $2))
               AND ($3::bigint IS NULL OR a.id < $3)
             ORDER BY a.id DESC LIMIT $4""",
        maturity,
        scope_id,
        before,
        limit,
    )
    return [_listed(row) for row in rows]


async def select_children(conn: Connection, actor_id: int, *, limit: int) -> list[ListedProject]:
    """A project's listed sub-projects, newest first."""
    rows = await conn.fetch(
        f"{_LISTED} AND p.parent_project_id = $1 ORDER BY a.id DESC LIMIT $2", actor_id, limit
    )
    return [_listed(row) for row in rows]


async def select_of_organization(
    conn: Connection, organization_id: int, *, limit: int
) -> list[ListedProject]:
    """The listed projects an organisation carries, newest first."""
    rows = await conn.fetch(
        f"{_LISTED} AND p.parent_organization_id = $1 ORDER BY a.id DESC LIMIT $2",
        organization_id,
        limit,
    )
    return [_listed(row) for row in rows]


async def select_administered_organizations(
    conn: Connection, member_uri: str, *, limit: int
) -> list[Actor]:
    """The organisations (not projects) a person is an accepted admin of: the owners they may
    give a project."""
    rows = await conn.fetch(
        f"""SELECT {_ACTOR_COLUMNS}
              FROM memberships m JOIN actors a ON a.id = m.organization_id
             WHERE m.member_uri = $1 AND m.state = 'accepted' AND m.role = 'admin'
               AND a.kind = 'organization' AND a.organization_kind IS DISTINCT FROM 'project'
               AND a.deleted_at IS NULL
             ORDER BY lower(a.username) LIMIT $2""",
        member_uri,
        limit,
    )
    return [Actor(**record_dict(row)) for row in rows]


async def select_wall_uris(conn: Connection, actor_id: int, *, limit: int) -> list[str]:
    """The public posts a project (or organisation) announced on its wall, newest first: the
    notes of the Creates its Announces embed."""
    rows = await conn.fetch(
        """SELECT p.uri
             FROM outbox_activities o
             JOIN posts p
               ON p.uri = CASE jsonb_typeof(o.raw #> '{object,object}')
                              WHEN 'object' THEN o.raw #>> '{object,object,id}'
                              ELSE o.raw #>> '{object,object}' END
            WHERE o.actor_id = $1 AND o.type = 'Announce'
              AND p.deleted_at IS NULL AND p.visibility = 'public'
            ORDER BY o.id DESC LIMIT $2""",
        actor_id,
        limit,
    )
    return [str(row["uri"]) for row in rows]
