"""Discovery: WebFinger (RFC 7033, FEP-d556), host-meta and NodeInfo 2.0/2.1."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

from quart import Blueprint, Response, request

from fedicity import SOFTWARE_NAME, __version__
from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.activitypub.vocab import ACTIVITY_JSON
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.actors.models import Actor
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation.domains import nodeinfo_federation
from fedicity.posts import queries as post_queries
from fedicity.territories import service as territory_service
from fedicity.urls import Urls
from fedicity.web.app import for_programs, state
from fedicity.web.errors import Problem
from fedicity.web.transparency import MAX_PUBLISHED

blueprint = Blueprint("webfinger", __name__)

# RFC 3986 §3.1: a letter, then letters, digits, "+", "-" or ".".
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
JRD_JSON = "application/jrd+json; charset=utf-8"
XRD_XML = "application/xrd+xml; charset=utf-8"
NODEINFO_VERSIONS = ("2.0", "2.1")
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
SERVICE_REL = "https://www.w3.org/ns/activitystreams#Service"
APPLICATION_REL = "https://www.w3.org/ns/activitystreams#Application"


def _cors(response: Response) -> Response:
    # Browser-based clients (and Fedify's lookups from web pages) read these cross-origin.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


class _NotOurs(Exception):
    """The resource is a well-formed URI that names nothing held here: 404, not 400."""


def _username_from_resource(resource: str, host: str, urls: Urls) -> str | None:
    """The local username a resource names; None for the instance itself; raise on nonsense."""
    if resource.lower().startswith("acct:"):
        account = unquote(resource[5:]).lstrip("@")
        user, sep, domain = account.rpartition("@")
        if not sep or not user or not domain:
            raise Problem(400, "an acct: resource has the form acct:user@host")
        if domain.lower() != host.lower():
            raise _NotOurs
        return None if user.lower() == host.lower() else user
    scheme, colon, rest = resource.partition(":")
    if not colon or not rest or not _SCHEME.fullmatch(scheme):
        raise Problem(400, "resource must be a URI, such as acct:user@host or an https URL")
    if scheme.lower() not in {"http", "https"}:
        # A well-formed URI we know nothing about (mailto:, urn:, did:...): RFC 7033 §4.2
        # keeps 400 for an absent or malformed resource, and answers 404 for the rest.
        raise _NotOurs
    try:
        parts = urlsplit(resource)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise Problem(400, "resource must be an acct: URI or an http(s) URL") from None
    if not parts.netloc:
        raise Problem(400, "an http(s) resource has a host")
    if f"{parts.scheme.lower()}://{parts.netloc.lower()}" != urls.base.rstrip("/"):
        raise _NotOurs
    if parts.path.rstrip("/") in {"", urlsplit(urls.instance_actor).path}:
        return None
    username = urls.username_in(parts.path) or urls.profile_username_in(parts.path)
    if username is None:
        raise _NotOurs
    return username


def _actor_jrd(actor: Actor, rels: list[str]) -> dict[str, Any]:
    app_state = state()
    urls, host = app_state.urls, app_state.settings.host
    if actor.kind == "application":
        subject = f"acct:{host}@{host}"
        links: list[dict[str, Any]] = [
            {"rel": "self", "type": ACTIVITY_JSON, "href": urls.instance_actor},
            {"rel": SERVICE_REL, "type": ACTIVITY_JSON, "href": urls.instance_actor},
        ]
        aliases = [urls.instance_actor]
    else:
        subject = f"acct:{actor.username}@{host}"
        links = [
            {"rel": "self", "type": ACTIVITY_JSON, "href": urls.actor(actor.username)},
            {
                "rel": "http://webfinger.net/rel/profile-page",
                "type": "text/html",
                # A territory's page is where its actor id redirects browsers.
                "href": urls.actor(actor.username)
                if actor.kind == "territory"
                else urls.profile(actor.username),
            },
            {
                "rel": "http://webfinger.net/rel/avatar",
                "type": "image/png",
                "href": urls.actor_avatar(actor.username),
            },
        ]
        aliases = [urls.actor(actor.username), urls.profile(actor.username)]
    links.append({"rel": SUBSCRIBE_REL, "template": urls.authorize_interaction_template})
    if rels:
        links = [link for link in links if link["rel"] in rels]
    return {"subject": subject, "aliases": aliases, "links": links}


@blueprint.get("/.well-known/webfinger")
@for_programs
async def webfinger() -> Response:
    """Resolve acct: URIs and actor URLs to actor documents (RFC 7033)."""
    app_state = state()
    resources = request.args.getlist("resource")
    if len(resources) != 1 or not resources[0].strip():
        raise Problem(400, "exactly one resource parameter is required, e.g. acct:user@host")
    try:
        username = _username_from_resource(
            resources[0].strip(), app_state.settings.host, app_state.urls
        )
    except _NotOurs:
        raise Problem(404, "this server is not authoritative for that resource") from None
    if username is not None and "\x00" in username:
        raise Problem(400, "the resource contains a NUL character")
    async with app_state.db.acquire() as conn:
        if username is None:
            actor: Actor | None = await actor_service.ensure_instance_actor(
                conn, keygen=app_state.keygen
            )
        else:
            actor = await actor_queries.select_actor_by_username(conn, username)
    if actor is None or (username is not None and actor.kind == "application"):
        raise Problem(404, "no such account here")
    document = _actor_jrd(actor, request.args.getlist("rel"))
    return _cors(Response(json.dumps(document), content_type=JRD_JSON))


@blueprint.get("/.well-known/host-meta")
@for_programs
async def host_meta() -> Response:
    """The XRD pointing at WebFinger (JSON with ?format=json)."""
    template = state().urls.webfinger_template
    if request.args.get("format") == "json":
        return await host_meta_json()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{escape(template)}"/>\n'
        "</XRD>\n"
    )
    return _cors(Response(body, content_type=XRD_XML))


@blueprint.get("/.well-known/host-meta.json")
@for_programs
async def host_meta_json() -> Response:
    """host-meta as JRD."""
    document = {"links": [{"rel": "lrdd", "template": state().urls.webfinger_template}]}
    return _cors(Response(json.dumps(document), content_type=JRD_JSON))


@blueprint.get("/.well-known/nodeinfo")
@for_programs
async def nodeinfo_links() -> Response:
    """Where the NodeInfo documents (and, per FEP-2677, the instance actor) are."""
    urls = state().urls
    links = [
        {
            "rel": f"http://nodeinfo.diaspora.software/ns/schema/{version}",
            "href": urls.nodeinfo(version),
        }
        for version in NODEINFO_VERSIONS
    ]
    links.append({"rel": APPLICATION_REL, "href": urls.instance_actor})
    return _cors(Response(json.dumps({"links": links}), content_type="application/json"))


@blueprint.get("/nodeinfo/<version>")
@for_programs
async def nodeinfo(version: str) -> Response:
    """The NodeInfo document, with usage counted from the database."""
    if version not in NODEINFO_VERSIONS:
        raise Problem(404, f"NodeInfo versions served: {', '.join(NODEINFO_VERSIONS)}")
    app_state = state()
    settings = app_state.settings
    now = app_state.clock.now()
    async with app_state.db.acquire() as conn:
        total = await account_queries.count_accounts(conn)
        month = await account_queries.count_active_accounts(conn, now - timedelta(days=30))
        halfyear = await account_queries.count_active_accounts(conn, now - timedelta(days=180))
        organizations = await actor_queries.count_actors(conn, "organization")
        open_registrations = await accounts.registration_open(conn, settings.registration_open)
        local_posts = await post_queries.count_local_posts(conn)
        root = await territory_service.served_root(
            conn, settings.territory_level, settings.territory_code
        )
        policies = await moderation_queries.select_domain_policies(conn, limit=MAX_PUBLISHED)
    software: dict[str, str] = {"name": SOFTWARE_NAME, "version": __version__}
    if version == "2.1":
        software["homepage"] = settings.base_url
    document = {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": open_registrations,
        "usage": {
            "users": {"total": total, "activeMonth": month, "activeHalfyear": halfyear},
            "localPosts": local_posts,
        },
        "metadata": {
            "nodeName": settings.instance_name,
            "territory": {
                "name": settings.territory_name or (root.name if root else ""),
                "level": root.level if root else settings.territory_level,
                "code": settings.territory_code,
            },
            "organizations": organizations,
            "languages": ["fr", "en"],
            "federation": nodeinfo_federation(
                policies, allowlist_mode=settings.federation_allowlist
            ),
        },
    }
    content_type = (
        f'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/{version}#"'
    )
    return _cors(Response(json.dumps(document), content_type=content_type))
