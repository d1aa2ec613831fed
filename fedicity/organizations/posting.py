"""Posting for an organisation: an admin's note whose author is the organisation, and a member's
post on its wall (FEP-1b12: the organisation, a group, announces it to its followers)."""

from __future__ import annotations

from typing import Any

from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.db.pool import Connection
from fedicity.delivery import queries as delivery_queries
from fedicity.organizations.service import (
    Env,
    MembershipError,
    is_member,
    require_admin,
    require_organization,
)
from fedicity.posts import service as posts
from fedicity.posts.compose import Mention
from fedicity.posts.models import Post
from fedicity.territories import service as territory_service
from fedicity.territories.document import announce
from fedicity.territories.models import Territory
from fedicity.urls import new_token


async def post_as_organization(
    conn: Connection,
    *,
    organization: Actor,
    by: Actor,
    text: str,
    env: Env,
    local_host: str,
    resolved: dict[tuple[str, str], Mention],
    visibility: str = "public",
    summary: str = "",
    in_reply_to: Post | None = None,
    language: str | None = None,
    place: Territory | None = None,
    root: Territory | None = None,
    keygen: KeyGenerator | None = None,
) -> Post:
    """An admin writes a note whose author is the organisation (the role is checked here, so a
    forged choice of organisation is refused); located in `place` like a citizen's note."""
    await require_admin(conn, organization, by, env.urls)
    if place is None:
        return await posts.create_note(
            conn,
            actor=organization,
            text=text,
            visibility=visibility,
            urls=env.urls,
            clock=env.clock,
            local_host=local_host,
            resolved=resolved,
            summary=summary,
            in_reply_to=in_reply_to,
            language=language,
        )
    if keygen is None:
        raise TypeError("locating a post needs a key generator for the territory's actor")
    return await territory_service.write_note(
        conn,
        actor=organization,
        text=text,
        visibility=visibility,
        place=place,
        root=root,
        urls=env.urls,
        clock=env.clock,
        keygen=keygen,
        local_host=local_host,
        resolved=resolved,
        summary=summary,
        in_reply_to=in_reply_to,
        language=language,
    )


async def post_on_wall(
    conn: Connection,
    *,
    organization: Actor,
    author: Actor,
    text: str,
    env: Env,
    local_host: str,
    resolved: dict[tuple[str, str], Mention],
    summary: str = "",
    language: str | None = None,
) -> Post:
    """A member's public post in the organisation (audience = the organisation actor), which the
    organisation announces to its followers as an FEP-1b12 group."""
    require_organization(organization)
    org_uri = env.urls.actor(organization.username)
    if not await is_member(conn, organization.id, env.urls.actor(author.username)):
        raise MembershipError("not_member", "only members post on the organisation's wall")
    async with conn.transaction():
        post = await posts.create_note(
            conn,
            actor=author,
            text=text,
            visibility="public",
            urls=env.urls,
            clock=env.clock,
            local_host=local_host,
            resolved=resolved,
            summary=summary,
            language=language,
            audience=org_uri,
        )
        create = await delivery_queries.select_activity(conn, env.urls.create_activity(post.uri))
        assert create is not None
        await announce_to_followers(conn, organization=organization, activity=create, env=env)
    return post


async def announce_to_followers(
    conn: Connection, *, organization: Actor, activity: dict[str, Any], env: Env
) -> None:
    """FEP-1b12: the organisation re-shares a member's activity to its followers."""
    await publish(
        conn,
        actor=organization,
        activity=announce(organization, activity, env.urls, env.urls.activity(new_token())),
        audience=Audience(followers=True),
        urls=env.urls,
        clock=env.clock,
    )
