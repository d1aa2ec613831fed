"""WebFinger (RFC 7033, FEP-d556) and the instance actor, as remote servers see them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric import rsa
from quart.typing import TestClientProtocol

from fedicity.activitypub.keys import load_public_key
from fedicity.actors import service as actor_service
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys

BASE = "http://fedicity.test"
ACTIVITY_JSON = "application/activity+json"
PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
SERVICE_REL = "https://www.w3.org/ns/activitystreams#Service"


async def _citizen(pool: Pool, keygen: FixedKeys, username: str = "camille") -> None:
    # A citizen's actor; WebFinger never looks at the account (or its slow password hash).
    async with pool.acquire() as conn:
        await actor_service.create_person(conn, username, keygen=keygen)


async def _finger(client: TestClientProtocol, query: str) -> tuple[int, dict[str, Any], str]:
    """GET the WebFinger endpoint with a raw query string: status, JSON body, content type."""
    response = await client.get(f"/.well-known/webfinger{query}")
    return response.status_code, await response.get_json(force=True), response.content_type


def _links(document: dict[str, Any], rel: str) -> list[dict[str, Any]]:
    return [link for link in document["links"] if link["rel"] == rel]


# Cases are looped inside one test each: every test pays for a database clean-up.
MALFORMED_QUERIES = {
    "missing resource": "",
    "empty resource": "?resource=",
    "blank resource": "?resource=%20%20",
    "rel without resource": "?rel=self",
    "two resources": ("?resource=acct:camille@fedicity.test&resource=acct:camille@fedicity.test"),
    "acct without host": "?resource=acct:nobody",
    "acct with only @": "?resource=acct:@",
    "acct with empty host": "?resource=acct:camille@",
    "acct with empty user": "?resource=acct:@fedicity.test",
    "bare word": "?resource=foo",
    "scheme with nothing after it": "?resource=mailto:",
    "scheme that is no scheme": "?resource=1http://fedicity.test/actors/camille",
    "URL without host": "?resource=http://",
    "unclosed IPv6 bracket": "?resource=http://%5B::1",
    "NUL in acct": "?resource=acct:ca%00mille@fedicity.test",
    "NUL inside actor URL": "?resource="
    + quote("http://fedicity.test/actors/ca%00mille", safe=":/"),
}
NOT_OURS = {
    "unknown local user": "acct:nobody@fedicity.test",
    "another host's acct": "acct:camille@elsewhere.example",
    "acct on a longer host": "acct:camille@fedicity.test.evil.example",
    "another host's URL": "https://elsewhere.example/actors/camille",
    "URL on a longer host": "http://fedicity.test.evil.example/actors/camille",
    "unknown actor URL": "http://fedicity.test/actors/nobody",
    "unknown profile URL": "http://fedicity.test/@nobody",
    "local URL that is no actor": "http://fedicity.test/settings",
    "local collection URL": "http://fedicity.test/actors/camille/outbox",
    "instance actor's internal name": "acct:instance.actor@fedicity.test",
    # RFC 7033 §4.2: 400 is for an absent or malformed resource; a well-formed URI of any
    # scheme that we hold nothing about is a 404 (it was a 400 for anything but acct: and http).
    "mailto: URI": "mailto:camille@fedicity.test",
    "urn: URI": "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    "did: URI": "did:web:fedicity.test",
    "ftp: URL of this host": "ftp://fedicity.test/actors/camille",
    "https: URL of an unknown page": "https://fedicity.test/about/team",
    "http: URL of an unknown page": "http://fedicity.test/events/unknown",
}
CAMILLE_NAMES = {
    "acct": "acct:camille@fedicity.test",
    "acct with a leading @": "acct:@camille@fedicity.test",
    "acct in other case": "acct:CAMILLE@Fedicity.Test",
    "actor URL": "http://fedicity.test/actors/camille",
    "actor URL in other case": "http://fedicity.test/actors/Camille",
    "actor URL with upper-case host": "http://FEDICITY.TEST/actors/camille",
    "profile URL": "http://fedicity.test/@camille",
    "profile URL in other case": "http://fedicity.test/@CaMiLLe",
}


async def test_malformed_requests_are_400_problem_documents(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen, so a 400 is never a disguised "not found"
    await _citizen(pool, keygen)
    for case, query in MALFORMED_QUERIES.items():
        # When a client sends a request RFC 7033 does not allow
        status, document, content_type = await _finger(client, query)
        # Then it gets a 400 problem document
        assert (status, content_type) == (400, "application/problem+json"), case
        assert document["status"] == 400, case
        assert document["title"] == "Bad Request", case
        assert document["detail"], case


async def test_resources_we_do_not_hold_are_404(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen named camille
    await _citizen(pool, keygen)
    for case, resource in NOT_OURS.items():
        # When a client asks for a resource this server has no account for
        status, document, content_type = await _finger(client, f"?resource={quote(resource)}")
        # Then it gets a 404 problem document
        assert (status, content_type) == (404, "application/problem+json"), case
        assert document["status"] == 404, case


async def test_acct_and_actor_urls_resolve_to_the_canonical_subject(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen named camille
    await _citizen(pool, keygen)
    for case, resource in CAMILLE_NAMES.items():
        # When a server looks her up by any of her names
        status, document, _ = await _finger(client, f"?resource={quote(resource)}")
        # Then it gets her canonical acct: subject, with her actor and profile URLs as aliases
        assert status == 200, case
        assert document["subject"] == "acct:camille@fedicity.test", case
        assert f"{BASE}/actors/camille" in document["aliases"], case
        assert f"{BASE}/@camille" in document["aliases"], case
        assert _links(document, "self")[0]["href"] == f"{BASE}/actors/camille", case


async def test_response_is_cross_origin_jrd(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await _citizen(pool, keygen)
    response = await client.get("/.well-known/webfinger?resource=acct:camille@fedicity.test")
    assert response.status_code == 200
    assert response.mimetype == "application/jrd+json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_links_name_actor_profile_page_and_subscribe_template(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen
    await _citizen(pool, keygen)
    # When Mastodon looks her up
    _, document, _ = await _finger(client, "?resource=acct:camille@fedicity.test")
    # Then the self link is her ActivityStreams actor
    (self_link,) = _links(document, "self")
    assert self_link == {"rel": "self", "type": ACTIVITY_JSON, "href": f"{BASE}/actors/camille"}
    # And the profile page is her HTML profile
    (profile,) = _links(document, PROFILE_PAGE_REL)
    assert profile["type"] == "text/html"
    assert profile["href"] == f"{BASE}/@camille"
    # And remote follows go through the OStatus subscribe template, with a {uri} slot
    (subscribe,) = _links(document, SUBSCRIBE_REL)
    assert subscribe["template"].startswith(f"{BASE}/")
    assert "{uri}" in subscribe["template"]
    assert "href" not in subscribe


async def test_every_link_target_answers(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen's JRD
    await _citizen(pool, keygen)
    _, document, _ = await _finger(client, "?resource=acct:camille@fedicity.test")
    # When each href is fetched with the media type the link announces
    hrefs = [link for link in document["links"] if "href" in link]
    assert hrefs
    for link in hrefs:
        response = await client.get(link["href"], headers={"Accept": link["type"]})
        # Then it exists and has that media type
        assert response.status_code == 200, link
        assert response.mimetype == link["type"], link


async def test_rel_parameters_filter_links_but_not_subject(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen
    await _citizen(pool, keygen)
    cases = [
        (["self"], ["self"]),
        (["self", PROFILE_PAGE_REL], ["self", PROFILE_PAGE_REL]),
        ([SUBSCRIBE_REL], [SUBSCRIBE_REL]),
        (["http://example.org/unknown-rel"], []),
    ]
    for rels, expected in cases:
        # When a client asks only for some link relations (RFC 7033 section 4.3)
        query = "".join(f"&rel={quote(rel, safe='')}" for rel in rels)
        status, document, _ = await _finger(client, f"?resource=acct:camille@fedicity.test{query}")
        # Then only those links come back, and subject and aliases are untouched
        assert status == 200, rels
        assert sorted(link["rel"] for link in document["links"]) == sorted(expected), rels
        assert document["subject"] == "acct:camille@fedicity.test", rels
        assert f"{BASE}/actors/camille" in document["aliases"], rels


async def test_without_rel_all_links_come_back(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await _citizen(pool, keygen)
    _, document, _ = await _finger(client, "?resource=acct:camille@fedicity.test")
    rels = {link["rel"] for link in document["links"]}
    assert {"self", PROFILE_PAGE_REL, SUBSCRIBE_REL} <= rels


async def test_organisations_resolve_like_citizens(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given an association
    async with pool.acquire() as conn:
        await actor_service.create_organization(
            conn, "amap_chavaux", organization_kind="association", keygen=keygen
        )
    # When it is looked up
    status, document, _ = await _finger(client, "?resource=acct:amap_chavaux@fedicity.test")
    # Then its self link is its actor, which is an Organization
    assert status == 200
    (self_link,) = _links(document, "self")
    actor = await client.get(self_link["href"], headers={"Accept": ACTIVITY_JSON})
    assert (await actor.get_json())["type"] == "Organization"


async def test_instance_actor_is_discoverable_per_fep_d556(client: TestClientProtocol) -> None:
    names = [
        "http://fedicity.test/",
        "http://fedicity.test",
        "http://fedicity.test/actor",
        "acct:fedicity.test@fedicity.test",
    ]
    for resource in names:
        # When a server looks up the instance itself (FEP-d556)
        status, document, content_type = await _finger(client, f"?resource={quote(resource)}")
        # Then it gets the instance actor, linked as the instance's Service
        assert status == 200, resource
        assert content_type.startswith("application/jrd+json"), resource
        assert document["subject"] == "acct:fedicity.test@fedicity.test", resource
        (service,) = _links(document, SERVICE_REL)
        assert service["href"] == f"{BASE}/actor", resource
        assert service["type"] == ACTIVITY_JSON, resource
        (self_link,) = _links(document, "self")
        assert self_link["href"] == f"{BASE}/actor", resource
        # And no citizen-only link is offered for it
        assert _links(document, PROFILE_PAGE_REL) == [], resource


async def test_instance_actor_is_created_once(client: TestClientProtocol, pool: Pool) -> None:
    # When the instance is looked up several ways, and its actor fetched
    for resource in ("http://fedicity.test/", "acct:fedicity.test@fedicity.test"):
        status, _, _ = await _finger(client, f"?resource={quote(resource)}")
        assert status == 200
    await client.get("/actor")
    # Then there is exactly one application actor
    async with pool.acquire() as conn:
        count = await conn.fetchval("SELECT count(*) FROM actors WHERE kind = 'application'")
    assert count == 1


async def test_instance_actor_document_is_an_application_with_a_key(
    client: TestClientProtocol,
) -> None:
    # When the instance actor's self link is followed
    _, document, _ = await _finger(client, f"?resource={quote(BASE + '/')}")
    (self_link,) = _links(document, "self")
    response = await client.get(self_link["href"], headers={"Accept": ACTIVITY_JSON})
    # Then it is an ActivityStreams Application carrying an RSA public key it owns
    assert response.status_code == 200
    assert response.mimetype == ACTIVITY_JSON
    actor = await response.get_json()
    assert actor["id"] == f"{BASE}/actor"
    assert actor["type"] == "Application"
    assert actor["preferredUsername"] == "fedicity.test"
    assert actor["inbox"].startswith(BASE)
    key = actor["publicKey"]
    assert key["owner"] == actor["id"]
    assert key["id"].startswith(actor["id"] + "#")
    public_key = load_public_key(key["publicKeyPem"])
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size >= 2048


async def test_instance_actor_key_is_stable(client: TestClientProtocol) -> None:
    first = await (await client.get("/actor")).get_json()
    second = await (await client.get("/actor")).get_json()
    assert first["publicKey"]["publicKeyPem"] == second["publicKey"]["publicKeyPem"]


async def test_instance_actor_is_not_served_under_its_internal_name(
    client: TestClientProtocol,
) -> None:
    # Given the instance actor exists
    assert (await client.get("/actor")).status_code == 200
    # Then it is not reachable as a local user
    response = await client.get(
        "/actors/instance.actor", headers={"Accept": "application/activity+json"}
    )
    assert response.status_code == 404
