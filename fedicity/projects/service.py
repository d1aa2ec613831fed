"""A project: creating one (its creator its first admin, its owner a person or an organisation
they administer), editing it, and its actor document. Its contributors, join rules, wall and
agenda are an organisation's (organizations/); what it adds is checked here, and a public one is
located in its territory and announced by it, as an event is."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.document import actor_to_ap, update_actor
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.located import queries as located_queries
from fedicity.located.models import NewItem
from fedicity.organizations import queries as organization_queries
from fedicity.organizations import service as organizations
from fedicity.organizations.document import members_collection
from fedicity.organizations.service import Env
from fedicity.projects import queries
from fedicity.projects.document import create_project, project_document
from fedicity.projects.models import (
    FIRST_YEAR,
    LAST_YEAR,
    MATURITIES,
    MAX_LICENSE,
    Maturity,
    Project,
    ProjectFields,
    Relations,
)
from fedicity.sanitize import html_to_text, safe_url
from fedicity.territories import queries as territory_queries
from fedicity.territories.models import Territory
from fedicity.territories.service import is_served, locate_and_announce
from fedicity.textfmt import render_markdown
from fedicity.urls import new_token


class ProjectError(DomainError):
    """A project operation was refused; `code` says why, for messages and tests."""


# `scheme:` right before something that is not a space: a link, whatever its scheme.
_SCHEMED = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S")
# Characters browsers ignore inside a scheme (so `java\tscript:` is javascript:).
_IGNORED = re.compile(r"[\x00-\x20\x7f]+")
_DANGEROUS = ("javascript:", "data:", "vbscript:", "file:")


def check_fields(fields: ProjectFields) -> Maturity:
    """Refuse what no project can have: an unknown maturity, dates out of range or in the wrong
    order, a licence too long or a link that is not a web address."""
    if fields.maturity not in MATURITIES:
        raise ProjectError("maturity_invalid", f"a maturity is one of {', '.join(MATURITIES)}")
    for day in (fields.starts_on, fields.ends_on):
        if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ProjectError(
                "project_date_out_of_range", f"a date is between {FIRST_YEAR} and {LAST_YEAR}"
            )
    if fields.starts_on and fields.ends_on and fields.ends_on < fields.starts_on:
        raise ProjectError("project_ends_before_start", "a project ends after it starts")
    license = fields.license.strip()
    if len(license) > MAX_LICENSE:
        raise ProjectError("license_too_long", f"a licence has at most {MAX_LICENSE} characters")
    squeezed = _IGNORED.sub("", license).lower()
    if squeezed.startswith(_DANGEROUS) or (_SCHEMED.match(license) and safe_url(license) is None):
        raise ProjectError("license_url_invalid", "a licence link is an http(s) address")
    return fields.maturity


async def _territory(
    conn: Connection, territory_id: int | None, root: Territory | None
) -> Territory | None:
    if territory_id is None:
        return None
    territory = await territory_queries.select_territory_by_id(conn, territory_id)
    if territory is None or not await is_served(conn, root, territory.id):
        raise ProjectError("not_served", "this territory is not served by this instance")
    return territory


async def _local_project(conn: Connection, username: str) -> Actor:
    found = await actor_queries.select_actor_by_username(conn, username.strip().lower())
    if found is None or found.organization_kind != "project" or found.deleted_at is not None:
        raise ProjectError("parent_project_unknown", "no project by this name here")
    return found


async def _parent_organization(
    conn: Connection, username: str, by: Actor, env: Env
) -> Actor | None:
    """The organisation named, which `by` must administer to put a project under it."""
    if not username.strip():
        return None
    found = await actor_queries.select_actor_by_username(conn, username.strip().lower())
    if (
        found is None
        or found.kind != "organization"
        or found.organization_kind == "project"
        or found.deleted_at is not None
    ):
        raise ProjectError("parent_organization_unknown", "no organisation by this name here")
    try:
        await organizations.require_admin(conn, found, by, env.urls)
    except organizations.MembershipError as refused:
        raise ProjectError(
            "parent_organization_not_admin", "only its admins can put a project under it"
        ) from refused
    return found


async def _parent_project(conn: Connection, username: str, project_id: int | None) -> int | None:
    """The parent project's id; refused when it would make a cycle (itself, or one of its own
    sub-projects)."""
    if not username.strip():
        return None
    parent = await _local_project(conn, username)
    if project_id is not None and (
        parent.id == project_id or project_id in await queries.select_ancestor_ids(conn, parent.id)
    ):
        raise ProjectError("parent_cycle", "a project cannot be under itself or its sub-projects")
    return parent.id


async def create(
    conn: Connection,
    *,
    creator: Actor,
    username: str,
    fields: ProjectFields,
    keygen: KeyGenerator,
    env: Env,
    root: Territory | None,
    display_name: str = "",
    summary: str = "",
    membership_mode: str = "open",
    latitude: float | None = None,
    longitude: float | None = None,
) -> Actor:
    """A citizen creates a project and becomes its first admin; its owner is them, or the
    organisation named as its parent. A public one in a territory is located and announced."""
    if creator.kind != "person":
        raise ProjectError("project_by_person", "only a citizen can create a project")
    maturity = check_fields(fields)
    async with conn.transaction():
        territory = await _territory(conn, fields.territory_id, root)
        parent_organization = await _parent_organization(
            conn, fields.parent_organization, creator, env
        )
        parent_project_id = await _parent_project(conn, fields.parent_project, None)
        actor = await organizations.create(
            conn,
            creator=creator,
            username=username,
            organization_kind="project",
            project=True,
            keygen=keygen,
            env=env,
            display_name=display_name,
            summary=summary,
            membership_mode=membership_mode,
            latitude=latitude,
            longitude=longitude,
        )
        if territory is not None:
            await actor_queries.update_home_territory(conn, actor.id, territory.id)
        now = env.clock.now()
        project = await queries.insert_project(
            conn,
            Project(
                actor_id=actor.id,
                owner_uri=env.urls.actor(
                    parent_organization.username if parent_organization else creator.username
                ),
                maturity=maturity,
                starts_on=fields.starts_on,
                ends_on=fields.ends_on,
                license=fields.license.strip(),
                parent_organization_id=parent_organization.id if parent_organization else None,
                parent_project_id=parent_project_id,
                territory_id=territory.id if territory else None,
                created_at=now,
                updated_at=now,
            ),
        )
        document = await enrich_actor_document(conn, actor, actor_to_ap(actor, env.urls), env)
        activity = create_project(
            id=env.urls.activity(new_token()),
            document=document,
            audience_uri=None,
            published=format_datetime(now),
        )
        await publish(
            conn,
            actor=actor,
            activity=activity,
            audience=Audience(followers=True),
            urls=env.urls,
            clock=env.clock,
        )
        await _locate(conn, actor, project, territory, activity["id"], env, root, keygen)
    return actor


async def update(
    conn: Connection,
    *,
    actor: Actor,
    by: Actor,
    fields: ProjectFields,
    keygen: KeyGenerator,
    env: Env,
    root: Territory | None,
    display_name: str,
    summary: str,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Project:
    """An admin edits the project: its profile and fields, then Update(Group) to its followers,
    announced again by its territory."""
    await organizations.require_admin(conn, actor, by, env.urls)
    current = await queries.select_project(conn, actor.id)
    if current is None:
        raise ProjectError("not_a_project", "this actor is not a project")
    maturity = check_fields(fields)
    async with conn.transaction():
        territory = await _territory(conn, fields.territory_id, root)
        organization_id = current.parent_organization_id
        kept = (
            await actor_queries.select_actor_by_id(conn, organization_id)
            if organization_id is not None
            else None
        )
        if fields.parent_organization.strip().lower() != (kept.username if kept else ""):
            parent = await _parent_organization(conn, fields.parent_organization, by, env)
            organization_id = parent.id if parent else None
        parent_project_id = await _parent_project(conn, fields.parent_project, actor.id)
        profile = await actor_service.update_profile(
            conn,
            actor,
            display_name=display_name,
            summary=summary,
            manually_approves_followers=actor.manually_approves_followers,
            discoverable=actor.discoverable,
        )
        await actor_queries.update_home_territory(
            conn, actor.id, territory.id if territory else None
        )
        await organizations.set_place(
            conn, organization=actor, by=by, latitude=latitude, longitude=longitude, env=env
        )
        project = await queries.update_project(
            conn,
            replace(
                current,
                maturity=maturity,
                starts_on=fields.starts_on,
                ends_on=fields.ends_on,
                license=fields.license.strip(),
                parent_organization_id=organization_id,
                parent_project_id=parent_project_id,
                territory_id=territory.id if territory else None,
                updated_at=env.clock.now(),
            ),
        )
        assert project is not None
        keyed = await actor_service.with_keys(conn, profile, keygen=keygen)
        document = await enrich_actor_document(conn, keyed, actor_to_ap(keyed, env.urls), env)
        activity = update_actor(
            document, env.urls.activity(new_token()), format_datetime(env.clock.now())
        )
        await publish(
            conn,
            actor=keyed,
            activity=activity,
            audience=Audience(followers=True),
            urls=env.urls,
            clock=env.clock,
        )
        await _locate(conn, keyed, project, territory, activity["id"], env, root, keygen)
    return project


async def _locate(
    conn: Connection,
    actor: Actor,
    project: Project,
    territory: Territory | None,
    activity_uri: str,
    env: Env,
    root: Territory | None,
    keygen: KeyGenerator,
) -> None:
    """A discoverable project in a territory is one of its items, announced by it; one taken
    out of its territory leaves the territory's pages and map."""
    if territory is None or not actor.discoverable:
        await located_queries.mark_deleted(conn, env.urls.actor(actor.username), project.updated_at)
        return
    settings = await organization_queries.select_settings(conn, actor.id)
    placed = settings.latitude is not None and settings.longitude is not None
    await locate_and_announce(
        conn,
        item=NewItem(
            object_uri=env.urls.actor(actor.username),
            kind="project",
            territory_id=territory.id,
            title=actor.name,
            summary=html_to_text(render_markdown(actor.summary))[:500],
            url=env.urls.project_page(actor.username),
            author_uri=env.urls.actor(actor.username),
            origin_host=host_of(env.urls.base),
            published=project.created_at,
            latitude=settings.latitude if placed else territory.latitude,
            longitude=settings.longitude if placed else territory.longitude,
            starts_at=None,
        ),
        activity_uri=activity_uri,
        root=root,
        urls=env.urls,
        clock=env.clock,
        keygen=keygen,
    )


async def enrich_actor_document(
    conn: Connection, actor: Actor, document: dict[str, Any], env: Env
) -> dict[str, Any]:
    """A project's actor document: the organisation's (members, moderators) made a Group with
    the project's fields."""
    base = await organizations.enrich_actor_document(conn, actor, document, env.urls)
    project = await queries.select_project(conn, actor.id)
    if project is None:
        return base
    related = await relations(conn, project)
    parent_organization, parent_project = related.parent_organization, related.parent_project
    return project_document(
        base,
        project,
        contributors_uri=members_collection(env.urls, actor),
        page_url=env.urls.project_page(actor.username),
        parent_organization_uri=(
            env.urls.actor(parent_organization.username) if parent_organization else None
        ),
        parent_project_uri=env.urls.actor(parent_project.username) if parent_project else None,
        territory=related.territory,
    )


async def relations(conn: Connection, project: Project) -> Relations:
    """The actors and territory a project's ids point at (None where it has none)."""

    async def actor(actor_id: int | None) -> Actor | None:
        return None if actor_id is None else await actor_queries.select_actor_by_id(conn, actor_id)

    return Relations(
        parent_organization=await actor(project.parent_organization_id),
        parent_project=await actor(project.parent_project_id),
        territory=(
            None
            if project.territory_id is None
            else await territory_queries.select_territory_by_id(conn, project.territory_id)
        ),
    )
