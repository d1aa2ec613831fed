"""An organisation itself: creating one, its settings, who may act for it (its admins, its
members), and its actor document. Memberships, invitations, official identifiers and posting have
files of their own; every operation runs in the caller's connection and publishes the activities
it causes in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors import service as actor_service
from fedicity.actors.document import actor_to_ap, update_actor
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.located.models import point_problem
from fedicity.organizations import queries
from fedicity.organizations.document import actor_document
from fedicity.organizations.models import MEMBERSHIP_MODES
from fedicity.urls import Urls, new_token


class MembershipError(DomainError):
    """A membership operation was refused; `code` says why, for messages and tests."""


@dataclass(frozen=True)
class Env:
    """Where activities are minted and what time it is."""

    urls: Urls
    clock: Clock


def require_organization(actor: Actor) -> None:
    """Refuse unless the actor is an organisation."""
    if actor.kind != "organization":
        raise MembershipError("not_an_organization", "this actor is not an organisation")


async def create(
    conn: Connection,
    *,
    creator: Actor,
    username: str,
    organization_kind: str,
    keygen: KeyGenerator,
    env: Env,
    display_name: str = "",
    summary: str = "",
    membership_mode: str = "approval",
    latitude: float | None = None,
    longitude: float | None = None,
    keys_on_first_use: bool = False,
    project: bool = False,
) -> Actor:
    """A citizen creates an organisation (a project with `project`: see projects/service.py)
    and becomes its first admin."""
    if creator.kind != "person":
        raise MembershipError("not_a_person", "only a citizen can create an organisation")
    if membership_mode not in MEMBERSHIP_MODES:
        raise MembershipError("mode_invalid", "membership is open, on approval or by invitation")
    _check_point(latitude, longitude)
    organization = await actor_service.create_organization(
        conn,
        username,
        organization_kind=organization_kind,
        keygen=keygen,
        display_name=display_name,
        summary=summary,
        keys_on_first_use=keys_on_first_use,
        project=project,
    )
    async with conn.transaction():
        await queries.upsert_settings(
            conn, organization.id, membership_mode=membership_mode, hide_members=False
        )
        if latitude is not None:
            await queries.set_place(conn, organization.id, latitude=latitude, longitude=longitude)
        await queries.upsert_membership(
            conn,
            organization_id=organization.id,
            member_uri=env.urls.actor(creator.username),
            state="accepted",
            role="admin",
            activity_uri=None,
            invited_by=None,
            now=env.clock.now(),
        )
    return organization


async def update_settings(
    conn: Connection,
    *,
    organization: Actor,
    by: Actor,
    membership_mode: str,
    hide_members: bool,
    env: Env,
) -> None:
    """An admin changes how people join and whether members are listed."""
    await require_admin(conn, organization, by, env.urls)
    if membership_mode not in MEMBERSHIP_MODES:
        raise MembershipError("mode_invalid", "membership is open, on approval or by invitation")
    await queries.upsert_settings(
        conn, organization.id, membership_mode=membership_mode, hide_members=hide_members
    )


def _check_point(latitude: float | None, longitude: float | None) -> None:
    problem = point_problem(latitude, longitude)
    if problem is not None:
        raise MembershipError(problem, "a place is a latitude and a longitude in degrees")


async def set_place(
    conn: Connection,
    *,
    organization: Actor,
    by: Actor,
    latitude: float | None,
    longitude: float | None,
    env: Env,
) -> None:
    """An admin says where the organisation can be found (None, None: nowhere on the map)."""
    await require_admin(conn, organization, by, env.urls)
    _check_point(latitude, longitude)
    await queries.set_place(conn, organization.id, latitude=latitude, longitude=longitude)


async def publish_update(
    conn: Connection, organization: Actor, *, env: Env, keygen: KeyGenerator
) -> None:
    """Send Update(Organization) with its whole new document to its followers' servers, as a
    citizen's profile change does (in the caller's transaction)."""
    keyed = await actor_service.with_keys(conn, organization, keygen=keygen)
    document = await enrich_actor_document(conn, keyed, actor_to_ap(keyed, env.urls), env.urls)
    await publish(
        conn,
        actor=keyed,
        activity=update_actor(
            document, env.urls.activity(new_token()), format_datetime(env.clock.now())
        ),
        audience=Audience(followers=True),
        urls=env.urls,
        clock=env.clock,
        keygen=keygen,
    )


# --- who may do what ------------------------------------------------------------------------


async def is_member(conn: Connection, organization_id: int, member_uri: str) -> bool:
    """Whether someone is an accepted member."""
    found = await queries.select_membership(conn, organization_id, member_uri)
    return found is not None and found.accepted


async def require_admin(conn: Connection, organization: Actor, by: Actor, urls: Urls) -> None:
    """Refuse unless `by` is an accepted admin of the organisation."""
    require_organization(organization)
    found = await queries.select_membership(conn, organization.id, urls.actor(by.username))
    if found is None or not found.is_admin:
        raise MembershipError("not_admin", "only the organisation's admins can do this")


# --- what it shows --------------------------------------------------------------------------


async def enrich_actor_document(
    conn: Connection, organization: Actor, document: dict[str, Any], urls: Urls
) -> dict[str, Any]:
    """An organisation's actor document plus its members, moderators and official identifier."""
    settings = await queries.select_settings(conn, organization.id)
    return actor_document(document, organization, settings, urls)


async def members_items(
    conn: Connection, organization: Actor, *, moderators: bool
) -> tuple[int, list[str] | None]:
    """(total, member URIs or None when hidden) for the members or moderators collection."""
    settings = await queries.select_settings(conn, organization.id)
    accepted = await queries.select_memberships(conn, organization.id, limit=10_000)
    if moderators:
        # Moderators are public whatever the setting: they answer for the group (FEP-1b12).
        chosen = [m.member_uri for m in accepted if m.role in ("admin", "moderator")]
        return len(chosen), chosen
    total = await queries.count_members(conn, organization.id)
    if settings.hide_members:
        return total, None
    return total, [m.member_uri for m in accepted]
