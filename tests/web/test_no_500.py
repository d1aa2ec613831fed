"""No hostile or malformed request makes any route answer 5xx; errors speak the client's format."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from quart import Quart, Response
from quart.typing import TestClientProtocol
from werkzeug.routing import Rule

from fedicity.accounts import service as accounts
from fedicity.actors import service as actor_service
from fedicity.db.pool import Pool
from fedicity.settings import Settings
from fedicity.web.app import only_for_programs
from tests.conftest import FixedKeys

PASSWORD = "long enough"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SAMPLE_ARGUMENTS = {"username": "camille", "version": "2.1", "report_id": "1", "vote_id": "1"}
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

# Accept headers, and the error format each must get: "html", "problem", or None when either
# is a fair reading of a header that makes no sense.
ACCEPTS: list[tuple[str | None, str | None]] = [
    (None, "problem"),
    ("", "problem"),
    ("*/*", "problem"),
    ("application/json", "problem"),
    ("application/activity+json", "problem"),
    ('application/ld+json; profile="https://www.w3.org/ns/activitystreams"', "problem"),
    ("application/problem+json", "problem"),
    ("image/png", "problem"),
    (BROWSER, "html"),
    ("text/html", "html"),
    ("application/xhtml+xml", "html"),
    ("text/html;q=0, application/json", "problem"),
    ("text/html;q=0.1, application/json;q=0.9", "problem"),
    (
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams", text/html;q=0.1',
        "problem",
    ),
    ("application/activity+json, text/html;q=0.1", "problem"),
    ("text/html, application/activity+json;q=0.1", "html"),
    (";;;", None),
    (",,,", None),
    ("*/*;q=0", None),
    ("text/html;q=abc", None),
    ("text/*", None),
    ("*/html", None),
    ("application/activity+json;q=-1", None),
    ("text/html;" + "a=b;" * 500, None),
    ("x" * 8000, None),
    ("\u00e9/\u00e8", None),
]
QUERY_STRINGS = [
    "%ZZ",
    "%",
    "=&=&&",
    "a=%FF%FE%FD",
    "lang=%00",
    "lang=" + "x" * 10_000,
    "lang=en&lang=fr",
    "resource=%00",
    "resource=acct:" + "a" * 5000 + "@fedicity.test",
    "resource=acct:camille@fedicity.test&resource=",
    "resource=acct:%ED%A0%80@fedicity.test",
    "resource=%F0%9F%98%80",
    "resource=http://%5B::1",
    "resource=http://fedicity.test:99999/",
    "resource=http://fedicity.test/actors/%2500",
    "rel=%00&resource=acct:camille@fedicity.test",
    "format=json&format=xml",
    "next=%00",
    "next=/%0d%0aSet-Cookie:%20x=y",
    "saved=%00",
    "q=" + "%25" * 2000,
]
PATH_ARGUMENTS = [
    "%00",
    "a%00b",
    "%C3%A9",
    "%F0%9F%98%80",
    "%ED%A0%80",
    "%FF",
    "a" * 10_000,
    "..",
    "%2E%2E",
    "%2F",
    "%20",
    "%E2%80%AE",
    "CAMILLE",
    "instance.actor",
    "%3Cscript%3E",
    "0",
]
PATH_SUFFIXES = ["%00", "/%00", "/" + "a" * 10_000, "/..", "%FF", "/%F0%9F%98%80", "//"]
MALFORMED_BODIES: list[tuple[str | None, bytes]] = [
    ("application/x-www-form-urlencoded", b"%%%&&==&\xff\xfe=&csrf_token"),
    ("application/x-www-form-urlencoded", b"csrf_token"),
    ("application/x-www-form-urlencoded", b"csrf_token=%ZZ&login=%"),
    ("application/x-www-form-urlencoded; charset=utf-16", "login=é".encode("utf-16")),
    ("multipart/form-data", b"--x\r\n"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\nvalue"),
    (
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="csrf_token"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--x--\r\n",
    ),
    ("multipart/form-data; boundary=" + "b" * 300, b"--" + b"b" * 300 + b"\r\n"),
    ("application/json", b'{"csrf_token": 1}'),
    ("application/json", b"{not json"),
    ("text/plain", b"\x00\x01\x02"),
    ("", b"csrf_token=x"),
    (None, b"csrf_token=x"),
    ("\x7f/\x7f", b"csrf_token=x"),
]
HOSTILE_VALUES = [
    "",
    "\x00",
    "a" * 60_000,  # times 13 fields, still under the 1 MiB limit
    "é\u202e\u200b",
    "%00",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "\U0001d54f" * 1000,
    "\r\n",
    "on",
    "-1",
]
FORM_FIELDS = (
    "username",
    "email",
    "display_name",
    "password",
    "password_confirm",
    "current_password",
    "login",
    "next",
    "summary",
    "locale",
    "registration_open",
    "manually_approves_followers",
    "discoverable",
)


def _rules(app: Quart) -> list[Rule]:
    """Every route but static files, logout last (it ends the session the others use)."""
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
    return sorted(rules, key=lambda rule: rule.rule == "/logout")


def _path(rule: Rule, argument: str | None = None) -> str:
    """A concrete path for a rule: sample values, or `argument` in every variable part."""

    def fill(match: re.Match[str]) -> str:
        if argument is not None:
            return argument
        return SAMPLE_ARGUMENTS.get(match.group(1), "sample")

    return _ARGUMENT.sub(fill, rule.rule)


def _is_html_form(rule: Rule) -> bool:
    """Whether the route belongs to a blueprint of HTML forms (CSRF-checked, form bodies)."""
    return rule.endpoint.split(".")[0] in {"accounts", "pages"}


def _methods(rule: Rule) -> set[str]:
    return set(rule.methods or ())


def _path_methods(app: Quart, rule: Rule) -> set[str]:
    """The methods of every rule of the same path (the API reads and writes one path in two
    blueprints: web/api.py, web/api_write.py)."""
    return set().union(*(_methods(r) for r in app.url_map.iter_rules() if r.rule == rule.rule))


def _safe_method(rule: Rule) -> str:
    return "GET" if "GET" in _methods(rule) else "POST"


async def _send(client: TestClientProtocol, path: str, *, method: str, **kwargs: Any) -> Response:
    """Send a request with any method (the client's open() has an awkward signature)."""
    sender: Callable[..., Awaitable[Response]] = getattr(client, method.lower())
    return await sender(path, **kwargs)


def _headers(accept: str | None) -> dict[str, str]:
    return {} if accept is None else {"Accept": accept}


async def _collect(
    issues: list[str],
    response: Response,
    what: str,
    method: str,
    expected_kind: str | None = None,
) -> None:
    """Note what is wrong with a response: a 5xx, or an error in a format nobody asked for."""
    status = response.status_code
    if status >= 500:
        issues.append(f"{what}: {status}")
        return
    if status < 400 or method == "HEAD":
        return
    body = await response.get_data(as_text=True)
    if response.mimetype == "text/html":
        kind = "html"
        if "<html" not in body:
            issues.append(f"{what}: {status} text/html error is not a page")
    elif response.content_type == "application/problem+json":
        kind = "problem"
        try:
            document = json.loads(body)
        except ValueError:
            issues.append(f"{what}: {status} problem+json is not JSON")
            return
        if document.get("status") != status or not isinstance(document.get("title"), str):
            issues.append(f"{what}: {status} problem document is malformed: {document}")
    else:
        issues.append(f"{what}: {status} error served as {response.content_type!r}")
        return
    if expected_kind is not None and kind != expected_kind:
        issues.append(f"{what}: {status} error served as {kind}, wanted {expected_kind}")


@pytest.fixture
async def citizen(pool: Pool, keygen: FixedKeys) -> None:
    """camille's actor exists, so sample paths reach real handlers rather than 404s."""
    async with pool.acquire() as conn:
        await actor_service.create_person(conn, "camille", keygen=keygen)


def test_routes_are_discovered_from_the_url_map(app: Quart) -> None:
    # The tests below iterate the URL map, so new routes are covered as they appear.
    paths = {rule.rule for rule in _rules(app)}
    assert {
        "/",
        "/@<username>",
        "/actors/<username>",
        "/actor",
        "/.well-known/webfinger",
        "/nodeinfo/<version>",
        "/signup",
        "/login",
        "/logout",
        "/settings",
        "/admin",
    } <= paths
    assert "/static/<path:filename>" not in paths
    assert _rules(app)[-1].rule == "/logout"


@pytest.mark.usefixtures("citizen")
async def test_wrong_methods_are_405_in_the_clients_format(
    app: Quart, client: TestClientProtocol
) -> None:
    issues: list[str] = []
    for rule in _rules(app):
        for method in sorted(set(METHODS) - _path_methods(app, rule)):
            for accept, kind in ((None, "problem"), (BROWSER, "html")):
                what = f"{method} {rule.rule} Accept={accept}"
                response = await _send(client, _path(rule), method=method, headers=_headers(accept))
                if response.status_code != 405:
                    issues.append(f"{what}: {response.status_code}, wanted 405")
                elif not set(response.headers.get("Allow", "").replace(" ", "").split(",")) >= (
                    _path_methods(app, rule) - {"HEAD", "OPTIONS"}
                ):
                    issues.append(f"{what}: Allow header {response.headers.get('Allow')!r}")
                await _collect(issues, response, what, method, kind)
    assert not issues, "\n".join(issues)


@pytest.mark.usefixtures("citizen")
async def test_head_and_options_never_fail(app: Quart, client: TestClientProtocol) -> None:
    issues: list[str] = []
    for rule in _rules(app):
        for method in ("HEAD", "OPTIONS"):
            response = await _send(client, _path(rule), method=method)
            await _collect(issues, response, f"{method} {rule.rule}", method)
        options = await _send(client, _path(rule), method="OPTIONS")
        if options.status_code == 200 and "Allow" not in options.headers:
            issues.append(f"OPTIONS {rule.rule}: no Allow header")
    assert not issues, "\n".join(issues)


@pytest.mark.usefixtures("citizen")
async def test_bodies_over_one_mebibyte_are_413(
    app: Quart, client: TestClientProtocol, settings: Settings
) -> None:
    limit = settings.max_body_bytes
    assert limit == 1024 * 1024
    huge_form = b"csrf_token=x&summary=" + b"a" * limit
    huge_multipart = (
        b'--x\r\nContent-Disposition: form-data; name="summary"\r\n\r\n'
        + b"a" * limit
        + b"\r\n--x--\r\n"
    )
    bodies = [
        ("application/x-www-form-urlencoded", huge_form),
        ("multipart/form-data; boundary=x", huge_multipart),
        ("application/octet-stream", b"\x00" * (limit + 1)),
    ]
    issues: list[str] = []
    for rule in _rules(app):
        for method in sorted(_methods(rule) - {"HEAD", "OPTIONS"}):
            for content_type, body in bodies:
                for accept, kind in ((None, "problem"), (BROWSER, "html")):
                    what = f"{method} {rule.rule} {content_type} {len(body)} bytes"
                    response = await _send(
                        client,
                        _path(rule),
                        method=method,
                        data=body,
                        headers={"Content-Type": content_type, **_headers(accept)},
                    )
                    # A form handler reads a form body, so it must refuse it as too large; other
                    # bodies it never reads (a 400 for the missing token is fine); GET ignores it.
                    status = response.status_code
                    reads_body = _is_html_form(rule) and "form" in content_type
                    if method == "POST" and reads_body and status != 413:
                        issues.append(f"{what}: {status}, wanted 413")
                    elif method != "GET" and not 400 <= status < 500:
                        issues.append(f"{what}: {status}, wanted a refusal")
                    await _collect(issues, response, what, method, kind)
    assert not issues, "\n".join(issues)


@pytest.mark.usefixtures("citizen")
async def test_malformed_form_bodies_are_refused_cleanly(
    app: Quart, client: TestClientProtocol
) -> None:
    # Given a session (so CSRF checks have a token to compare with)
    await client.get("/login")
    issues: list[str] = []
    for rule in _rules(app):
        if "POST" not in _methods(rule):
            continue
        for content_type, body in MALFORMED_BODIES:
            headers = {} if content_type is None else {"Content-Type": content_type}
            what = f"POST {rule.rule} {content_type!r} {body[:40]!r}"
            response = await client.post(_path(rule), data=body, headers=headers)
            # None of these carries the session's token: forms refuse them as bad requests
            status = response.status_code
            if _is_html_form(rule) and status != 400:
                issues.append(f"{what}: {status}, wanted 400")
            elif not 400 <= status < 500:
                issues.append(f"{what}: {status}, wanted a refusal")
            await _collect(issues, response, what, "POST", "problem")
    assert not issues, "\n".join(issues)


@pytest.mark.usefixtures("citizen")
async def test_garbage_query_strings_never_fail(app: Quart, client: TestClientProtocol) -> None:
    issues: list[str] = []
    for rule in _rules(app):
        method = _safe_method(rule)
        for query in QUERY_STRINGS:
            what = f"{method} {rule.rule}?{query[:60]}"
            response = await _send(client, f"{_path(rule)}?{query}", method=method)
            await _collect(issues, response, what, method, "problem")
    assert not issues, "\n".join(issues)


@pytest.mark.usefixtures("citizen")
async def test_hostile_path_segments_never_fail(app: Quart, client: TestClientProtocol) -> None:
    issues: list[str] = []
    for rule in _rules(app):
        method = _safe_method(rule)
        if rule.arguments:
            paths = [_path(rule, argument) for argument in PATH_ARGUMENTS]
        else:
            paths = [
                "/" + (_path(rule).strip("/") + suffix).lstrip("/") for suffix in PATH_SUFFIXES
            ]
        for path in paths:
            for accept, kind in ((None, "problem"), (BROWSER, "html")):
                what = f"{method} {path[:80]} Accept={accept}"
                response = await _send(client, path, method=method, headers=_headers(accept))
                await _collect(issues, response, what, method, kind)
    assert not issues, "\n".join(issues)


@pytest.mark.usefixtures("citizen")
async def test_nul_in_a_path_is_a_400_not_a_database_error(
    app: Quart, client: TestClientProtocol
) -> None:
    for rule in _rules(app):
        if rule.arguments:
            response = await _send(client, _path(rule, "a%00b"), method=_safe_method(rule))
            assert response.status_code == 400, rule.rule


@pytest.mark.usefixtures("citizen")
async def test_odd_accept_headers_never_fail(app: Quart, client: TestClientProtocol) -> None:
    issues: list[str] = []
    for rule in _rules(app):
        method = _safe_method(rule)
        # Each route once as it is, and once where it fails (an unknown actor or version)
        paths = {_path(rule), _path(rule, "nobody") if rule.arguments else _path(rule) + "/x"}
        for path in sorted(paths):
            for accept, kind in ACCEPTS:
                what = f"{method} {path} Accept={accept!r:.60}"
                response = await _send(client, path, method=method, headers=_headers(accept))
                await _collect(issues, response, what, method, kind)
    assert not issues, "\n".join(issues)


@pytest.mark.usefixtures("citizen")
async def test_odd_accept_language_headers_never_fail(
    app: Quart, client: TestClientProtocol
) -> None:
    values = ["", ";;;", "*;q=abc", "x" * 8000, "fr;q=2", "en;q=-1", "é", "-", "fr-" + "A" * 500]
    issues: list[str] = []
    for rule in _rules(app):
        method = _safe_method(rule)
        for value in values:
            what = f"{method} {rule.rule} Accept-Language={value[:40]!r}"
            response = await _send(
                client, _path(rule), method=method, headers={"Accept-Language": value}
            )
            await _collect(issues, response, what, method)
    assert not issues, "\n".join(issues)


async def test_hostile_form_values_with_a_valid_token_never_fail(
    app: Quart, client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a logged-in admin, so every form reaches its handler past the CSRF check
    async with pool.acquire() as conn:
        await accounts.register(
            conn, username="camille", password=PASSWORD, keygen=keygen, is_admin=True
        )
    page = await (await client.get("/login")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = await client.post(
        "/login", form={"csrf_token": token.group(1), "login": "camille", "password": PASSWORD}
    )
    assert response.status_code == 303
    page = await (await client.get("/settings")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    csrf = token.group(1)
    issues: list[str] = []
    for rule in _rules(app):
        if "POST" not in _methods(rule):
            continue
        for value in HOSTILE_VALUES:
            # When every field the app knows carries the hostile value
            form = dict.fromkeys(FORM_FIELDS, value)
            form["csrf_token"] = csrf
            what = f"POST {rule.rule} fields={value[:30]!r}"
            response = await client.post(_path(rule), form=form)
            # Then nothing breaks (a refused form comes back as its HTML page, with the reason),
            # and a NUL is refused before it reaches the database
            await _collect(issues, response, what, "POST")
            # (an inbox reads no form: a form is not ActivityStreams, 415)
            wanted = 415 if only_for_programs(app.view_functions[rule.endpoint]) else 400
            if "\x00" in value and response.status_code != wanted:
                issues.append(f"{what}: {response.status_code}, wanted {wanted}")
        # And repeated fields are handled too
        duplicated = f"csrf_token={csrf}&login=a&login=b&locale=en&locale=fr&next=/&next=//x"
        response = await client.post(
            _path(rule),
            data=duplicated,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        await _collect(issues, response, f"POST {rule.rule} duplicated fields", "POST")
    assert not issues, "\n".join(issues)
