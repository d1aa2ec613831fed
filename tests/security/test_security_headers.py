"""Every response of a running instance, whatever its kind, carries the security headers: a
Content-Security-Policy that runs no inline script and lets no other site frame the page,
`nosniff`, a Referrer-Policy and X-Frame-Options for browsers that know no CSP."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx

from fedicity.accounts import service as accounts
from fedicity.db.pool import Pool
from fedicity.media.service import store_image
from tests.conftest import FixedKeys
from tests.flows.harness import running_instance
from tests.media.images import png

HTML = "text/html"
AS_ACCEPT = "application/activity+json"


def directives(policy: str) -> dict[str, list[str]]:
    """A CSP header as {directive: [sources]}."""
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found[words[0].lower()] = words[1:]
    return found


def assert_common_headers(response: httpx.Response) -> dict[str, list[str]]:
    """The headers every response carries; its CSP as directives."""
    where = f"{response.request.method} {response.request.url} -> {response.status_code}"
    headers = response.headers
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") == "same-origin", where
    assert headers.get("x-frame-options") == "DENY", where
    policies = headers.get_list("content-security-policy")
    assert len(policies) == 1, (where, policies)
    return directives(policies[0])


class _InlineFinder(HTMLParser):
    """Inline script and style in a page: what a strict CSP would refuse to run or apply."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        # A schema.org JSON-LD element is a data block, which browsers never run (HTML: a
        # script whose type is no JavaScript type); only that exact type is let through.
        data_block = dict(attrs).get("type") == "application/ld+json"
        if tag == "script" and "src" not in names and not data_block:
            self.inline.append("<script> without src")
        if tag == "style":
            self.inline.append("<style>")
        self.inline.extend(f"{tag} {name}=" for name in names if name.startswith("on"))
        if "style" in names:
            self.inline.append(f"{tag} style=")


def assert_page_policy(response: httpx.Response) -> None:
    """An HTML page: the page policy, and nothing inline for it to refuse."""
    policy = assert_common_headers(response)
    where = f"{response.request.url} -> {response.status_code}"
    assert response.headers["content-type"].startswith(HTML), where
    assert policy.get("default-src") == ["'self'"], where
    assert policy.get("script-src") == ["'self'"], where
    assert policy.get("style-src") == ["'self'"], where
    assert policy.get("object-src") == ["'none'"], where
    assert policy.get("base-uri") == ["'none'"], where
    assert policy.get("frame-ancestors") == ["'none'"], where
    assert policy.get("form-action") == ["'self'"], where
    assert all("'unsafe-inline'" not in sources for sources in policy.values()), where
    assert "data:" not in policy.get("img-src", []), where
    finder = _InlineFinder()
    finder.feed(response.text)
    assert finder.inline == [], where


def assert_document_policy(response: httpx.Response) -> None:
    """Anything but a page: a policy that allows nothing at all."""
    policy = assert_common_headers(response)
    where = f"{response.request.url} -> {response.status_code}"
    assert policy.get("default-src") == ["'none'"], where
    assert policy.get("frame-ancestors") == ["'none'"], where


async def test_every_kind_of_response_carries_the_headers(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=20) as client,
    ):
        # Given a citizen and an uploaded image
        async with pool.acquire() as conn:
            account = await accounts.register(
                conn, username="camille", password="long enough pw", keygen=keygen
            )
            media = await store_image(
                conn,
                png(),
                data_dir=instance.settings.data_dir,
                uploaded_by=account.id,
                now=instance.clock.now(),
                max_bytes=instance.settings.max_upload_bytes,
            )
        html_accept = {"Accept": HTML}
        json_accept = {"Accept": "application/json"}

        # HTML pages, and HTML error pages
        for response in (
            await client.get("/", headers=html_accept),
            await client.get("/login", headers=html_accept),
            await client.get("/@camille", headers=html_accept),
            await client.get("/events", headers=html_accept),
            await client.get("/no/such/page", headers=html_accept),
            await client.post("/login", data={"login": "x"}, headers=html_accept),
        ):
            assert response.status_code in (200, 400, 404), response.status_code
            assert_page_policy(response)

        # Problem documents, ActivityStreams, JRD, NodeInfo, a static file, a redirect
        host = instance.settings.host
        documents = (
            (await client.get("/no/such/page", headers=json_accept), 404),
            (
                await client.post(
                    "/inbox",
                    content=b"{}",
                    headers={**json_accept, "Content-Type": "application/activity+json"},
                ),
                400,
            ),
            (await client.request("DELETE", "/", headers=json_accept), 405),
            (await client.get("/actors/camille", headers={"Accept": AS_ACCEPT}), 200),
            (await client.get("/actors/camille/outbox", headers={"Accept": AS_ACCEPT}), 200),
            (
                await client.get(
                    "/.well-known/webfinger", params={"resource": f"acct:camille@{host}"}
                ),
                200,
            ),
            (await client.get("/.well-known/nodeinfo"), 200),
            (await client.get("/static/fedicity.css"), 200),
            (await client.get("/actors/camille/avatar.png"), 200),
        )
        for response, status in documents:
            assert response.status_code == status, (response.request.url, response.status_code)
            assert_document_policy(response)
        problem = documents[0][0]
        assert problem.headers["content-type"].startswith("application/problem+json")

        # A redirect (its small HTML body gets the page policy)
        response = await client.get("/@camille", headers={"Accept": AS_ACCEPT})
        assert response.status_code == 302
        assert assert_common_headers(response).get("frame-ancestors") == ["'none'"]

        # Uploaded media keep their own, sandboxing policy
        response = await client.get(f"/media/{media.name}")
        assert response.status_code == 200
        policy = assert_common_headers(response)
        assert policy.get("default-src") == ["'none'"]
        assert "sandbox" in policy


async def test_the_policy_lets_pages_load_their_stylesheet_and_remote_images(
    pool: Pool, tmp_path: Path, keygen: FixedKeys
) -> None:
    async with (
        running_instance(pool, tmp_path, keygen, worker=False) as instance,
        httpx.AsyncClient(base_url=instance.base, timeout=20) as client,
    ):
        response = await client.get("/", headers={"Accept": HTML})
        policy = assert_common_headers(response)
        # The stylesheet is served from here, under 'self'
        stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', response.text)
        assert stylesheet is not None
        assert stylesheet.group(1).startswith("/static/")
        # Remote avatars and event images come from other servers, over https
        assert "https:" in policy["img-src"]
        assert "'self'" in policy["img-src"]
