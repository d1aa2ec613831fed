"""Operations on local actors; each runs in the caller's transaction."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import unquote

import asyncpg

from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors import queries
from fedicity.actors.models import (
    ORGANIZATION_KINDS,
    Actor,
    ActorKind,
    OrganizationKind,
)
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.urls import Urls

USERNAME_PATTERN = re.compile(r"^[a-z0-9_]{1,30}$")

# Names a person could use to pass for the instance, or that collide with paths and well-known
# mailboxes. Territory handles come later from the territory tree and are checked there.
RESERVED_USERNAMES = frozenset(
    {
        "admin",
        "administrator",
        "administrateur",
        "root",
        "system",
        "instance",
        "actor",
        "actors",
        "inbox",
        "outbox",
        "followers",
        "following",
        "shared_inbox",
        "sharedinbox",
        "well_known",
        "wellknown",
        "webfinger",
        "nodeinfo",
        "host_meta",
        "api",
        "auth",
        "login",
        "logout",
        "signup",
        "register",
        "settings",
        "static",
        "assets",
        "media",
        "about",
        "help",
        "support",
        "abuse",
        "postmaster",
        "webmaster",
        "hostmaster",
        "security",
        "moderator",
        "moderation",
        "mod",
        "staff",
        "owner",
        "fedicity",
        "relay",
        "public",
        "null",
        "undefined",
        "mairie_officielle",
        "official",
        "officiel",
        "territory",
        "territoire",
    }
)
MAX_DISPLAY_NAME = 100
MAX_SUMMARY = 5000


class ActorError(DomainError):
    """An actor operation was refused; `code` says why, for messages and tests."""


def normalize_username(raw: str) -> str:
    """Return the canonical (lower-case) username, or raise ActorError saying what is wrong."""
    username = raw.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise ActorError(
            "username_invalid",
            "a username has 1 to 30 characters among a-z, 0-9 and _",
        )
    if username in RESERVED_USERNAMES:
        raise ActorError("username_reserved", f"the username {username!r} is reserved")
    return username


def _check_texts(display_name: str, summary: str) -> None:
    if len(display_name) > MAX_DISPLAY_NAME:
        raise ActorError(
            "display_name_too_long", f"a name has at most {MAX_DISPLAY_NAME} characters"
        )
    if len(summary) > MAX_SUMMARY:
        raise ActorError("summary_too_long", f"a description has at most {MAX_SUMMARY} characters")


async def _create(
    conn: Connection,
    *,
    username: str,
    kind: ActorKind,
    organization_kind: OrganizationKind | None,
    display_name: str,
    summary: str,
    keygen: KeyGenerator | None,
) -> Actor:
    if await queries.select_actor_by_username(conn, username) is not None:
        raise ActorError("username_taken", f"the username {username!r} is already taken")
    # RSA key generation takes tens of milliseconds of CPU: keep it off the event loop.
    keypair = await asyncio.to_thread(keygen) if keygen is not None else None
    try:
        async with conn.transaction():
            return await queries.insert_actor(
                conn,
                username=username,
                kind=kind,
                organization_kind=organization_kind,
                display_name=display_name,
                summary=summary,
                public_key_pem=keypair.public_pem if keypair else None,
                private_key_pem=keypair.private_pem if keypair else None,
            )
    except asyncpg.UniqueViolationError:
        raise ActorError("username_taken", f"the username {username!r} is already taken") from None


async def create_person(
    conn: Connection,
    username: str,
    *,
    keygen: KeyGenerator,
    display_name: str = "",
    summary: str = "",
) -> Actor:
    """Create a citizen actor with a fresh key pair."""
    _check_texts(display_name, summary)
    return await _create(
        conn,
        username=normalize_username(username),
        kind="person",
        organization_kind=None,
        display_name=display_name.strip(),
        summary=summary,
        keygen=keygen,
    )


async def create_organization(
    conn: Connection,
    username: str,
    *,
    organization_kind: str,
    keygen: KeyGenerator,
    display_name: str = "",
    summary: str = "",
    keys_on_first_use: bool = False,
    project: bool = False,
) -> Actor:
    """Create an organisation actor (association, company, local government...; a project when
    `project`); with `keys_on_first_use`, its key pair is made by `with_keys` when first needed."""
    allowed: tuple[OrganizationKind, ...] = ("project",) if project else ORGANIZATION_KINDS
    if organization_kind not in allowed:
        raise ActorError(
            "organization_kind_invalid",
            f"an organisation kind is one of {', '.join(ORGANIZATION_KINDS)}",
        )
    _check_texts(display_name, summary)
    return await _create(
        conn,
        username=normalize_username(username),
        kind="organization",
        organization_kind=organization_kind,
        display_name=display_name.strip(),
        summary=summary,
        keygen=None if keys_on_first_use else keygen,
    )


async def ensure_instance_actor(conn: Connection, *, keygen: KeyGenerator) -> Actor:
    """Return the instance actor, creating it (and its keys) the first time."""
    actor = await queries.select_instance_actor(conn)
    if actor is not None:
        return actor
    keypair = await asyncio.to_thread(keygen)
    async with conn.transaction():
        await queries.insert_instance_actor(conn, keypair.public_pem, keypair.private_pem)
    actor = await queries.select_instance_actor(conn)
    assert actor is not None
    return actor


async def update_profile(
    conn: Connection,
    actor: Actor,
    *,
    display_name: str,
    summary: str,
    manually_approves_followers: bool,
    discoverable: bool,
) -> Actor:
    """Change a local actor's public profile."""
    _check_texts(display_name, summary)
    updated = await queries.update_profile(
        conn,
        actor.id,
        display_name=display_name.strip(),
        summary=summary,
        manually_approves_followers=manually_approves_followers,
        discoverable=discoverable,
    )
    if updated is None:
        raise ActorError("actor_missing", "this actor no longer exists")
    return updated


async def local_actor_for_uri(conn: Connection, urls: Urls, uri: str | None) -> Actor | None:
    """The local actor an IRI names (its id), or None when it names none of ours."""
    if uri is None:
        return None
    if uri == urls.instance_actor:
        return await queries.select_instance_actor(conn)
    prefix = urls.actor("")
    if not uri.startswith(prefix) or "/" in uri[len(prefix) :]:
        return None
    actor = await queries.select_actor_by_username(conn, unquote(uri[len(prefix) :]))
    return None if actor is None or actor.kind == "application" else actor


async def with_keys(conn: Connection, actor: Actor, *, keygen: KeyGenerator) -> Actor:
    """The actor with its key pair, made now if it was deferred (territory actors, imported
    organisations)."""
    if actor.public_key_pem is not None and actor.private_key_pem is not None:
        return actor
    keypair = await asyncio.to_thread(keygen)
    # Two processes may race here: the first key written wins and both return it.
    await queries.update_missing_keys(conn, actor.id, keypair.public_pem, keypair.private_pem)
    refreshed = await queries.select_actor_by_id(conn, actor.id)
    assert refreshed is not None
    return refreshed
