"""The one routing table: every inbound (activity type, object type) and its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from typing import Any

from fedicity.activitypub.accessors import get_id, get_object
from fedicity.activitypub.routing import ANY_OBJECT, Handler, Outcome, Router
from fedicity.actors import inbound as actors_inbound
from fedicity.actors.context import InboundContext
from fedicity.actors.parse import ACTOR_TYPES
from fedicity.events import inbound as events_inbound
from fedicity.follows import inbound as follows_inbound
from fedicity.listings import inbound as listings_inbound
from fedicity.moderation import inbound as moderation_inbound
from fedicity.needs import inbound as needs_inbound
from fedicity.organizations import inbound as organizations_inbound
from fedicity.poi import inbound as poi_inbound
from fedicity.posts import inbound as posts_inbound
from fedicity.posts.models import POST_TYPES
from fedicity.projects import inbound as projects_inbound
from fedicity.proposals import inbound as proposals_inbound
from fedicity.stewardship import inbound as stewardship_inbound
from fedicity.territories import inbound as territories_inbound


async def on_delete(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Delete of the actor itself, or of one of its events, comments on our proposals or posts
    (by bare id or Tombstone)."""
    object_uri = get_id(activity.get("object"))
    if object_uri is None:
        return Outcome.ignored("the Delete has no object")
    if object_uri == ctx.actor_uri:
        # An actor deleted itself: each domain forgets what it kept of it.
        await follows_inbound.forget_actor(ctx)
        await posts_inbound.forget_author(ctx)
        await proposals_inbound.forget_room_follower(ctx)
        await listings_inbound.forget_author(ctx)
        return await actors_inbound.on_delete_actor(ctx)
    listing_outcome = await listings_inbound.delete_stored_listing(ctx, object_uri)
    if listing_outcome is not None:
        return listing_outcome
    # Mobilizon may delete an event by its bare id, with no Tombstone to route on.
    event_outcome = await events_inbound.delete_stored_event(ctx, object_uri)
    if event_outcome is not None:
        return event_outcome
    # A comment on one of our proposals is not a post: the proposal's replies lose it.
    comment_outcome = await proposals_inbound.delete_stored_comment(ctx, object_uri)
    if comment_outcome is not None:
        return comment_outcome
    action_outcome = await proposals_inbound.delete_stored_action(ctx, object_uri)
    if action_outcome is not None:
        return action_outcome
    place_outcome = await poi_inbound.delete_stored_place(ctx, object_uri)
    if place_outcome is not None:
        return place_outcome
    need_outcome = await needs_inbound.delete_stored_need(ctx, object_uri)
    if need_outcome is not None:
        return need_outcome
    return await posts_inbound.on_delete_object(ctx, object_uri)


# Who may claim a created Note before it is taken as a post, in order (a Page with
# `listingKind` is a listing, one with `kind: "Need"` a need; other Pages stay posts).
CREATE_CLAIMS = (
    listings_inbound.claim_created,
    proposals_inbound.claim_created,
    events_inbound.claim_created,
    needs_inbound.claim_created,
)
UPDATE_CLAIMS = (
    listings_inbound.claim_updated,
    proposals_inbound.claim_updated,
    needs_inbound.claim_updated,
)


async def on_create(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A created Note-like object: a vote, amendment or comment on one of our proposals, or an
    answer to one of our events' companion polls, if one of them claims it; else a post (and a
    Question is kept as a remote proposal too)."""
    document = await posts_inbound.object_of(ctx, activity)
    if isinstance(document, Outcome):
        return document
    for claim in CREATE_CLAIMS:
        claimed = await claim(ctx, activity, document)
        if claimed is not None:
            return claimed
    outcome = await posts_inbound.store_created(ctx, document)
    if outcome.state == "done":
        await proposals_inbound.remember_question(ctx, document)
    return outcome


async def on_update(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """An edited post (or comment on one of our proposals); a post we never had is taken as new."""
    document = get_object(activity)
    if document is None:
        return Outcome.ignored("the Update does not embed the post")
    for claim in UPDATE_CLAIMS:
        claimed = await claim(ctx, activity, document)
        if claimed is not None:
            return claimed
    outcome = await posts_inbound.store_updated(ctx, document)
    if outcome is None:
        return await on_create(ctx, activity)
    if outcome.state == "done":
        await proposals_inbound.remember_question(ctx, document)
    return outcome


async def on_undo_by_id(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """An Undo whose object is only an id (or of a type nothing routes): the like or boost, else
    the follow, that the actor made with that activity."""
    undone = get_id(activity.get("object"))
    if undone is None:
        return Outcome.ignored("the Undo has no object")
    room_outcome = await proposals_inbound.claim_room_unfollow(ctx, activity)
    if room_outcome is not None:
        return room_outcome
    offer_outcome = await needs_inbound.claim_by_id(ctx, activity)
    if offer_outcome is not None:
        return offer_outcome
    for undo in (posts_inbound.undo_interaction_by_id, follows_inbound.undo_follow_by_id):
        outcome = await undo(ctx, undone)
        if outcome is not None:
            return outcome
    return Outcome.ignored("nothing this actor did here has that id")


async def on_update_other(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Update of something we do not keep a type-specific handler for."""
    embedded = get_object(activity)
    if actors_inbound.is_actor_document(embedded):
        return await actors_inbound.on_update_actor(ctx, activity)
    return Outcome.ignored("nothing here to update")


# Some activity types are wanted by two domains; the first domain's handlers are wrapped so each
# activity reaches the right one:
# - Join and Leave: of a local organisation actor -> organisations, anything else -> events;
# - Accept and Reject naming their object by id only: of one of our Invites -> organisations,
#   anything else -> follows (an Accept that embeds the Invite is routed on its type already);
# - Create, and Update (a post we first see through an edit is new here too): posts store it,
#   then a remote member's post new here addressed to a local organisation is announced by it
#   (the organisation's wall, FEP-1b12);
# - Announce{Create}: of a listing (a Page with listingKind) -> listings, anything else -> the
#   territories' aggregation of posts (Announce{Update} and Announce{Delete}: listings, else
#   the posts' Announce).
# - Undo of an Announce: the boost it undid, else a followed territory actor taking back its
#   Announce (a co-moderation decision there: the item it located here leaves our pages).
Wrapper = Callable[[Handler[InboundContext]], Handler[InboundContext]]


def organizations_first(
    organization_handler: Handler[InboundContext], other: Handler[InboundContext]
) -> Handler[InboundContext]:
    """Activities whose object is a local organisation actor to `organization_handler`, the
    others (events' Join and Leave) to `other`."""

    async def handler(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        object_uri = get_id(activity.get("object"))
        if await organizations_inbound.local_organization(ctx, object_uri) is not None:
            return await organization_handler(ctx, activity)
        return await other(ctx, activity)

    handler.__doc__ = f"Organisations first, then {getattr(other, '__name__', 'the others')}."
    return handler


def invite_answers_first(
    other: Handler[InboundContext], *, accept: bool
) -> Handler[InboundContext]:
    """Accept (or Reject) naming one of our Invites by id to the organisation, one of our Offers
    by id to needs, anything else (a Follow's answer) to `other`."""

    async def handler(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        claimed = await organizations_inbound.claim_invite_answer(ctx, activity, accept=accept)
        if claimed is None:
            # An answer to one of our people's Offers of help, named by id only.
            claimed = await needs_inbound.claim_by_id(ctx, activity)
        return claimed if claimed is not None else await other(ctx, activity)

    then = getattr(other, "__name__", "the others")
    handler.__doc__ = f"Invites first, offers next, then {then}."
    return handler


def with_wall(post_handler: Handler[InboundContext]) -> Handler[InboundContext]:
    """The posts' Create (or Update) handler, then the wall: a post new here that a remote member
    addressed to a local organisation is announced by it, embedding the activity received (once: a
    post already stored, even deleted since, is not; an Update is new here only when its Create
    never reached us)."""

    async def handler(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        outcome = await post_handler(ctx, activity)
        new_post = get_id(activity.get("object"))
        # New here: the posts' handler stored it, and no row had its id before, even deleted.
        if new_post is None or new_post not in ctx.new_posts or outcome.state != "done":
            return outcome
        lines = await organizations_inbound.announce_on_walls(ctx, activity, new_post)
        detail = "; ".join(part for part in (outcome.detail, *lines) if part)
        return Outcome(outcome.state, detail)

    handler.__doc__ = f"{getattr(post_handler, '__name__', 'Posts')}, then the wall."
    return handler


def then_territories(post_handler: Handler[InboundContext]) -> Handler[InboundContext]:
    """The posts' Undo (of a like or boost), then, when it undid no boost, a followed territory
    actor taking back its Announce: the item it located here leaves our pages."""

    async def handler(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        outcome = await post_handler(ctx, activity)
        if outcome.state == "done":
            return outcome
        return await territories_inbound.on_undo_announce(ctx, activity)

    handler.__doc__ = f"{getattr(post_handler, '__name__', 'Posts')}, then the territories."
    return handler


EVENTS_SHARED: dict[str, Wrapper] = {
    "Join": lambda events: organizations_first(organizations_inbound.on_join, events),
    "Leave": lambda events: organizations_first(organizations_inbound.on_leave, events),
}


def rooms_first(
    claim: Callable[[InboundContext, Mapping[str, Any]], Awaitable[Outcome | None]],
    other: Handler[InboundContext],
) -> Handler[InboundContext]:
    """A Follow (or its Undo) of one of our rooms to the room follows, anything else to `other`
    (a room is not an actor: its owner's inbox receives them)."""

    async def handler(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        claimed = await claim(ctx, activity)
        return claimed if claimed is not None else await other(ctx, activity)

    handler.__doc__ = f"Rooms first, then {getattr(other, '__name__', 'the others')}."
    return handler


FOLLOWS_SHARED: dict[str, Wrapper] = {
    "Accept": lambda follows: invite_answers_first(follows, accept=True),
    "Reject": lambda follows: invite_answers_first(follows, accept=False),
    "Follow": lambda follows: rooms_first(proposals_inbound.claim_room_follow, follows),
    "Undo": lambda follows: rooms_first(proposals_inbound.claim_room_unfollow, follows),
}


def places_first(other: Handler[InboundContext]) -> Handler[InboundContext]:
    """An announced Create or Update of a Place to points of interest, any other to `other`."""

    async def handler(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        if poi_inbound.announces_place(activity):
            return await poi_inbound.on_announced_place(ctx, activity)
        return await other(ctx, activity)

    handler.__doc__ = f"Places first, then {getattr(other, '__name__', 'the others')}."
    return handler


POSTS_SHARED: dict[str, Wrapper] = {
    "Create": with_wall,
    "Update": with_wall,
    "Undo": then_territories,
}


def listings_first(territories: Handler[InboundContext]) -> Handler[InboundContext]:
    """An announced Create of a listing to listings, any other announced Create to the
    territories' aggregation."""

    async def handler(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
        claimed = await listings_inbound.claim_announced(ctx, activity)
        return claimed if claimed is not None else await territories(ctx, activity)

    handler.__doc__ = f"Listings first, then {getattr(territories, '__name__', 'the others')}."
    return handler


TERRITORIES_SHARED: dict[str, Wrapper] = {
    "Announce": lambda territories: places_first(listings_first(territories))
}


def _register_wrapped(
    router: Router[InboundContext],
    register: Callable[[Router[InboundContext]], None],
    wrappers: Mapping[str, Wrapper],
) -> None:
    """Register a domain's routes, each handler of an activity type in `wrappers` wrapped."""
    staging: Router[InboundContext] = Router()
    register(staging)
    for activity_type, object_type in staging.routes():
        probe: dict[str, Any] = {"type": activity_type}
        if object_type != ANY_OBJECT:
            probe["object"] = {"type": object_type}
        handler = staging.lookup(probe)
        assert handler is not None
        wrapper = wrappers.get(activity_type)
        router.register(activity_type, object_type)(wrapper(handler) if wrapper else handler)


def _register_posts(router: Router[InboundContext]) -> None:
    for object_type in sorted(POST_TYPES):
        router.register("Create", object_type)(on_create)
        router.register("Update", object_type)(on_update)
    router.register("Create")(on_create)
    posts_inbound.register(router)


@lru_cache(maxsize=1)
def build_router() -> Router[InboundContext]:
    """Register every domain's handlers once."""
    router: Router[InboundContext] = Router()
    _register_wrapped(router, follows_inbound.register, FOLLOWS_SHARED)
    _register_wrapped(router, _register_posts, POSTS_SHARED)
    moderation_inbound.register(router)
    router.register("Flag")(stewardship_inbound.on_flag)
    _register_wrapped(router, territories_inbound.register, TERRITORIES_SHARED)
    poi_inbound.register(router)
    # A territory's Announce of an Update or a Delete has no route of its own: a Place's edit
    # goes to points of interest, a listing's edit, renewal or deletion to listings, any other to
    # the Announce handler of any object (a boost).
    any_announce = router.lookup({"type": "Announce"})
    assert any_announce is not None
    router.register("Announce", "Update")(places_first(listings_first(any_announce)))
    router.register("Announce", "Delete")(listings_first(any_announce))
    _register_wrapped(router, events_inbound.register, EVENTS_SHARED)
    organizations_inbound.register(router)
    needs_inbound.register(router)
    router.register("Delete")(on_delete)
    router.register("Undo")(on_undo_by_id)
    router.register("Update")(on_update_other)
    for actor_type in sorted(ACTOR_TYPES):
        router.register("Update", actor_type)(actors_inbound.on_update_actor)
    router.register("Move")(moderation_inbound.on_move)
    # A project publishing itself (projects/inbound.py).
    router.register("Create", "Group")(projects_inbound.on_create_group)
    return router
