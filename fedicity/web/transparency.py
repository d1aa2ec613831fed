"""What this instance publishes of its federation policy: /about/federation for people,
/api/v1/instance/domain_blocks in Mastodon's shape for programs (NodeInfo carries the same in
its metadata, web/webfinger.py)."""

from __future__ import annotations

import json

from quart import Blueprint, Response, render_template

from fedicity.moderation import domains
from fedicity.moderation import queries as moderation_queries
from fedicity.web.app import state

blueprint = Blueprint("transparency", __name__)

# More than any published list holds; the page is one table.
MAX_PUBLISHED = 20_000


async def _published() -> list[domains.PublishedPolicy]:
    async with state().db.acquire() as conn:
        policies = await moderation_queries.select_blocking_policies(conn, limit=MAX_PUBLISHED)
    return domains.published(policies)


@blueprint.get("/about/federation")
async def federation_page() -> str:
    """The moderated servers: which domains are limited or suspended here, and why."""
    return await render_template(
        "about_federation.html",
        policies=await _published(),
        allowlist_mode=state().settings.federation_allowlist,
    )


@blueprint.get("/api/v1/instance/domain_blocks")
async def domain_blocks() -> Response:
    """Mastodon's list of moderated servers (domain, digest, severity, comment)."""
    document = domains.mastodon_domain_blocks(await _published())
    response = Response(json.dumps(document), content_type="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
