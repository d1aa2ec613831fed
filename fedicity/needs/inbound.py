"""The handlers workers/router.py calls for needs: a remote owner's Create, Update and Delete of
a need (kept when someone here follows the owner), a remote person's Offer to help with one of our
needs and its Undo, and a remote owner's Accept or Reject of a local helper's Offer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import get_id
from fedicity.activitypub.routing import Outcome, Router
from fedicity.actors.context import InboundContext
from fedicity.needs import queries
from fedicity.needs.parse import Refused, is_need, parse_need, parse_offer
from fedicity.needs.service import Env, tell_admins
from fedicity.notifications.service import notify
from fedicity.posts import queries as post_queries


def _env(ctx: InboundContext) -> Env:
    return Env(urls=ctx.urls, clock=ctx.clock)


async def _store(ctx: InboundContext, document: Mapping[str, Any]) -> Outcome:
    """A remote need kept (new or changed) when a local actor follows its owner."""
    if ctx.local:
        # Our own need, reaching our own followers: the row is already the need itself.
        return Outcome.done("a need of ours")
    data = parse_need(document, actor_uri=ctx.actor_uri)
    if isinstance(data, Refused):
        return Outcome.ignored(data.reason)
    existing = await queries.select_need(ctx.conn, data.uri)
    if existing is not None and existing.is_local:
        return Outcome.ignored("a remote actor cannot change a need of ours")
    if existing is not None and existing.owner_uri != data.owner_uri:
        return Outcome.ignored("only the need's owner changes it")
    if existing is None:
        _followers, followed = await post_queries.select_author_reach(
            ctx.conn, data.owner_uri, ctx.urls.actor("")
        )
        if not followed:
            return Outcome.ignored("nobody here follows the need's owner")
    need, new = await queries.upsert_need(ctx.conn, data, ctx.clock.now())
    if need.deleted_at is not None:
        return Outcome.ignored("this need was deleted")
    return Outcome.done("need stored" if new else "need updated")


async def claim_created(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome | None:
    """A created need, handled; None for anything else (a Page that is no need is a post)."""
    return await _store(ctx, document) if is_need(document) else None


async def claim_updated(
    ctx: InboundContext, activity: Mapping[str, Any], document: Mapping[str, Any]
) -> Outcome | None:
    """An updated need (one never seen is taken as new), handled; None for anything else."""
    return await _store(ctx, document) if is_need(document) else None


async def delete_stored_need(ctx: InboundContext, object_uri: str) -> Outcome | None:
    """A Delete of a need we keep, by its owner; None when the id is no need of ours."""
    need = await queries.select_need(ctx.conn, object_uri)
    if need is None:
        return None
    if ctx.local and need.is_local:
        # Our own Delete, reaching our own followers: the row is already marked deleted.
        return Outcome.done("a need of ours")
    if need.owner_uri != ctx.actor_uri or need.is_local:
        return Outcome.ignored("only the need's owner deletes it")
    await queries.mark_deleted(ctx.conn, need.id, ctx.clock.now())
    return Outcome.done("need deleted")


async def on_offer(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote person offers to help with one of our open needs: a pending offer, the owner's
    admins told."""
    data = parse_offer(activity, actor_uri=ctx.actor_uri)
    if isinstance(data, Refused):
        return Outcome.ignored(data.reason)
    need = await queries.select_need(ctx.conn, data.need_uri)
    if need is None or not need.is_local or need.deleted_at is not None:
        return Outcome.ignored("the Offer names no need of ours")
    if need.state != "open":
        return Outcome.ignored("this need no longer takes offers")
    offer = await queries.insert_offer(
        ctx.conn,
        need_id=need.id,
        helper_uri=data.helper_uri,
        message=data.message,
        activity_uri=data.activity_uri,
        now=ctx.clock.now(),
    )
    if offer is None:
        return Outcome.ignored("this helper already has a standing offer on this need")
    await tell_admins(ctx.conn, need, helper_uri=data.helper_uri, kind="need_offer", env=_env(ctx))
    return Outcome.done("offer recorded")


async def on_undo_offer(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """A remote helper withdraws their Offer."""
    offer_uri = get_id(activity.get("object"))
    offer = await queries.select_offer_by_activity(ctx.conn, offer_uri) if offer_uri else None
    if offer is None or offer.helper_uri != ctx.actor_uri:
        return Outcome.ignored("no offer of this actor has that id")
    if offer.state == "withdrawn":
        return Outcome.ignored("already withdrawn")
    await queries.update_offer_state(ctx.conn, offer.id, "withdrawn", ctx.clock.now())
    return Outcome.done("offer withdrawn")


async def _answer(ctx: InboundContext, activity: Mapping[str, Any], *, accept: bool) -> Outcome:
    """A remote owner's answer to a local helper's Offer."""
    offer_uri = get_id(activity.get("object"))
    offer = await queries.select_offer_by_activity(ctx.conn, offer_uri) if offer_uri else None
    if offer is None:
        return Outcome.ignored("no offer of ours has that id")
    need = await queries.select_need_by_id(ctx.conn, offer.need_id)
    if need is None or need.owner_uri != ctx.actor_uri:
        return Outcome.ignored("only the need's owner answers an offer")
    if offer.state != "pending":
        return Outcome.ignored("this offer was already answered or withdrawn")
    await queries.update_offer_state(
        ctx.conn, offer.id, "accepted" if accept else "declined", ctx.clock.now()
    )
    await notify(
        ctx.conn,
        recipient=offer.helper_uri,
        kind="need_offer_accepted" if accept else "need_offer_declined",
        actor_uri=ctx.actor_uri,
        object_uri=need.uri,
        urls=ctx.urls,
        clock=ctx.clock,
    )
    return Outcome.done("offer accepted" if accept else "offer declined")


async def claim_by_id(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome | None:
    """An Undo, Accept or Reject naming an Offer by its id only (nothing to route on its type):
    the needs' answer when some offer has that id, else None for the other domains."""
    offer_uri = get_id(activity.get("object"))
    if offer_uri is None or await queries.select_offer_by_activity(ctx.conn, offer_uri) is None:
        return None
    kind = activity.get("type")
    if kind == "Undo":
        return await on_undo_offer(ctx, activity)
    return await _answer(ctx, activity, accept=kind == "Accept")


async def on_accept_offer(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Accept{Offer}: the remote owner took a local helper's offer."""
    return await _answer(ctx, activity, accept=True)


async def on_reject_offer(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Reject{Offer}: the remote owner declined a local helper's offer."""
    return await _answer(ctx, activity, accept=False)


def register(router: Router[InboundContext]) -> None:
    """Add the offers' handlers to the routing table (needs themselves are claimed from the
    Create, Update and Delete the router shares with posts)."""
    router.register("Offer")(on_offer)
    router.register("Undo", "Offer")(on_undo_offer)
    router.register("Accept", "Offer")(on_accept_offer)
    router.register("Reject", "Offer")(on_reject_offer)
