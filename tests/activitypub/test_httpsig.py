"""HTTP Signatures: published vectors, sign-then-verify round trips and every failure reason."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from fedicity.activitypub.httpsig import (
    FailureReason,
    Headers,
    ParsedSignature,
    SignatureFailure,
    SigningKey,
    content_digest_header,
    digest_header,
    parse_signature,
    sign_cavage,
    sign_rfc9421,
    verify,
)
from fedicity.activitypub.keys import load_private_key, load_public_key

FIXTURES = Path(__file__).parent.parent / "fixtures"
VECTORS = FIXTURES / "vectors"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
INBOX = "https://city.example/actors/alice/inbox"
OUTBOX = "https://city.example/actors/alice/outbox?page=2"
BODY = b'{"type": "Follow", "actor": "https://peer.example/users/bob"}'
AS_JSON = "application/activity+json"

Pairs: TypeAlias = list[tuple[str, str]]
Signer: TypeAlias = Callable[..., dict[str, str]]


# --- helpers -----------------------------------------------------------------------------------


@cache
def vector(name: str) -> Any:
    """A vector file from tests/fixtures/vectors, parsed."""
    return json.loads((VECTORS / f"{name}.json").read_text())


def pairs(raw: Sequence[Sequence[str]]) -> Pairs:
    """Vector headers ([name, value] lists) as pairs, the shape of Quart's request.headers."""
    return [(name, value) for name, value in raw]


def rsa_key(number: int = 1) -> SigningKey:
    """One of the committed RSA-2048 test keys."""
    pem = (FIXTURES / "keys" / f"rsa_{number}.pem").read_text()
    return SigningKey(f"https://peer.example/users/bob{number}#main-key", load_private_key(pem))


@cache
def ed25519_key() -> SigningKey:
    """A fresh Ed25519 key (per test run)."""
    return SigningKey(
        "https://peer.example/users/bob#ed25519-key", ed25519.Ed25519PrivateKey.generate()
    )


def public(key: SigningKey) -> PublicKeyTypes:
    """The public half of a signing key."""
    return key.private_key.public_key()


def check(
    method: str,
    url: str,
    headers: Headers,
    body: bytes | None,
    key: PublicKeyTypes,
    now: datetime = NOW,
    *,
    label: str | None = None,
) -> SignatureFailure | None:
    """What the inbox does: parse, then verify with the key (None when accepted)."""
    parsed = parse_signature(method, url, headers, label=label)
    if isinstance(parsed, SignatureFailure):
        return parsed
    return verify(
        parsed, key, method=method, body=body, headers=headers, now=now, authority=authority(url)
    )


def authority(url: str) -> str:
    """The server a request to `url` reaches: what the signature must name."""
    return urlsplit(url).netloc


def parsed_ok(
    method: str, url: str, headers: Headers, *, label: str | None = None
) -> ParsedSignature:
    """parse_signature() that must succeed."""
    parsed = parse_signature(method, url, headers, label=label)
    assert isinstance(parsed, ParsedSignature), parsed
    return parsed


def reason(result: SignatureFailure | None) -> FailureReason | None:
    """The failure reason, or None when accepted."""
    return None if result is None else result.reason


def signed(
    sign: Signer,
    method: str,
    url: str,
    body: bytes | None,
    key: SigningKey,
    *,
    extra: Pairs | None = None,
    now: datetime = NOW,
    **options: Any,
) -> Pairs:
    """A request's headers after signing: the caller's own plus the ones the signer adds."""
    own = extra if extra is not None else [("Content-Type", AS_JSON)]
    added = sign(method, url, own, body, key, now, **options)
    kept = [(name, value) for name, value in own if name.lower() not in {a.lower() for a in added}]
    return kept + list(added.items())


def replaced(headers: Pairs, name: str, value: str | None) -> Pairs:
    """Headers with one field replaced (or dropped when value is None)."""
    kept = [(n, v) for n, v in headers if n.lower() != name.lower()]
    return kept if value is None else [*kept, (name, value)]


def header(headers: Pairs, name: str) -> str:
    """The value of a header that must be present."""
    return next(v for n, v in headers if n.lower() == name.lower())


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


# --- RFC 9530 (Content-Digest) and the Digest header ---------------------------------------------


def _rfc9530_sha256_vectors() -> list[Any]:
    return [
        v
        for v in vector("rfc9530_content_digest")["vectors"]
        if v.get("algorithm") == "sha-256" and "body" in v and "content_digest_field_value" in v
    ]


@pytest.mark.parametrize("case", _rfc9530_sha256_vectors(), ids=lambda v: v["id"])
def test_content_digest_header_matches_rfc9530_examples(case: Any) -> None:
    assert content_digest_header(case["body"].encode()) == case["content_digest_field_value"]


def test_digest_header_matches_cavage_appendix_c() -> None:
    request = vector("cavage12_appendix_c")["request"]
    assert digest_header(request["body"].encode()) == header(pairs(request["headers"]), "Digest")


def _rfc9530_value(case_id: str) -> Any:
    return next(v for v in vector("rfc9530_content_digest")["vectors"] if v["id"] == case_id)


def test_verify_rfc9421_checks_published_sha512_content_digest() -> None:
    case = _rfc9530_value("appendix-d-sha-512")
    body, key = case["body"].encode(), rsa_key()
    # Signed with body=None so that the published Content-Digest, not ours, is the one covered.
    components = ("@method", "@target-uri", "content-digest")
    headers = signed(
        sign_rfc9421,
        "POST",
        INBOX,
        None,
        key,
        extra=[("Content-Digest", case["content_digest_field_value"])],
        components=components,
    )
    assert check("POST", INBOX, headers, body, public(key)) is None
    assert reason(check("POST", INBOX, headers, body + b" ", public(key))) is (
        FailureReason.DIGEST_MISMATCH
    )


def test_verify_cavage_checks_sha512_and_sha256_digest_members() -> None:
    body, key = b'{"hello": "world"}', rsa_key()
    sha512 = _rfc9530_value("appendix-d-sha-512")["value_as_printed"].strip(":")
    sha256 = _rfc9530_value("appendix-d-sha-256")["value_as_printed"].strip(":")
    components = ("(request-target)", "host", "date", "digest")
    for digest in (f"SHA-512={sha512}", f"sha-256={sha256}, SHA-512={sha512}"):
        headers = signed(
            sign_cavage, "POST", INBOX, None, key, extra=[("Digest", digest)], components=components
        )
        assert check("POST", INBOX, headers, body, public(key)) is None, digest


def test_verify_rfc9421_requires_every_supported_digest_member_to_match() -> None:
    # RFC 9530 section 2's two-member example: its sha-256 hashes another representation.
    line = _rfc9530_value("section-2-two-digests")["field_line"]
    body, key = b'{"hello": "world"}\n', rsa_key()
    components = ("@method", "@target-uri", "content-digest")
    headers = signed(
        sign_rfc9421,
        "POST",
        INBOX,
        None,
        key,
        extra=[("Content-Digest", line.partition(": ")[2])],
        components=components,
    )
    result = check("POST", INBOX, headers, body, public(key))
    assert result is not None
    assert result.reason is FailureReason.DIGEST_MISMATCH
    assert "sha-256" in result.detail


# --- RFC 9421 vectors ----------------------------------------------------------------------------


def _rfc9421_key(name: str, part: str) -> Any:
    pem = vector("rfc9421_test_keys")["keys"][name][part].encode()
    if part == "public_key_pem":
        return serialization.load_pem_public_key(pem)
    return serialization.load_pem_private_key(pem, password=None)


def _b26() -> tuple[Any, str, Pairs, bytes]:
    case = vector("rfc9421_b26_ed25519")
    request = case["request"]
    headers = [
        *pairs(request["headers"]),
        ("Signature-Input", case["signature_input_header"]),
        ("Signature", case["signature_header"]),
    ]
    return (
        case,
        "https://example.com" + request["request_target"],
        headers,
        request["body"].encode(),
    )


def test_parse_signature_rfc9421_b26_builds_the_published_base() -> None:
    case, url, headers, _ = _b26()
    parsed = parsed_ok("POST", url, headers)
    assert parsed.signing_string == case["signature_base"]
    assert (parsed.scheme, parsed.key_id, parsed.label) == (
        "rfc9421",
        "test-key-ed25519",
        "sig-b26",
    )
    assert (parsed.algorithm, parsed.created, parsed.expires) == (None, case["created"], None)
    assert parsed.signature == base64.b64decode(case["signature_b64"])


def test_verify_rfc9421_b26_accepts_the_published_ed25519_signature() -> None:
    case, url, headers, body = _b26()
    key = _rfc9421_key("test-key-ed25519", "public_key_pem")
    at = datetime.fromtimestamp(case["created"], UTC)
    # B.2.6 does not cover the body, so only a caller that ignores the body may accept it...
    assert check("POST", url, headers, None, key, at) is None
    # ...and our inbox, which has the body, must refuse it.
    assert reason(check("POST", url, headers, body, key, at)) is (
        FailureReason.REQUIRED_COMPONENT_NOT_COVERED
    )


def test_sign_rfc9421_reproduces_b26_byte_for_byte() -> None:
    case, url, _, body = _b26()
    key = SigningKey("test-key-ed25519", _rfc9421_key("test-key-ed25519", "private_key_pem"))
    added = sign_rfc9421(
        "POST",
        url,
        pairs(case["request"]["headers"]),
        body,
        key,
        datetime.fromtimestamp(case["created"], UTC),
        "sig-b26",
        components=case["covered_components"],
    )
    assert added["Signature-Input"] == case["signature_input_header"]
    assert added["Signature"] == case["signature_header"]


def _proxy_sig() -> tuple[Any, str, Pairs, bytes]:
    case = vector("rfc9421_4_3_rsa_v1_5_sha256")
    request = case["request"]
    own = [(n, v) for n, v in pairs(request["headers"]) if not n.startswith("Signature")]
    headers = [
        *own,
        ("Signature-Input", case["final_signature_input_header"]),
        ("Signature", case["final_signature_header"]),
    ]
    url = "https://origin.host.internal.example" + request["request_target"]
    return case, url, headers, request["body"].encode()


def test_parse_signature_rfc9421_4_3_builds_the_published_base() -> None:
    case, url, headers, _ = _proxy_sig()
    parsed = parsed_ok("POST", url, headers, label="proxy_sig")
    assert parsed.signing_string == case["signature_base"]
    assert (parsed.algorithm, parsed.created, parsed.expires) == (
        "rsa-v1_5-sha256",
        case["created"],
        case["expires"],
    )


def test_verify_rfc9421_4_3_accepts_the_published_rsa_signature_and_sha512_digest() -> None:
    case, url, headers, body = _proxy_sig()
    key = _rfc9421_key("test-key-rsa", "public_key_pem")
    at = datetime.fromtimestamp(case["created"] + 10, UTC)
    assert check("POST", url, headers, body, key, at, label="proxy_sig") is None


def test_verify_rfc9421_4_3_is_expired_after_expires() -> None:
    case, url, headers, body = _proxy_sig()
    key = _rfc9421_key("test-key-rsa", "public_key_pem")
    at = datetime.fromtimestamp(case["expires"] + 1, UTC)
    assert reason(check("POST", url, headers, body, key, at, label="proxy_sig")) is (
        FailureReason.EXPIRED
    )


def test_parse_signature_rfc9421_takes_the_first_signature_without_a_label() -> None:
    # sig1 declares no alg, so it may be supported: the key (here ECDSA) decides, and does not fit.
    case, url, headers, body = _proxy_sig()
    parsed = parsed_ok("POST", url, headers)
    assert (parsed.label, parsed.key_id) == ("sig1", "test-key-ecc-p256")
    ecdsa = ec.generate_private_key(ec.SECP256R1()).public_key()
    at = datetime.fromtimestamp(case["created"], UTC)
    result = verify(
        parsed, ecdsa, method="POST", body=body, headers=headers, now=at, authority=authority(url)
    )
    assert reason(result) is FailureReason.KEY_TYPE_MISMATCH


# --- draft-cavage-12 Appendix C -------------------------------------------------------------------

CAVAGE_URL = "http://example.com/foo?param=value&pet=dog"
CAVAGE_DATE = datetime(2014, 1, 5, 21, 31, 40, tzinfo=UTC)


def _cavage_c(test: str, headers_param: str | None, *, form: str = "Signature") -> Pairs:
    case = vector("cavage12_appendix_c")
    listed = "" if headers_param is None else f'headers="{headers_param}",'
    value = (
        f'keyId="Test",algorithm="rsa-sha256",{listed}'
        f'signature="{case["tests"][test]["signature_b64"]}"'
    )
    if form == "Authorization":
        value = "Signature " + value
    return [*pairs(case["request"]["headers"]), (form, value)]


def _cavage_public() -> PublicKeyTypes:
    return load_public_key(vector("cavage12_appendix_c")["key"]["public_key_pem"])


def _cavage_signing_key() -> SigningKey:
    return SigningKey(
        "Test", load_private_key(vector("cavage12_appendix_c")["key"]["private_key_pem"])
    )


@pytest.mark.parametrize("form", ["Signature", "Authorization"])
def test_parse_signature_cavage_c1_default_covers_only_date_and_is_refused(form: str) -> None:
    # C.1's signature is valid, but a Date-only signature binds neither method nor path.
    result = parse_signature("POST", CAVAGE_URL, _cavage_c("C.1_default", None, form=form))
    assert reason(result if isinstance(result, SignatureFailure) else None) is (
        FailureReason.REQUIRED_COMPONENT_NOT_COVERED
    )
    case = vector("cavage12_appendix_c")["tests"]["C.1_default"]
    key = _cavage_public()
    assert isinstance(key, rsa.RSAPublicKey)
    # The vector itself is sound (this raises otherwise): the signature is over "date: ..." alone.
    key.verify(
        base64.b64decode(case["signature_b64"]),
        case["signing_string"].encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


@pytest.mark.parametrize("form", ["Signature", "Authorization"])
def test_verify_cavage_c2_basic_accepts_the_published_signature(form: str) -> None:
    headers = _cavage_c("C.2_basic", "(request-target) host date", form=form)
    parsed = parsed_ok("POST", CAVAGE_URL, headers)
    assert (
        parsed.signing_string
        == vector("cavage12_appendix_c")["tests"]["C.2_basic"]["signing_string"]
    )
    assert (parsed.scheme, parsed.key_id, parsed.algorithm) == ("cavage", "Test", "rsa-sha256")
    at = CAVAGE_DATE + timedelta(minutes=5)
    assert check("POST", CAVAGE_URL, headers, None, _cavage_public(), at) is None


def test_verify_cavage_c2_basic_is_refused_with_its_body_as_the_digest_is_not_signed() -> None:
    headers = _cavage_c("C.2_basic", "(request-target) host date")
    body = vector("cavage12_appendix_c")["request"]["body"].encode()
    assert reason(check("POST", CAVAGE_URL, headers, body, _cavage_public(), CAVAGE_DATE)) is (
        FailureReason.REQUIRED_COMPONENT_NOT_COVERED
    )


C3_PRINTED_HEADERS = "(request-target) host date content-type digest content-length"


def test_verify_cavage_c3_accepts_the_signature_over_its_printed_string_and_digest() -> None:
    # C.3 lists (created) (expires) but its printed string and signature omit them (see vector).
    headers = _cavage_c("C.3_all_headers", C3_PRINTED_HEADERS)
    case = vector("cavage12_appendix_c")
    parsed = parsed_ok("POST", CAVAGE_URL, headers)
    assert parsed.signing_string == case["tests"]["C.3_all_headers"]["signing_string_as_printed"]
    body = case["request"]["body"].encode()
    assert check("POST", CAVAGE_URL, headers, body, _cavage_public(), CAVAGE_DATE) is None
    tampered = body.replace(b"world", b"WORLD")
    assert reason(check("POST", CAVAGE_URL, headers, tampered, _cavage_public(), CAVAGE_DATE)) is (
        FailureReason.DIGEST_MISMATCH
    )


def test_parse_signature_cavage_c3_as_printed_is_malformed_as_rsa_sha256_forbids_created() -> None:
    test = vector("cavage12_appendix_c")["tests"]["C.3_all_headers"]
    value = (
        'keyId="Test",algorithm="rsa-sha256",created=1402170695, expires=1402170699,'
        f'headers="{test["headers_param_as_printed"]}",signature="{test["signature_b64"]}"'
    )
    headers = [*pairs(vector("cavage12_appendix_c")["request"]["headers"]), ("Signature", value)]
    result = parse_signature("POST", CAVAGE_URL, headers)
    assert isinstance(result, SignatureFailure)
    assert result.reason is FailureReason.MALFORMED


@pytest.mark.parametrize(
    ("test", "components", "body"),
    [
        ("C.2_basic", "(request-target) host date", None),
        ("C.3_all_headers", C3_PRINTED_HEADERS, b'{"hello": "world"}'),
    ],
)
def test_sign_cavage_reproduces_appendix_c_signatures(
    test: str, components: str, body: bytes | None
) -> None:
    case = vector("cavage12_appendix_c")
    own = [
        (n, v)
        for n, v in pairs(case["request"]["headers"])
        if n in ("Content-Type", "Content-Length")
    ]
    added = sign_cavage(
        "POST",
        CAVAGE_URL,
        own,
        body,
        _cavage_signing_key(),
        CAVAGE_DATE,
        components=components.split(),
    )
    expected = case["tests"][test]["signature_b64"]
    assert added["Signature"] == (
        f'keyId="Test",algorithm="rsa-sha256",headers="{components}",signature="{expected}"'
    )
    assert added["Date"] == "Sun, 05 Jan 2014 21:31:40 GMT"
    assert added["Host"] == "example.com"


# --- Mastodon's own test signatures (spec/requests/signature_verification_spec.rb) ----------------

MASTODON_NOW = datetime(2023, 12, 20, 10, 0, tzinfo=UTC)


def _mastodon_cavage(case_id: str) -> tuple[Any, str, str, Pairs, bytes | None]:
    case = next(v for v in vector("mastodon_draft_cavage")["vectors"] if v["id"] == case_id)
    method, target, _ = case["request_line"].split(" ")
    headers = [*pairs(case["headers"]), ("Signature", case["signature_header"])]
    body = case["body"].encode() if "body" in case else None
    return case, method, "https://www.example.com" + target, headers, body


def _mastodon_rfc9421(case_id: str) -> tuple[Any, str, Pairs, bytes | None]:
    case = next(v for v in vector("mastodon_rfc9421")["vectors"] if v["id"] == case_id)
    headers = [
        *pairs(case["headers"]),
        ("Signature-Input", case["signature_input_header"]),
        ("Signature", case["signature_header"]),
    ]
    body = case["body"].encode() if "body" in case else None
    return case, case["target_uri_candidates"][0], headers, body


def _mastodon_key(name: str) -> PublicKeyTypes:
    return load_public_key(vector(name)["public_key_pem"])


def _mastodon_signing_key(name: str) -> SigningKey:
    data = vector(name)
    return SigningKey(data["keyid"], load_private_key(data["private_key_pem"]))


@pytest.mark.parametrize(
    ("case_id", "expected"),
    [
        ("get", None),
        ("get-query", None),
        ("post-digest", None),
        ("post-digest-not-signed", FailureReason.REQUIRED_COMPONENT_NOT_COVERED),
        ("get-unparsable-date", FailureReason.INVALID_DATE),
        ("get-older-than-a-day", FailureReason.CLOCK_SKEW),
    ],
)
def test_verify_cavage_agrees_with_mastodon_on_its_test_signatures(
    case_id: str, expected: FailureReason | None
) -> None:
    _case, method, url, headers, body = _mastodon_cavage(case_id)
    key = _mastodon_key("mastodon_draft_cavage")
    assert reason(check(method, url, headers, body, key, MASTODON_NOW)) is expected


@pytest.mark.parametrize("case_id", ["get", "get-query", "post-digest"])
def test_sign_cavage_reproduces_mastodon_test_signatures(case_id: str) -> None:
    case, method, url, _headers, body = _mastodon_cavage(case_id)
    covered = re.search(r'headers="([^"]*)"', case["signature_header"])
    assert covered is not None
    added = sign_cavage(
        method,
        url,
        [],
        body,
        _mastodon_signing_key("mastodon_draft_cavage"),
        MASTODON_NOW,
        components=covered.group(1).split(),
    )
    assert added["Signature"] == case["signature_header"]


@pytest.mark.parametrize(
    ("case_id", "expected"),
    [
        ("get", None),
        ("get-query", None),
        ("post-content-digest", None),
        ("get-older-than-a-day", FailureReason.CLOCK_SKEW),
    ],
)
def test_verify_rfc9421_agrees_with_mastodon_on_its_test_signatures(
    case_id: str, expected: FailureReason | None
) -> None:
    case, url, headers, body = _mastodon_rfc9421(case_id)
    key = _mastodon_key("mastodon_rfc9421")
    assert reason(check(case["method"], url, headers, body, key, MASTODON_NOW)) is expected


@pytest.mark.parametrize(
    "case_id", ["get", "get-query", "get-older-than-a-day", "post-content-digest"]
)
def test_sign_rfc9421_defaults_reproduce_mastodon_test_signatures(case_id: str) -> None:
    case, url, _, body = _mastodon_rfc9421(case_id)
    created = re.search(r";created=(\d+)", case["signature_input_header"])
    assert created is not None
    at = datetime.fromtimestamp(int(created.group(1)), UTC)
    added = sign_rfc9421(
        case["method"], url, {}, body, _mastodon_signing_key("mastodon_rfc9421"), at
    )
    assert added["Signature-Input"] == case["signature_input_header"]
    assert added["Signature"] == case["signature_header"]
    if body is not None:
        assert added["Content-Digest"] == header(pairs(case["headers"]), "Content-Digest")


def test_verify_rfc9421_mastodon_post_with_another_body_is_a_digest_mismatch() -> None:
    _case, url, headers, _ = _mastodon_rfc9421("post-content-digest")
    key = _mastodon_key("mastodon_rfc9421")
    assert reason(check("POST", url, headers, b"Hello world!", key, MASTODON_NOW)) is (
        FailureReason.DIGEST_MISMATCH
    )


def test_verify_rfc9421_mastodon_get_on_another_query_is_a_bad_signature() -> None:
    _case, url, headers, _ = _mastodon_rfc9421("get-query")
    key = _mastodon_key("mastodon_rfc9421")
    other = url.replace("foo=42", "foo=43")
    assert reason(check("GET", other, headers, None, key, MASTODON_NOW)) is (
        FailureReason.BAD_SIGNATURE
    )


# --- round trips ---------------------------------------------------------------------------------


@pytest.fixture(params=["rsa", "ed25519"])
def key(request: pytest.FixtureRequest) -> SigningKey:
    """The committed RSA test key, then a generated Ed25519 key."""
    return rsa_key() if request.param == "rsa" else ed25519_key()


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
@pytest.mark.parametrize(("method", "url", "body"), [("POST", INBOX, BODY), ("GET", OUTBOX, None)])
def test_sign_then_verify_round_trips(
    sign: Signer, method: str, url: str, body: bytes | None, key: SigningKey
) -> None:
    headers = signed(sign, method, url, body, key, extra=[("Accept", AS_JSON)])
    parsed = parsed_ok(method, url, headers)
    assert parsed.key_id == key.key_id
    verified = verify(
        parsed,
        public(key),
        method=method,
        body=body,
        headers=headers,
        now=NOW,
        authority=authority(url),
    )
    assert verified is None


def test_sign_cavage_post_covers_exactly_what_mastodon_expects() -> None:
    added = sign_cavage("POST", INBOX, {"Content-Type": AS_JSON}, BODY, rsa_key(), NOW)
    assert set(added) == {"Date", "Host", "Digest", "Signature"}
    assert added["Date"] == "Thu, 01 Jan 2026 12:00:00 GMT"
    assert added["Host"] == "city.example"
    assert added["Digest"] == "SHA-256=" + b64(hashlib.sha256(BODY).digest())
    assert re.fullmatch(
        r'keyId="https://peer\.example/users/bob1#main-key",algorithm="rsa-sha256",'
        r'headers="\(request-target\) host date digest",signature="[A-Za-z0-9+/]{342}=="',
        added["Signature"],
    )


@pytest.mark.parametrize(
    ("own", "covered"),
    [
        ({"Accept": AS_JSON}, "(request-target) host date accept"),
        ({"User-Agent": "fedicity"}, "(request-target) host date"),
    ],
)
def test_sign_cavage_get_covers_accept_only_when_present(own: dict[str, str], covered: str) -> None:
    added = sign_cavage("GET", OUTBOX, own, None, rsa_key(), NOW)
    assert set(added) == {"Date", "Host", "Signature"}
    assert f'headers="{covered}"' in added["Signature"]


def test_sign_cavage_with_ed25519_declares_hs2019() -> None:
    added = sign_cavage("GET", OUTBOX, {}, None, ed25519_key(), NOW)
    assert ',algorithm="hs2019",' in added["Signature"]


def test_sign_cavage_host_keeps_a_non_default_port_only() -> None:
    assert (
        sign_cavage("GET", "https://A.example:443/x", {}, None, rsa_key(), NOW)["Host"]
        == "a.example"
    )
    assert sign_cavage("GET", "http://a.example:8080/x", {}, None, rsa_key(), NOW)["Host"] == (
        "a.example:8080"
    )


def test_sign_rfc9421_writes_mastodon_style_signature_input() -> None:
    added = sign_rfc9421("POST", INBOX, {}, BODY, rsa_key(), NOW)
    created = int(NOW.timestamp())
    assert added["Signature-Input"] == (
        f'sig1=("@method" "@target-uri" "content-digest");created={created};'
        'keyid="https://peer.example/users/bob1#main-key"'
    )
    assert added["Content-Digest"] == f"sha-256=:{b64(hashlib.sha256(BODY).digest())}:"
    assert re.fullmatch(r"sig1=:[A-Za-z0-9+/]{342}==:", added["Signature"])
    get = sign_rfc9421("GET", OUTBOX, {"Accept": AS_JSON}, None, rsa_key(), NOW, label="fedi")
    assert get["Signature-Input"].startswith('fedi=("@method" "@target-uri");created=')
    assert set(get) == {"Signature-Input", "Signature"}


@pytest.mark.parametrize(
    ("sign", "name", "escaped"),
    [
        (sign_cavage, "Signature", 'keyId="https://peer.example/a\\"b\\\\c"'),
        (sign_rfc9421, "Signature-Input", 'keyid="https://peer.example/a\\"b\\\\c"'),
    ],
)
def test_sign_escapes_a_key_id_that_parse_signature_unescapes(
    sign: Signer, name: str, escaped: str
) -> None:
    key = SigningKey('https://peer.example/a"b\\c', rsa_key().private_key)
    headers = signed(sign, "POST", INBOX, BODY, key)
    assert escaped in header(headers, name)
    assert parsed_ok("POST", INBOX, headers).key_id == key.key_id
    assert check("POST", INBOX, headers, BODY, public(key)) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://City.Example:443/a%20b/c?x=1&y=2",
            {
                "@authority": "city.example",
                "@scheme": "https",
                "@request-target": "/a%20b/c?x=1&y=2",
                "@path": "/a%20b/c",
                "@query": "?x=1&y=2",
            },
        ),
        (
            "http://city.example:8080",
            {
                "@authority": "city.example:8080",
                "@scheme": "http",
                "@request-target": "/",
                "@path": "/",
                "@query": "?",
            },
        ),
    ],
)
def test_parse_signature_rfc9421_derives_components_per_section_2_2(
    url: str, expected: dict[str, str]
) -> None:
    components = ("@method", "@target-uri", *expected)
    headers = signed(sign_rfc9421, "GET", url, None, rsa_key(), components=components)
    lines = parsed_ok("GET", url, headers).signing_string.split("\n")
    assert lines[:2] == ['"@method": GET', f'"@target-uri": {url}']
    assert lines[2:-1] == [f'"{name}": {value}' for name, value in expected.items()]
    assert check("GET", url, headers, None, public(rsa_key())) is None


def test_verify_treats_header_names_case_insensitively_and_joins_repeats() -> None:
    key = rsa_key()
    own = [("ACCEPT", AS_JSON), ("accept", "application/ld+json")]
    headers = signed(sign_cavage, "GET", OUTBOX, None, key, extra=own)
    parsed = parsed_ok("GET", OUTBOX, [(n.upper(), v) for n, v in headers])
    assert f"accept: {AS_JSON}, application/ld+json" in parsed.signing_string.split("\n")
    assert check("GET", OUTBOX, [(n.upper(), v) for n, v in headers], None, public(key)) is None
    as_mapping = {n.lower(): v for n, v in headers if n.lower() != "accept"}
    as_mapping["Accept"] = f"{AS_JSON}, application/ld+json"
    assert check("GET", OUTBOX, as_mapping, None, public(key)) is None


def test_verify_accepts_cavage_in_an_authorization_header() -> None:
    key = rsa_key()
    headers = signed(sign_cavage, "POST", INBOX, BODY, key)
    moved = [
        *replaced(headers, "Signature", None),
        ("Authorization", "Signature " + header(headers, "Signature")),
    ]
    assert check("POST", INBOX, moved, BODY, public(key)) is None


def test_verify_rfc9421_reserialises_signature_params_canonically() -> None:
    # RFC 8941 allows extra spaces; the base uses the canonical serialisation (RFC 9421 2.3).
    key = rsa_key()
    headers = signed(sign_rfc9421, "POST", INBOX, BODY, key)
    loose = header(headers, "Signature-Input").replace("(", "(  ").replace('" "', '"   "')
    assert loose != header(headers, "Signature-Input")
    assert (
        check("POST", INBOX, replaced(headers, "Signature-Input", loose), BODY, public(key)) is None
    )


def test_verify_rfc9421_skips_a_leading_signature_with_an_unsupported_alg() -> None:
    key = rsa_key()
    headers = signed(sign_rfc9421, "POST", INBOX, BODY, key)
    pss_input = 'pss=("@method" "@target-uri");created=1;keyid="x";alg="rsa-pss-sha512"'
    both = replaced(
        replaced(headers, "Signature-Input", f"{pss_input}, {header(headers, 'Signature-Input')}"),
        "Signature",
        f"pss=:AAAA:, {header(headers, 'Signature')}",
    )
    assert parsed_ok("POST", INBOX, both).label == "sig1"
    assert check("POST", INBOX, both, BODY, public(key)) is None


def _hs2019_created_expires(algorithm: str, created: int, expires: int) -> Pairs:
    """A hs2019 request covering (created) and (expires), signed by hand with the RSA key."""
    key = rsa_key()
    digest = digest_header(BODY)
    text = (
        "(request-target): post /actors/alice/inbox\n"
        f"(created): {created}\n(expires): {expires}\nhost: city.example\ndigest: {digest}"
    )
    assert not isinstance(key.private_key, ed25519.Ed25519PrivateKey)
    signature = key.private_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    value = (
        f'keyId="{key.key_id}",algorithm="{algorithm}",created={created},expires={expires},'
        f'headers="(request-target) (created) (expires) host digest",signature="{b64(signature)}"'
    )
    return [("Host", "city.example"), ("Digest", digest), ("Signature", value)]


def test_verify_cavage_hs2019_honours_created_and_expires() -> None:
    created = int(NOW.timestamp())
    headers = _hs2019_created_expires("hs2019", created, created + 300)
    parsed = parsed_ok("POST", INBOX, headers)
    assert (parsed.algorithm, parsed.created, parsed.expires) == ("hs2019", created, created + 300)
    key = public(rsa_key())
    assert check("POST", INBOX, headers, BODY, key, NOW + timedelta(seconds=60)) is None
    assert reason(check("POST", INBOX, headers, BODY, key, NOW + timedelta(seconds=301))) is (
        FailureReason.EXPIRED
    )
    assert reason(check("POST", INBOX, headers, BODY, key, NOW - timedelta(hours=13))) is (
        FailureReason.CLOCK_SKEW
    )


def test_parse_signature_cavage_refuses_created_with_rsa_sha256() -> None:
    created = int(NOW.timestamp())
    headers = _hs2019_created_expires("rsa-sha256", created, created + 300)
    assert reason(check("POST", INBOX, headers, BODY, public(rsa_key()))) is FailureReason.MALFORMED


def test_verify_cavage_hs2019_with_ed25519_and_missing_algorithm() -> None:
    key = ed25519_key()
    headers = signed(sign_cavage, "POST", INBOX, BODY, key)
    without = header(headers, "Signature").replace('algorithm="hs2019",', "")
    bare = replaced(headers, "Signature", without)
    assert parsed_ok("POST", INBOX, bare).algorithm == "hs2019"
    assert check("POST", INBOX, bare, BODY, public(key)) is None


def test_sign_functions_refuse_a_naive_time() -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_cavage("GET", OUTBOX, {}, None, rsa_key(), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_rfc9421("GET", OUTBOX, {}, None, rsa_key(), naive)


def test_sign_cavage_refuses_to_cover_an_absent_header() -> None:
    with pytest.raises(ValueError, match="accept"):
        sign_cavage(
            "GET", OUTBOX, {}, None, rsa_key(), NOW, components=["(request-target)", "accept"]
        )


# --- each failure reason -------------------------------------------------------------------------


def test_parse_signature_without_signature_headers_is_missing_signature() -> None:
    result = parse_signature("POST", INBOX, {"Content-Type": AS_JSON, "Authorization": "Bearer x"})
    assert isinstance(result, SignatureFailure)
    assert result.reason is FailureReason.MISSING_SIGNATURE
    assert result.detail.endswith(".")


def test_parse_signature_with_an_unknown_label_is_missing_signature() -> None:
    headers = signed(sign_rfc9421, "POST", INBOX, BODY, rsa_key())
    assert reason(check("POST", INBOX, headers, BODY, public(rsa_key()), label="nope")) is (
        FailureReason.MISSING_SIGNATURE
    )


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "",
        'keyId="k"',
        'keyId="k",signature="AAAA",',
        'keyId="k",,signature="AAAA"',
        'keyId="k",keyId="j",signature="AAAA"',
        'keyId="k",signature="not base64!"',
        'keyId="k",signature="AAAA",headers="(request-target) date",created=soon',
        'keyId="k",signature="AAAA",headers=""',
        'keyId="k,signature="AAAA"',
    ],
)
def test_parse_signature_cavage_garbage_is_malformed(value: str) -> None:
    headers = [
        ("Host", "city.example"),
        ("Date", "Thu, 01 Jan 2026 12:00:00 GMT"),
        ("Signature", value),
    ]
    result = parse_signature("POST", INBOX, headers)
    assert isinstance(result, SignatureFailure)
    assert result.reason is FailureReason.MALFORMED


@pytest.mark.parametrize(
    ("signature_input", "signature"),
    [
        ("sig1=(", "sig1=:AAAA:"),
        ('sig1=("@method" "@target-uri");created=1;keyid="k"', None),
        ('sig1=("@method" "@target-uri");created=1;keyid="k"', "sig1=AAAA"),
        ('sig1=("@method" "@target-uri");created=1;keyid="k"', "other=:AAAA:"),
        ('sig1=("@method" "@target-uri");created="1";keyid="k"', "sig1=:AAAA:"),
        ('sig1=("@method" "@target-uri");created=1;keyid=k', "sig1=:AAAA:"),
        ('sig1=("@method" "@target-uri");created=1', "sig1=:AAAA:"),
        ('sig1=("@method" "@method" "@target-uri");created=1;keyid="k"', "sig1=:AAAA:"),
        ('sig1=("@method" "@target-uri" "Date");created=1;keyid="k"', "sig1=:AAAA:"),
        ('sig1=("@method" @target-uri);created=1;keyid="k"', "sig1=:AAAA:"),
        ('sig1=("@method" "@target-uri");created=1;keyid="k",', "sig1=:AAAA:"),
        ('sig1=("@method" "@target-uri");created=1;keyid="k\\n"', "sig1=:AAAA:"),
        ('sig1=("@method" "@target-uri");created=1;keyid="k"', "sig1=:A:"),
    ],
)
def test_parse_signature_rfc9421_garbage_is_malformed(
    signature_input: str, signature: str | None
) -> None:
    headers = [("Signature-Input", signature_input)]
    if signature is not None:
        headers.append(("Signature", signature))
    result = parse_signature("GET", OUTBOX, headers)
    assert isinstance(result, SignatureFailure)
    assert result.reason is FailureReason.MALFORMED, result


@pytest.mark.parametrize("algorithm", ["hmac-sha256", "rsa-sha512", "ecdsa-sha256", "ed25519"])
def test_parse_signature_cavage_unknown_algorithm_is_unsupported(algorithm: str) -> None:
    headers = signed(sign_cavage, "POST", INBOX, BODY, rsa_key())
    value = header(headers, "Signature").replace("rsa-sha256", algorithm)
    assert reason(
        check("POST", INBOX, replaced(headers, "Signature", value), BODY, public(rsa_key()))
    ) is (FailureReason.UNSUPPORTED_ALGORITHM)


@pytest.mark.parametrize("alg", ["rsa-pss-sha512", "ecdsa-p256-sha256", "hmac-sha256"])
def test_parse_signature_rfc9421_unknown_alg_is_unsupported(alg: str) -> None:
    headers = signed(sign_rfc9421, "POST", INBOX, BODY, rsa_key())
    value = header(headers, "Signature-Input") + f';alg="{alg}"'
    assert reason(
        check("POST", INBOX, replaced(headers, "Signature-Input", value), BODY, public(rsa_key()))
    ) is (FailureReason.UNSUPPORTED_ALGORITHM)


@pytest.mark.parametrize(
    "component",
    ['"@query-param";name="page"', '"@status"', '"content-type";sf', '"@signature-params"'],
)
def test_parse_signature_rfc9421_unknown_component_is_unsupported(component: str) -> None:
    value = f'sig1=("@method" "@target-uri" {component});created=1;keyid="k"'
    result = parse_signature(
        "GET", OUTBOX, [("Signature-Input", value), ("Signature", "sig1=:AAAA:")]
    )
    assert isinstance(result, SignatureFailure)
    assert result.reason is FailureReason.UNSUPPORTED_COMPONENT


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
def test_parse_signature_with_a_covered_header_absent_is_missing_component(sign: Signer) -> None:
    components = (
        ("(request-target)", "host", "date", "accept")
        if sign is sign_cavage
        else ("@method", "@target-uri", "accept")
    )
    headers = signed(
        sign, "GET", OUTBOX, None, rsa_key(), extra=[("Accept", AS_JSON)], components=components
    )
    assert reason(
        check("GET", OUTBOX, replaced(headers, "Accept", None), None, public(rsa_key()))
    ) is (FailureReason.MISSING_COMPONENT)


@pytest.mark.parametrize(
    ("sign", "components"),
    [
        (sign_cavage, ("host", "date", "digest")),
        (sign_cavage, ("(request-target)", "host", "digest")),
        (sign_rfc9421, ("@target-uri", "content-digest")),
        (sign_rfc9421, ("@method", "@authority", "content-digest")),
    ],
)
def test_parse_signature_without_method_target_or_time_is_not_covered(
    sign: Signer, components: tuple[str, ...]
) -> None:
    headers = signed(sign, "POST", INBOX, BODY, rsa_key(), components=components)
    assert reason(check("POST", INBOX, headers, BODY, public(rsa_key()))) is (
        FailureReason.REQUIRED_COMPONENT_NOT_COVERED
    )


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
def test_verify_post_whose_digest_is_not_signed_is_not_covered(sign: Signer) -> None:
    # Signed as if bodiless, then delivered with a body: the body is not bound.
    headers = signed(sign, "POST", INBOX, None, rsa_key())
    result = check("POST", INBOX, headers, BODY, public(rsa_key()))
    assert reason(result) is FailureReason.REQUIRED_COMPONENT_NOT_COVERED


def test_parse_signature_rfc9421_without_created_is_not_covered() -> None:
    headers = signed(sign_rfc9421, "POST", INBOX, BODY, rsa_key())
    value = re.sub(r";created=\d+", "", header(headers, "Signature-Input"))
    assert reason(
        check("POST", INBOX, replaced(headers, "Signature-Input", value), BODY, public(rsa_key()))
    ) is (FailureReason.REQUIRED_COMPONENT_NOT_COVERED)


def test_parse_signature_cavage_without_date_is_date_missing() -> None:
    headers = signed(sign_cavage, "POST", INBOX, BODY, rsa_key())
    assert reason(
        check("POST", INBOX, replaced(headers, "Date", None), BODY, public(rsa_key()))
    ) is (FailureReason.DATE_MISSING)


def test_verify_cavage_with_an_unparsable_date_is_invalid_date() -> None:
    headers = signed(sign_cavage, "GET", OUTBOX, None, rsa_key())
    # Freshness is checked before the signature, so the date is what gets reported.
    tampered = replaced(headers, "Date", "yesterday")
    assert (
        reason(check("GET", OUTBOX, tampered, None, public(rsa_key())))
        is FailureReason.INVALID_DATE
    )


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
@pytest.mark.parametrize(
    ("signed_at", "expected"),
    [
        (NOW - timedelta(hours=13), FailureReason.CLOCK_SKEW),
        (NOW + timedelta(hours=13), FailureReason.CLOCK_SKEW),
        (NOW - timedelta(hours=11), None),
        (NOW + timedelta(hours=11), None),
    ],
)
def test_verify_refuses_a_signature_made_more_than_12_hours_away(
    sign: Signer, signed_at: datetime, expected: FailureReason | None
) -> None:
    headers = signed(sign, "POST", INBOX, BODY, rsa_key(), now=signed_at)
    assert reason(check("POST", INBOX, headers, BODY, public(rsa_key()))) is expected


def test_verify_max_skew_is_adjustable() -> None:
    headers = signed(sign_cavage, "POST", INBOX, BODY, rsa_key(), now=NOW - timedelta(minutes=10))
    parsed = parsed_ok("POST", INBOX, headers)
    strict = verify(
        parsed,
        public(rsa_key()),
        method="POST",
        body=BODY,
        headers=headers,
        now=NOW,
        authority=authority(INBOX),
        max_skew=timedelta(minutes=5),
    )
    assert reason(strict) is FailureReason.CLOCK_SKEW


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
def test_parse_signature_with_the_covered_digest_header_absent_is_digest_missing(
    sign: Signer,
) -> None:
    headers = signed(sign, "POST", INBOX, BODY, rsa_key())
    name = "Digest" if sign is sign_cavage else "Content-Digest"
    assert reason(check("POST", INBOX, replaced(headers, name, None), BODY, public(rsa_key()))) is (
        FailureReason.DIGEST_MISSING
    )


@pytest.mark.parametrize(
    ("sign", "name", "value"),
    [
        (sign_cavage, "Digest", "MD5=" + b64(hashlib.md5(BODY).digest())),  # noqa: S324 - a vector
        (sign_rfc9421, "Content-Digest", "md5=:" + b64(hashlib.md5(BODY).digest()) + ":"),  # noqa: S324
    ],
)
def test_verify_with_only_unsupported_digest_algorithms_is_digest_missing(
    sign: Signer, name: str, value: str
) -> None:
    covered = (
        ("(request-target)", "host", "date", "digest")
        if sign is sign_cavage
        else ("@method", "@target-uri", "content-digest")
    )
    headers = signed(
        sign, "POST", INBOX, None, rsa_key(), extra=[(name, value)], components=covered
    )
    assert (
        reason(check("POST", INBOX, headers, BODY, public(rsa_key())))
        is FailureReason.DIGEST_MISSING
    )


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
def test_verify_with_an_altered_body_is_digest_mismatch(sign: Signer, key: SigningKey) -> None:
    headers = signed(sign, "POST", INBOX, BODY, key)
    altered = BODY.replace(b"Follow", b"Delete")
    result = check("POST", INBOX, headers, altered, public(key))
    assert reason(result) is FailureReason.DIGEST_MISMATCH


@pytest.mark.parametrize(
    ("sign", "expected_key"),
    [(sign_cavage, "an RSA"), (sign_rfc9421, "an RSA or Ed25519")],
)
def test_verify_with_a_key_of_another_type_is_key_type_mismatch(
    sign: Signer, expected_key: str
) -> None:
    headers = signed(sign, "POST", INBOX, BODY, rsa_key())
    other = (
        ed25519_key().private_key.public_key()
        if sign is sign_cavage
        else (ec.generate_private_key(ec.SECP256R1()).public_key())
    )
    result = check("POST", INBOX, headers, BODY, other)
    assert isinstance(result, SignatureFailure)
    assert result.reason is FailureReason.KEY_TYPE_MISMATCH
    assert expected_key in result.detail


def test_verify_rfc9421_ed25519_alg_with_an_rsa_key_is_key_type_mismatch() -> None:
    case, url, headers, _ = _b26()
    at = datetime.fromtimestamp(case["created"], UTC)
    value = header(headers, "Signature-Input") + ';alg="ed25519"'
    result = check(
        "POST", url, replaced(headers, "Signature-Input", value), None, public(rsa_key()), at
    )
    assert reason(result) is FailureReason.KEY_TYPE_MISMATCH


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_verify_with_an_altered_signed_header_is_bad_signature(
    sign: Signer, method: str, key: SigningKey
) -> None:
    body = BODY if method == "POST" else None
    extra = [("Accept", AS_JSON), ("Host", "city.example")]
    components: tuple[str, ...] = (
        ("(request-target)", "host", "date", "accept")
        if sign is sign_cavage
        else ("@method", "@target-uri", "accept")
    )
    if body is not None:
        components += ("digest",) if sign is sign_cavage else ("content-digest",)
    headers = signed(sign, method, INBOX, body, key, extra=extra, components=components)
    tampered = replaced(headers, "Accept", "text/html")
    assert reason(check(method, INBOX, tampered, body, public(key))) is FailureReason.BAD_SIGNATURE


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
def test_verify_on_another_path_or_by_another_key_is_bad_signature(sign: Signer) -> None:
    headers = signed(sign, "POST", INBOX, BODY, rsa_key())
    other_inbox = INBOX.replace("alice", "mallory")
    assert reason(check("POST", other_inbox, headers, BODY, public(rsa_key()))) is (
        FailureReason.BAD_SIGNATURE
    )
    assert reason(check("POST", INBOX, headers, BODY, public(rsa_key(2)))) is (
        FailureReason.BAD_SIGNATURE
    )


def test_verify_cavage_with_another_host_is_wrong_authority() -> None:
    # Refused before the signature is checked: the host it names is not the server's.
    headers = signed(sign_cavage, "POST", INBOX, BODY, rsa_key())
    moved = replaced(headers, "Host", "evil.example")
    assert reason(check("POST", INBOX, moved, BODY, public(rsa_key()))) is (
        FailureReason.WRONG_AUTHORITY
    )


def test_verify_rejects_a_header_value_that_forges_a_line() -> None:
    headers = signed(sign_cavage, "GET", OUTBOX, None, rsa_key(), extra=[("Accept", AS_JSON)])
    forged = replaced(headers, "Accept", f"{AS_JSON}\nhost: evil.example")
    assert reason(check("GET", OUTBOX, forged, None, public(rsa_key()))) is FailureReason.MALFORMED


def test_every_failure_detail_is_a_short_sentence() -> None:
    results = [
        parse_signature("POST", INBOX, {}),
        parse_signature("POST", INBOX, {"Signature": "garbage"}),
        check(
            "POST",
            INBOX,
            signed(sign_cavage, "POST", INBOX, BODY, rsa_key()),
            b"x",
            public(rsa_key()),
        ),
    ]
    for result in results:
        assert isinstance(result, SignatureFailure)
        assert result.detail[0].isupper()
        assert result.detail.endswith(".")
        assert len(result.detail) < 120
