"""A Flag from another server: kept by moderation/inbound.py, then placed here (whose content it
is about, and on which organisation's wall or territory it lives) so it reaches the moderators
of that place too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedicity.activitypub.accessors import get_ids
from fedicity.activitypub.routing import Outcome
from fedicity.actors.context import InboundContext
from fedicity.moderation import inbound as moderation_inbound
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation import reports
from fedicity.stewardship import targets


async def on_flag(ctx: InboundContext, activity: Mapping[str, Any]) -> Outcome:
    """Keep the report, then say whose and where its objects are."""
    outcome = await moderation_inbound.on_flag(ctx, activity)
    if outcome.state != "done":  # not kept (its server's reports are rejected, or it names nothing)
        return outcome
    found = await targets.find_all(
        ctx.conn, ctx.urls, get_ids(activity.get("object"))[: reports.MAX_TARGETS]
    )
    if not found:
        return outcome
    # Mastodon names the account first, then its posts: the account is the first owner found.
    owner = next((target.owner for target in found if target.owner), None)
    await moderation_queries.update_report_place(
        ctx.conn,
        moderation_inbound.report_uri(activity),
        target_actor=owner,
        organization_id=next((t.organization_id for t in found if t.organization_id), None),
        territory_id=next((t.territory_id for t in found if t.territory_id), None),
    )
    return outcome
