"""Hostile-input fuzzing (security review, step 5): whatever a peer or a passer-by sends, no 5xx, no
exception, no hang.

Three fronts, each driven by Hypothesis with bounded sizes and a deadline per example:
1. inbox bodies: JSON-ish texts (deep nesting, huge numbers, NaN, NUL, surrogates, random Unicode,
   random types for id/actor/object) and random bytes, given to parse_activity and POSTed to the
   inbox, unsigned and validly signed;
2. every signature header parser: draft-cavage Signature (and Authorization), RFC 9421
   Signature-Input/Signature, Digest, Content-Digest, Date, and keyIds: any text gives a parsed
   value or a documented failure value, and what parses goes through verify() the same way;
3. the cursors of every paged route: any text is a 200 or a 400.

Keys in signatures fuzzed over HTTP name `.invalid` hosts or none: nothing leaves this machine.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.collections import BadCursor, parse_cursor
from fedicity.activitypub.dates import parse_http_date
from fedicity.activitypub.httpsig import (
    ParsedSignature,
    SignatureFailure,
    SigningKey,
    digests,
    parse_signature,
    sign_cavage,
    structured,
    verify,
    wire,
)
from fedicity.activitypub.inbox import Rejected, parse_activity
from fedicity.activitypub.keys import key_fetch_url, load_private_key, load_public_key
from fedicity.activitypub.safejson import JsonDocument, JsonFailure, load_json
from fedicity.actors import queries as actor_queries
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.posts import service as posts
from fedicity.urls import Urls
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import seed_remote_actor
from tests.territory_helpers import import_slice

BASE = "http://fedicity.test"
ALICE = "https://social.invalid/users/alice"
KEY = fixed_keypairs()[3]
PUBLIC_KEY = load_public_key(KEY.public_pem)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
LIKE = json.dumps({"id": ALICE + "#x", "type": "Like", "actor": ALICE, "object": BASE}).encode()

# Pure functions: many examples, a deadline (a hang or a quadratic blow-up fails it). Failures
# found are replayed from .hypothesis/ on this machine; the @examples keep those fixed here.
PURE = settings(max_examples=150, deadline=timedelta(seconds=2))
# Through the app (and PostgreSQL): fewer examples, room for a slow machine.
THROUGH_APP = settings(
    max_examples=40,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- strategies ----------------------------------------------------------------------------------

# Every kind of character, surrogates and controls (NUL among them) included.
ANY_CHAR = st.characters(categories=["Cs", "Cc", "Cf", "L", "M", "N", "P", "S", "Z"])
ANY_TEXT = st.text(ANY_CHAR, max_size=40)
# What can travel in an HTTP header or a URL: Latin-1 without controls.
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200)


def _string_literal(text: str, ascii_only: bool) -> str:
    # With ensure_ascii=False, surrogates and NUL stay raw (later encoded with surrogatepass).
    return json.dumps(text, ensure_ascii=ascii_only)


JSON_STRING = st.builds(_string_literal, ANY_TEXT, st.booleans())
NUMBER = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1E400", "-0", "0.0e-99999"]),
    st.integers(1, 6000).map(lambda n: "9" * n),
    st.integers(1, 6000).map(lambda n: "-" + "1" * n),
    st.integers(1, 400).map(lambda n: "0." + "1" * n + "e" + "9" * (n % 7 + 1)),
)
LEAF = st.one_of(st.sampled_from(["null", "true", "false", '""']), NUMBER, JSON_STRING)


def _containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Arrays and objects of `children`, as JSON text."""
    arrays = st.lists(children, max_size=5).map(lambda items: "[" + ",".join(items) + "]")
    objects = st.lists(st.tuples(JSON_STRING, children), max_size=5).map(
        lambda pairs: "{" + ",".join(f"{key}:{value}" for key, value in pairs) + "}"
    )
    return st.one_of(arrays, objects)


JSON_TEXT = st.recursive(LEAF, _containers, max_leaves=20)


def _nested(depth: int, opener: str, closed: bool) -> str:
    if opener == "[":
        return "[" * depth + ("]" * depth if closed else "")
    return '{"a":' * depth + "1" + ("}" * depth if closed else "")


DEEP = st.builds(_nested, st.integers(0, 25_000), st.sampled_from(["[", "{"]), st.booleans())
VALUE = st.one_of(JSON_TEXT, DEEP, st.just(json.dumps(ALICE)))


def _activity(members: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(name)}:{value}" for name, value in members) + "}"


ACTIVITY = st.builds(
    lambda id_, type_, actor, object_, extra: _activity(
        [("id", id_), ("type", type_), ("actor", actor), ("object", object_), *extra]
    ),
    st.one_of(VALUE, st.just(json.dumps(ALICE + "#a"))),
    st.one_of(VALUE, st.sampled_from(['"Like"', '"Create"', '"View"', '["Follow", 1]'])),
    st.one_of(VALUE, st.just(json.dumps(ALICE))),
    VALUE,
    st.lists(st.tuples(ANY_TEXT, VALUE), max_size=3),
)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


BODY = st.one_of(
    st.one_of(ACTIVITY, JSON_TEXT, DEEP).map(_encode),
    st.binary(max_size=600),
    st.builds(lambda text, cut: _encode(text)[:cut], ACTIVITY, st.integers(0, 400)),
)
CONTENT_TYPE = st.one_of(
    st.sampled_from(["application/activity+json", "application/ld+json; charset=utf-8"]),
    HEADER_TEXT,
)

# --- 1. inbox bodies -----------------------------------------------------------------------------

ALLOWED_REFUSALS = {400, 415}


@PURE
@given(body=BODY, content_type=CONTENT_TYPE)
def test_parse_activity_gives_an_object_or_a_4xx(body: bytes, content_type: str) -> None:
    parsed = parse_activity(body, content_type)
    if isinstance(parsed, Rejected):
        assert parsed.status in ALLOWED_REFUSALS
    else:
        assert isinstance(parsed, dict)
        # What is accepted can be stored: jsonb takes what json.dumps makes of it
        json.dumps(parsed, allow_nan=False).encode("utf-8")


@PURE
@given(body=BODY)
def test_load_json_never_raises_and_refuses_what_jsonb_cannot_hold(body: bytes) -> None:
    loaded = load_json(body)
    assert isinstance(loaded, JsonDocument | JsonFailure)
    if isinstance(loaded, JsonDocument):
        text = json.dumps(loaded.value, allow_nan=False, ensure_ascii=False)
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogate


@pytest.fixture
async def alice_known(pool: Pool, clock: FrozenClock) -> None:
    """Alice, a remote actor on a host that never resolves, known with her key."""
    await seed_remote_actor(pool, ALICE, KEY, clock.now())


def _signed(body: bytes, now: datetime, content_type: str) -> dict[str, str]:
    headers = {"Content-Type": content_type}
    key = SigningKey(ALICE + "#main-key", load_private_key(KEY.private_pem))
    headers.update(sign_cavage("POST", BASE + "/inbox", headers, body, key, now))
    return headers


@THROUGH_APP
@given(body=BODY, signed=st.booleans())
async def test_inbox_posts_get_no_5xx(
    client: TestClientProtocol,
    clock: FrozenClock,
    alice_known: None,
    body: bytes,
    signed: bool,
) -> None:
    content_type = "application/activity+json"
    headers = _signed(body, clock.now(), content_type) if signed else {"Content-Type": content_type}
    response = await client.post("/inbox", data=body, headers=headers)
    assert response.status_code < 500, await response.get_data(as_text=True)
    if not signed:
        assert response.status_code != 202


# --- 2. signature header parsers -----------------------------------------------------------------

SIGNATURE_BYTES = st.binary(min_size=1, max_size=300).map(wire.b64encode)
B64ISH = st.one_of(SIGNATURE_BYTES, st.text("ABCab+/=0-_:", max_size=30), HEADER_TEXT)
COMPONENT = st.one_of(
    st.sampled_from(
        [
            "(request-target)",
            "(created)",
            "(expires)",
            "(bogus)",
            "host",
            "date",
            "digest",
            "content-digest",
            "accept",
            "signature",
            "x-\u00e9",
        ]
    ),
    HEADER_TEXT,
)
KEY_ID = st.one_of(
    st.just(ALICE + "#main-key"),
    st.builds(lambda tail: ALICE + tail, HEADER_TEXT),
    st.builds(lambda text: "http://[" + text, HEADER_TEXT),
    st.builds(lambda text: "https://" + text.replace("/", "") + ".invalid/k#" + text, HEADER_TEXT),
    HEADER_TEXT,
)
TIMESTAMP = st.one_of(st.integers(-(10**20), 10**20).map(str), st.sampled_from(["", "1.5", "x"]))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def cavage_headers(draw: st.DrawFn) -> str:
    """A draft-cavage Signature value: well-formed pieces with hostile values, and junk."""
    params = {
        "keyId": draw(KEY_ID),
        "algorithm": draw(st.sampled_from(["rsa-sha256", "hs2019", "RSA-SHA256", "ed25519", ""])),
        "headers": " ".join(draw(st.lists(COMPONENT, max_size=6))),
        "signature": draw(B64ISH),
        "created": draw(TIMESTAMP),
        "expires": draw(TIMESTAMP),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(params)), unique=True))
    quote_it = draw(st.booleans())
    pieces = [f"{name}={_quoted(params[name]) if quote_it else params[name]}" for name in chosen]
    junk = draw(st.one_of(st.just(""), HEADER_TEXT))
    return draw(st.sampled_from([",", ", ", " ,"])).join(pieces) + junk


SF_ITEM = st.one_of(
    st.integers(-(10**16), 10**16).map(str),
    st.sampled_from(["?1", "?0", "?2", "1.5", "1234567890123.5", "tok", "*t", ":=:", '"a\\"b"']),
    SIGNATURE_BYTES.map(lambda text: f":{text}:"),
    HEADER_TEXT.map(_quoted),
)


@st.composite
def rfc9421_headers(draw: st.DrawFn) -> tuple[str, str]:
    """Signature-Input and Signature values: structured fields with hostile members, and junk."""
    label = draw(st.sampled_from(["sig1", "sig2", "Sig", "*", ""]))
    components = draw(
        st.lists(
            st.one_of(
                st.sampled_from(
                    ['"@method"', '"@target-uri"', '"@path"', '"content-digest"', '"@bogus"']
                ),
                HEADER_TEXT.map(_quoted),
                SF_ITEM,
            ),
            max_size=5,
        )
    )
    params = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["keyid", "created", "expires", "alg", "nonce", "X"]),
                st.one_of(SF_ITEM, KEY_ID.map(_quoted)),
            ),
            max_size=5,
        )
    )
    inner = "(" + " ".join(components) + ")" + "".join(f";{k}={v}" for k, v in params)
    signature_input = f"{label}={inner}" + draw(st.one_of(st.just(""), HEADER_TEXT))
    signature = f"{label}=:{draw(B64ISH)}:" + draw(st.one_of(st.just(""), HEADER_TEXT))
    return signature_input, signature


DIGEST = st.one_of(
    HEADER_TEXT,
    st.builds(
        lambda name, value: f"{name}={value}",
        st.sampled_from(["SHA-256", "sha-512", "MD5", "sha-256"]),
        B64ISH,
    ),
)
CONTENT_DIGEST = st.one_of(
    HEADER_TEXT,
    st.builds(
        lambda name, value: f"{name}=:{value}:",
        st.sampled_from(["sha-256", "sha-512", "md5", "SHA-256"]),
        B64ISH,
    ),
    st.builds(lambda name, item: f"{name}={item}", st.sampled_from(["sha-256", "x"]), SF_ITEM),
)
DATE = st.one_of(
    st.just("Thu, 01 Jan 2026 00:00:00 GMT"),
    st.builds(
        lambda day, year, hour, zone: f"Mon, {day} Jan {year} {hour}:00:00 {zone}",
        st.integers(-5, 10**12),
        st.integers(-5, 10**15),
        st.integers(-5, 10**15),
        st.sampled_from(["GMT", "+0000", "-9999", "+99999999999", "UT", "Z"]),
    ),
    HEADER_TEXT,
)
URL = st.one_of(
    st.just(BASE + "/inbox"),
    st.builds(lambda text: BASE + "/inbox?" + text, HEADER_TEXT),
    st.builds(lambda text: "http://" + text, HEADER_TEXT),
    HEADER_TEXT,
)


@st.composite
def signed_requests(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    """A request's URL, headers and body, with every signature-related header drawn."""
    headers: dict[str, str] = {}
    scheme = draw(st.sampled_from(["cavage", "authorization", "rfc9421", "none"]))
    if scheme == "cavage":
        headers["Signature"] = draw(cavage_headers())
    elif scheme == "authorization":
        headers["Authorization"] = draw(st.sampled_from(["Signature ", "signature ", "Bearer "]))
        headers["Authorization"] += draw(cavage_headers())
    elif scheme == "rfc9421":
        headers["Signature-Input"], headers["Signature"] = draw(rfc9421_headers())
    for name, strategy in (
        ("Date", DATE),
        ("Digest", DIGEST),
        ("Content-Digest", CONTENT_DIGEST),
        ("Host", HEADER_TEXT),
        ("Accept", HEADER_TEXT),
    ):
        if draw(st.booleans()):
            headers[name] = draw(strategy)
    return draw(URL), headers, draw(st.binary(max_size=100))


@PURE
@given(request=signed_requests(), method=st.sampled_from(["POST", "GET", "post", "X"]))
def test_every_signature_parser_gives_a_value_or_a_failure(
    request: tuple[str, dict[str, str], bytes], method: str
) -> None:
    url, headers, body = request
    parsed = parse_signature(method, url, headers)
    assert isinstance(parsed, ParsedSignature | SignatureFailure)
    if isinstance(parsed, ParsedSignature):
        # What parses is verified with a real key: a failure value (or success), nothing raised.
        # Verified both as the server the request names (to reach the signature check) and as
        # another one.
        when_and_where = [
            (when, authority)
            for when in (NOW, datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC))
            for authority in (_authority_of(url), "fedicity.test")
        ]
        for when, authority in when_and_where:
            outcome = verify(
                parsed,
                PUBLIC_KEY,
                method=method,
                body=body or None,
                headers=headers,
                now=when,
                authority=authority,
            )
            assert outcome is None or isinstance(outcome, SignatureFailure)


def _authority_of(url: str) -> str:
    try:
        return urlsplit(url).netloc
    except ValueError:
        return ""


@PURE
@given(text=HEADER_TEXT)
def test_signature_headers_of_any_text_give_a_value_or_a_failure(text: str) -> None:
    for name in ("Signature", "Signature-Input", "Authorization"):
        headers: dict[str, str] = {name: text}
        if name == "Signature-Input":
            headers["Signature"] = text
        parsed = parse_signature("POST", BASE + "/inbox", headers)
        assert isinstance(parsed, ParsedSignature | SignatureFailure)


@PURE
@given(value=st.one_of(DIGEST, CONTENT_DIGEST, HEADER_TEXT), body=st.binary(max_size=50))
def test_digest_parsers_give_none_or_a_failure(value: str, body: bytes) -> None:
    for check in (digests.check_rfc3230_digest, digests.check_content_digest):
        outcome = check(value, body)
        assert outcome is None or isinstance(outcome, SignatureFailure)
    assert structured.parse_dictionary(value) is None or isinstance(
        structured.parse_dictionary(value), dict
    )


@PURE
@given(value=st.one_of(DATE, HEADER_TEXT))
@example(value="Mon, 01 Jan 2026 2147483648:00:00 GMT")
def test_date_parser_gives_an_aware_date_or_none(value: str) -> None:
    for naive_as_utc in (True, False):
        parsed = parse_http_date(value, naive_as_utc=naive_as_utc)
        assert parsed is None or parsed.tzinfo is not None


@PURE
@given(key_id=st.one_of(KEY_ID, ANY_TEXT))
@example(key_id="http://[x#k")
@example(key_id="https://a.example:99999/k#main-key")
def test_key_ids_of_any_text_give_a_url_or_none(key_id: str) -> None:
    url = key_fetch_url(key_id)
    assert url is None or (url.startswith(("http://", "https://")) and "#" not in url)
    assert isinstance(host_of(key_id), str)


@THROUGH_APP
@given(request=signed_requests())
@example(  # a keyId with an unclosed IPv6 literal and a fragment: urldefrag raised (a 500)
    request=(
        BASE + "/inbox",
        {
            "Signature": 'keyId="http://[x#k",headers="(request-target) date",signature="AAAA"',
            "Date": "Thu, 01 Jan 2026 00:00:00 GMT",
        },
        b"",
    )
)
@example(  # a Date whose hour overflows: parsedate_to_datetime raised OverflowError (a 500)
    request=(
        BASE + "/inbox",
        {
            "Signature": f'keyId="{ALICE}#main-key",headers="(request-target) date digest",'
            'signature="AAAA"',
            "Date": "Mon, 01 Jan 2026 2147483648:00:00 GMT",
            "Digest": digests.digest_header(LIKE),
        },
        b"",
    )
)
async def test_inbox_posts_with_any_signature_headers_get_no_5xx(
    client: TestClientProtocol,
    clock: FrozenClock,
    alice_known: None,
    request: tuple[str, dict[str, str], bytes],
) -> None:
    _url, headers, _body = request
    # The test client builds its own URL from Host: a Host it cannot parse would fail there.
    headers.pop("Host", None)
    headers["Content-Type"] = "application/activity+json"
    if "Date" not in headers:
        headers["Date"] = "Thu, 01 Jan 2026 00:00:00 GMT"
    response = await client.post("/inbox", data=LIKE, headers=headers)
    assert response.status_code < 500, await response.get_data(as_text=True)


# --- 3. cursors ----------------------------------------------------------------------------------


@PURE
@given(text=ANY_TEXT)
def test_the_cursor_parser_gives_a_row_id_or_a_refusal(text: str) -> None:
    cursor = parse_cursor(text)
    assert isinstance(cursor, BadCursor) or (isinstance(cursor, int) and 0 <= cursor < 2**63)


CURSOR_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    st.text("0123456789-+.e_%²١ ", max_size=30),
    st.integers().map(str),
)


@pytest.fixture
async def paged_paths(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock, tmp_path: Path
) -> list[str]:
    """Every paged route, as the path and query before its cursor's value."""
    await import_slice(pool, tmp_path)
    async with pool.acquire() as conn:
        account = await accounts.register(
            conn, username="camille", password="long enough", keygen=keygen
        )
        camille = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert camille is not None
        post = await posts.create_note(
            conn,
            actor=camille,
            text="Bonjour",
            visibility="public",
            urls=Urls(BASE),
            clock=clock,
            local_host="fedicity.test",
            resolved={},
        )
    note = post.uri.removeprefix(BASE)
    return [
        "/actors/camille/outbox?page=true&cursor=",
        "/actors/camille/followers?page=true&cursor=",
        "/actors/camille/following?page=true&cursor=",
        "/actors/camille/liked?page=true&cursor=",
        f"{note}/replies?page=true&cursor=",
        "/api/territories/commune/93048/items?before=1700000000.5_",
        "/api/territories/commune/93048/items?before=",
        "/api/near?lat=48.8&lon=2.4&before=1700000000.5_",
        "/api/near?lat=48.8&lon=2.4&before=",
        "/events?page=",
        "/events?after=",
    ]


@THROUGH_APP
@given(text=CURSOR_TEXT, raw=st.booleans())
async def test_any_cursor_on_any_paged_route_is_a_200_or_a_400(
    client: TestClientProtocol, paged_paths: list[str], text: str, raw: bool
) -> None:
    value = text if raw and text.isascii() and " " not in text else quote(text, safe="")
    for path in paged_paths:
        response = await client.get(path + value, headers={"Accept": "application/activity+json"})
        assert response.status_code in (200, 400), (path, value, response.status_code)
