"""The organisations' inbound handlers, which workers/router.py calls: Join and Leave of a local
organisation, answers to our Invites (embedded, or named by id), and a remote member's post on a
local organisation's wall, announced by it (FEP-1b12).

Join/Leave are shared with events, Accept/Reject with follows, Create and Update with posts: the
router decides which domain gets each (`local_organization`, `claim_invite_answer` and
`announce_on_walls` are what it asks here; a post is new here when the posts' handler says so)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import as_list, get_id, get_object, host_of
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors import queries as actor_queries
from fedicity.actors.context import InboundContext
from fedicity.actors.models import Actor
from fedicity.actors.service import local_actor_for_uri
from fedicity.moderation import policy
from fedicity.moderation import queries as moderation_queries
from fedicity.organizations import document, invitations, memberships, posting, queries
from fedicity.organizations.service import Env, MembershipError, is_member
from fedicity.posts import queries as post_queries
from fedicity.posts.models import Post

# A post names at most this many local organisations' walls (one Announce each).
MAX_WALLS = 5


def _env(ctx: InboundContext) -> Env:
    return Env(urls=ctx.urls, clock=ctx.clock)


async def local_organization(ctx: InboundContext, uri: str | None) -> Actor | None:
    """The local organisation actor an IRI names, if any."""
    found = await local_actor_for_uri(ctx.conn, ctx.urls, uri)
    return found if found is not None and found.kind == "organization" else None


async def on_join(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote person asks to join a local organisation."""
    organization = await local_organization(ctx, get_id(activity.get("object")))
    if organization is None:
        return Outcome.ignored("the Join is not for a local organisation")
    try:
        membership = await memberships.join(
            ctx.conn,
            organization=organization,
            member_uri=ctx.actor_uri,
            join_uri=get_id(activity),
            env=_env(ctx),
        )
    except MembershipError as error:
        return Outcome.done(f"refused: {error.code}")
    return Outcome.done("accepted" if membership.accepted else "awaiting approval")


async def on_leave(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote member leaves a local organisation."""
    organization = await local_organization(ctx, get_id(activity.get("object")))
    if organization is None:
        return Outcome.ignored("the Leave is not for a local organisation")
    try:
        left = await memberships.leave(
            ctx.conn, organization=organization, member_uri=ctx.actor_uri, env=_env(ctx)
        )
    except MembershipError as error:
        return Outcome.ignored(f"refused: {error.code}")
    return Outcome.done() if left else Outcome.ignored("not a member")


# --- answers to our Invites -------------------------------------------------------------------


async def _answer_invite(ctx: InboundContext, invite: Mapping[str, Any], accept: bool) -> Outcome:
    organization = await local_organization(ctx, get_id(invite.get("actor")))
    if organization is None:
        return Outcome.ignored("the Invite is not from a local organisation")
    # Only the invitee may answer: a forged Accept by someone else changes nothing.
    target = get_id(invite.get("target"))
    if target is not None and target != ctx.actor_uri:
        return Outcome.ignored("only the invitee can answer an invitation")
    try:
        await invitations.answer_invitation(
            ctx.conn,
            organization=organization,
            member_uri=ctx.actor_uri,
            accept=accept,
            invite_uri=get_id(invite),
            env=_env(ctx),
        )
    except MembershipError as error:
        return Outcome.ignored(f"refused: {error.code}")
    return Outcome.done("member" if accept else "declined")


async def on_accept_invite(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """The invitee accepts our Invite (embedded): a member now."""
    invite = get_object(activity)
    if invite is None:
        return Outcome.ignored("the answer does not embed the Invite")
    return await _answer_invite(ctx, invite, True)


async def on_reject_invite(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """The invitee declines our Invite (embedded)."""
    invite = get_object(activity)
    if invite is None:
        return Outcome.ignored("the answer does not embed the Invite")
    return await _answer_invite(ctx, invite, False)


async def our_invite(ctx: InboundContext, invite_uri: str | None) -> dict[str, Any] | None:
    """The Invite we sent with this id, rebuilt from the invitation it started; None when the id
    is not one of our pending invitations (then it is something else, e.g. a Follow)."""
    if invite_uri is None or host_of(invite_uri) != host_of(ctx.urls.base):
        return None
    membership = await queries.select_membership_by_activity(ctx.conn, invite_uri)
    if membership is None or membership.state != "invited":
        return None
    organization = await actor_queries.select_actor_by_id(ctx.conn, membership.organization_id)
    if organization is None or organization.kind != "organization":
        return None
    return document.invite(
        id=invite_uri,
        organization_uri=ctx.urls.actor(organization.username),
        member_uri=membership.member_uri,
    )


async def claim_invite_answer(
    ctx: InboundContext, activity: Mapping[str, Any], *, accept: bool
) -> Outcome | None:
    """An Accept (or Reject) naming one of our Invites by id only, handled; None for anything
    else (a Follow's answer, or an answer that embeds its object and is routed on its type)."""
    if get_object(activity) is not None:
        return None
    invite = await our_invite(ctx, get_id(activity.get("object")))
    if invite is None:
        return None
    return await _answer_invite(ctx, invite, accept)


# --- the wall (FEP-1b12) ----------------------------------------------------------------------


def _addressed(post: Post) -> list[str]:
    raw = post.raw or {}
    named = [get_id(item) for item in as_list(raw.get("audience"))]
    found = [uri for uri in named if uri is not None]
    return list(dict.fromkeys([*found, *post.to_uris, *post.cc_uris]))


def _names_a_local_actor(ctx: InboundContext, document: Mapping[str, Any]) -> bool:
    prefix = ctx.urls.actor("")
    named = (*as_list(document.get("audience")), *as_list(document.get("to")),
             *as_list(document.get("cc")))  # fmt: skip
    return any((uri := get_id(item)) is not None and uri.startswith(prefix) for item in named)


async def _moderated(ctx: InboundContext, post: Post) -> str | None:
    """Why the instance's moderation keeps a post from being re-shared (its server or its author
    silenced or suspended here), read when the post arrives; None when nothing does."""
    for uri in (post.author_uri, post.uri):
        action = await policy.limiting_action(ctx.conn, host_of(uri))
        if action is not None:
            return f"its server is {action}d here"
    level = await moderation_queries.select_restriction(ctx.conn, post.author_uri)
    return None if level is None else f"its author is {level}d here"


async def announce_wall_post(
    ctx: InboundContext, activity: Mapping[str, Any], post: Post
) -> list[str]:
    """A remote member's new public post addressed to local organisations (in `audience`, `to`
    or `cc`) is announced by each of them to its followers; a non-member's, or one whose server
    or author is silenced or suspended here, is only stored. Returns one line per organisation
    addressed, for the inbox row."""
    if post.author_uri != ctx.actor_uri or post.local_actor_id is not None:
        return []
    lines: list[str] = []
    moderated: str | None = None
    for uri in _addressed(post):
        organization = await local_organization(ctx, uri)
        if organization is None:
            continue
        if len(lines) >= MAX_WALLS:
            break
        if not lines:  # read once, and only for a post that names a wall
            moderated = await _moderated(ctx, post)
        if post.visibility != "public":
            lines.append(f"not announced by {organization.username}: not public")
        elif moderated is not None:
            lines.append(f"not announced by {organization.username}: {moderated}")
        elif not await is_member(ctx.conn, organization.id, post.author_uri):
            lines.append(f"not announced by {organization.username}: not a member")
        else:
            await posting.announce_to_followers(
                ctx.conn, organization=organization, activity=dict(activity), env=_env(ctx)
            )
            lines.append(f"announced by {organization.username}")
    return lines


async def announce_on_walls(
    ctx: InboundContext, activity: Mapping[str, Any], object_uri: str
) -> list[str]:
    """After the posts' handler stored the new post `object_uri`: `announce_wall_post`, embedding
    the activity received; nothing when it was not stored as a post (a ballot, a poll answer)."""
    embedded = get_object(activity)
    if embedded is not None and not _names_a_local_actor(ctx, embedded):
        # Most posts: no wall is addressed, so the post need not be read back (the addressees
        # _addressed reads are the embedded object's, stored as they came).
        return []
    post = await post_queries.select_post(ctx.conn, object_uri)
    if post is None:
        return []
    return await announce_wall_post(ctx, activity, post)


def register(router: Router[InboundContext]) -> None:
    """Answers to our Invites. Join and Leave are shared with events: workers/router.py sends
    those of a local organisation to `on_join` and `on_leave`."""
    router.register("Accept", "Invite")(on_accept_invite)
    router.register("Reject", "Invite")(on_reject_invite)
