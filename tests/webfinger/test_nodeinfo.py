"""NodeInfo 2.0/2.1 (checked against schemas written from the spec) and host-meta."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import jsonschema
import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import queries as account_queries
from fedicity.accounts import service as accounts
from fedicity.actors import service as actor_service
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.settings import Settings
from fedicity.web.app import create_app
from tests.conftest import FIXTURES, FixedKeys

BASE = "http://fedicity.test"
SCHEMA_REL = "http://nodeinfo.diaspora.software/ns/schema/"
APPLICATION_REL = "https://www.w3.org/ns/activitystreams#Application"
XRD_NS = "{http://docs.oasis-open.org/ns/xri/xrd-1.0}"
VERSIONS = ("2.0", "2.1")


def _schema(version: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (FIXTURES / "nodeinfo" / f"schema-{version}.json").read_text()
    )
    return schema


def _validator(version: str) -> jsonschema.Draft202012Validator:
    schema = _schema(version)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


async def _nodeinfo(client: TestClientProtocol, version: str = "2.1") -> dict[str, Any]:
    response = await client.get(f"/nodeinfo/{version}")
    assert response.status_code == 200
    document: dict[str, Any] = await response.get_json(force=True)
    return document


async def _register(pool: Pool, keygen: FixedKeys, username: str, password: str) -> None:
    async with pool.acquire() as conn:
        await accounts.register(conn, username=username, password=password, keygen=keygen)


async def _log_in(client: TestClientProtocol, login: str, password: str) -> None:
    page = await (await client.get("/login")).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    response = await client.post(
        "/login", form={"csrf_token": match.group(1), "login": login, "password": password}
    )
    assert response.status_code == 303


@asynccontextmanager
async def _app_with(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> AsyncIterator[Quart]:
    application = create_app(settings, pool=pool, clock=clock, keygen=keygen)
    async with application.test_app():
        yield application


async def test_well_known_nodeinfo_links_both_versions_and_the_instance_actor(
    client: TestClientProtocol,
) -> None:
    # When a crawler discovers NodeInfo
    response = await client.get("/.well-known/nodeinfo")
    # Then it gets a cross-origin JSON document of links
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    links = {link["rel"]: link["href"] for link in (await response.get_json())["links"]}
    # And one link per schema version, at /nodeinfo/VERSION
    for version in VERSIONS:
        assert links[SCHEMA_REL + version] == f"{BASE}/nodeinfo/{version}"
    # And, per FEP-2677, the instance actor as the Application
    assert links[APPLICATION_REL] == f"{BASE}/actor"


async def test_every_discovery_link_resolves(client: TestClientProtocol) -> None:
    document = await (await client.get("/.well-known/nodeinfo")).get_json()
    for link in document["links"]:
        response = await client.get(link["href"])
        assert response.status_code == 200, link
        if link["rel"].startswith(SCHEMA_REL):
            version = link["rel"].removeprefix(SCHEMA_REL)
            assert (await response.get_json(force=True))["version"] == version
        else:
            assert (await response.get_json(force=True))["type"] == "Application"


@pytest.mark.parametrize("version", VERSIONS)
async def test_document_validates_against_the_spec_schema(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, version: str
) -> None:
    # Given an instance with a citizen and an organisation
    await _register(pool, keygen, "camille", "long enough")
    async with pool.acquire() as conn:
        await actor_service.create_organization(
            conn, "mairie", organization_kind="local_government", keygen=keygen
        )
    # When its NodeInfo document is fetched
    document = await _nodeinfo(client, version)
    # Then it is valid under the schema of that version
    _validator(version).validate(document)
    assert document["version"] == version
    assert document["software"]["name"] == "fedicity"
    assert "activitypub" in document["protocols"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_content_type_names_the_schema_profile(
    client: TestClientProtocol, version: str
) -> None:
    response = await client.get(f"/nodeinfo/{version}")
    assert response.headers["Content-Type"] == (
        f'application/json; profile="{SCHEMA_REL}{version}#"'
    )
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_unknown_versions_are_404(client: TestClientProtocol) -> None:
    for version in ["1.0", "2.2", "3.0", "latest", "2.1.0", "2"]:
        response = await client.get(f"/nodeinfo/{version}")
        assert response.status_code == 404, version
        assert response.content_type == "application/problem+json", version
        assert (await response.get_json(force=True))["status"] == 404, version


# Each entry breaks one rule of the spec in an otherwise valid document of that version.
BREAKAGES: list[tuple[str, str, dict[str, Any]]] = [
    ("2.0", "wrong version", {"version": "2.1"}),
    ("2.1", "wrong version", {"version": "2.0"}),
    ("2.1", "upper-case name", {"software": {"name": "Fedicity", "version": "1"}}),
    ("2.1", "space in name", {"software": {"name": "fedi city", "version": "1"}}),
    ("2.1", "software without version", {"software": {"name": "fedicity"}}),
    (
        "2.0",
        "homepage in 2.0",
        {"software": {"name": "fedicity", "version": "1", "homepage": "https://x"}},
    ),
    (
        "2.1",
        "unknown software field",
        {"software": {"name": "fedicity", "version": "1", "license": "AGPL"}},
    ),
    ("2.1", "no protocol", {"protocols": []}),
    ("2.1", "unknown protocol", {"protocols": ["gopher"]}),
    ("2.1", "services without outbound", {"services": {"inbound": []}}),
    ("2.1", "unknown service", {"services": {"inbound": ["gopher"], "outbound": []}}),
    ("2.1", "openRegistrations not a boolean", {"openRegistrations": "yes"}),
    ("2.1", "negative user count", {"usage": {"users": {"total": -1}}}),
    ("2.1", "fractional user count", {"usage": {"users": {"total": 1.5}}}),
    ("2.1", "unknown user count", {"usage": {"users": {"online": 3}}}),
    ("2.1", "unknown usage field", {"usage": {"users": {}, "posts": 3}}),
    ("2.1", "usage without users", {"usage": {}}),
    ("2.1", "negative localPosts", {"usage": {"users": {}, "localPosts": -2}}),
    ("2.1", "metadata not an object", {"metadata": []}),
    ("2.1", "unknown top-level field", {"nodeName": "x"}),
]


async def test_schemas_reject_documents_breaking_the_spec(client: TestClientProtocol) -> None:
    # Given the valid served documents
    served = {version: await _nodeinfo(client, version) for version in VERSIONS}
    for version, case, breakage in BREAKAGES:
        _validator(version).validate(served[version])
        # When one rule of the spec is broken
        broken = copy.deepcopy(served[version])
        broken.update(breakage)
        # Then the schema refuses it
        assert not _validator(version).is_valid(broken), f"{version} schema accepted: {case}"


async def test_schemas_require_every_top_level_field(client: TestClientProtocol) -> None:
    for version in VERSIONS:
        served = await _nodeinfo(client, version)
        for field in served:
            document = copy.deepcopy(served)
            del document[field]
            assert not _validator(version).is_valid(document), f"{version} without {field}"


async def test_only_2_1_carries_software_homepage(client: TestClientProtocol) -> None:
    assert "homepage" not in (await _nodeinfo(client, "2.0"))["software"]
    assert (await _nodeinfo(client, "2.1"))["software"]["homepage"] == BASE


async def test_user_total_counts_accounts_not_organisations(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given an empty instance
    empty = await _nodeinfo(client)
    assert empty["usage"]["users"]["total"] == 0
    assert empty["metadata"]["organizations"] == 0
    # When two citizens sign up and an organisation is created
    await _register(pool, keygen, "camille", "long enough")
    await _register(pool, keygen, "yanis", "long enough")
    async with pool.acquire() as conn:
        await actor_service.create_organization(
            conn, "mairie", organization_kind="local_government", keygen=keygen
        )
    # Then both versions count two users, and one organisation apart
    for version in VERSIONS:
        document = await _nodeinfo(client, version)
        assert document["usage"]["users"]["total"] == 2
        assert document["metadata"]["organizations"] == 1


async def test_activity_windows_follow_the_injected_clock(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, clock: FrozenClock
) -> None:
    # Given the clock set to the database's now, and a citizen who just signed up
    async with pool.acquire() as conn:
        clock.current = await conn.fetchval("SELECT now()")
    await _register(pool, keygen, "camille", "long enough")

    def users(document: dict[str, Any]) -> tuple[int, int, int]:
        counts = document["usage"]["users"]
        return counts["total"], counts["activeMonth"], counts["activeHalfyear"]

    # Then she counts as active this month and this half-year
    assert users(await _nodeinfo(client)) == (1, 1, 1)
    # When 31 days pass without a login
    clock.advance(timedelta(days=31))
    # Then she is no longer active this month, but still this half-year
    assert users(await _nodeinfo(client)) == (1, 0, 1)
    # When 181 days have passed
    clock.advance(timedelta(days=150))
    assert users(await _nodeinfo(client, "2.0")) == (1, 0, 0)
    # When she logs in (at the clock's time)
    await _log_in(client, "camille", "long enough")
    # Then she is active again in both windows
    assert users(await _nodeinfo(client)) == (1, 1, 1)
    async with pool.acquire() as conn:
        account = await account_queries.select_account_by_login(conn, "camille")
    assert account is not None
    assert account.last_login_at == clock.current


async def test_open_registrations_defaults_to_the_setting(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given the admin never used the switch
    for configured in (True, False):
        # When the instance is configured with registration open or closed
        changed = dataclasses.replace(settings, registration_open=configured)
        async with _app_with(changed, pool, clock, keygen) as application:
            # Then NodeInfo says so
            document = await _nodeinfo(application.test_client())
        assert document["openRegistrations"] is configured


async def test_open_registrations_follows_the_admin_switch_over_the_setting(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    for configured in (True, False):
        changed = dataclasses.replace(settings, registration_open=configured)
        async with _app_with(changed, pool, clock, keygen) as application:
            client = application.test_client()
            for switched in (not configured, configured):
                # When the admin's switch (stored in the database) is flipped
                async with pool.acquire() as conn:
                    await account_queries.update_registration_open(conn, switched)
                # Then NodeInfo follows the switch, whatever the setting
                for version in VERSIONS:
                    assert (await _nodeinfo(client, version))["openRegistrations"] is switched


async def test_metadata_names_the_node_and_its_territory(
    settings: Settings, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    changed = dataclasses.replace(
        settings,
        instance_name="Montreuil en commun",
        territory_name="Montreuil",
        territory_code="93048",
    )
    async with _app_with(changed, pool, clock, keygen) as application:
        metadata = (await _nodeinfo(application.test_client()))["metadata"]
    assert metadata["nodeName"] == "Montreuil en commun"
    assert metadata["territory"] == {"name": "Montreuil", "level": "commune", "code": "93048"}


async def test_host_meta_is_an_xrd_with_the_webfinger_template(
    client: TestClientProtocol,
) -> None:
    # When a client fetches host-meta
    response = await client.get("/.well-known/host-meta")
    # Then it is a cross-origin XRD document
    assert response.status_code == 200
    assert response.mimetype == "application/xrd+xml"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    # Our own server's output, not untrusted input.
    root = ElementTree.fromstring(await response.get_data())  # noqa: S314
    assert root.tag == f"{XRD_NS}XRD"
    # And its lrdd link is the WebFinger template
    (link,) = root.findall(f"{XRD_NS}Link")
    assert link.get("rel") == "lrdd"
    assert link.get("template") == f"{BASE}/.well-known/webfinger?resource={{uri}}"


@pytest.mark.parametrize(
    "path", ["/.well-known/host-meta.json", "/.well-known/host-meta?format=json"]
)
async def test_host_meta_json_is_a_jrd_with_the_webfinger_template(
    client: TestClientProtocol, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/jrd+json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    document = await response.get_json(force=True)
    assert document["links"] == [
        {"rel": "lrdd", "template": f"{BASE}/.well-known/webfinger?resource={{uri}}"}
    ]


async def test_host_meta_template_leads_to_webfinger(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen and the lrdd template
    await _register(pool, keygen, "camille", "long enough")
    template = (await (await client.get("/.well-known/host-meta.json")).get_json(force=True))[
        "links"
    ][0]["template"]
    # When a client fills the template with her acct: URI, as RFC 6415 says
    url = template.replace("{uri}", quote("acct:camille@fedicity.test", safe=""))
    response = await client.get(url)
    # Then it reaches her WebFinger document
    assert response.status_code == 200
    assert (await response.get_json(force=True))["subject"] == "acct:camille@fedicity.test"
