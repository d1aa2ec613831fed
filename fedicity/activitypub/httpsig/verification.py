"""Reading a request's signature (either scheme) and verifying it once its key is known."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from fedicity.activitypub.dates import parse_http_date
from fedicity.activitypub.httpsig.cavage import parse_cavage
from fedicity.activitypub.httpsig.digests import check_digests
from fedicity.activitypub.httpsig.models import (
    BODY_DIGESTS,
    FailureReason,
    Headers,
    ParsedSignature,
    SignatureFailure,
    fail,
    missing,
    not_covered,
    short,
)
from fedicity.activitypub.httpsig.rfc9421 import parse_rfc9421, signed_component
from fedicity.activitypub.httpsig.wire import (
    encode,
    fold_headers,
    require_aware,
    split_target,
)


def parse_signature(
    method: str, url: str, headers: Headers, *, label: str | None = None
) -> ParsedSignature | SignatureFailure:
    """Read the request's signature and build the text it signed, without any key yet.

    RFC 9421 (Signature-Input + Signature) is preferred when present; otherwise a draft-cavage
    Signature header, or `Authorization: Signature ...`. Coverage rules that do not depend on the
    body are enforced here, so a request we would refuse costs no key fetch. Of several RFC 9421
    signatures the first whose algorithm we support is taken, unless `label` picks one.
    """
    fields = fold_headers(headers)
    if "signature-input" in fields:
        return parse_rfc9421(method, url, fields, label)
    raw = fields.get("signature")
    if raw is None:
        scheme, _, rest = fields.get("authorization", "").partition(" ")
        raw = rest if scheme.lower() == "signature" else None
    if raw is None:
        return fail(FailureReason.MISSING_SIGNATURE, "The request has no HTTP signature.")
    return parse_cavage(method, url, fields, raw)


def verify(
    parsed: ParsedSignature,
    public_key: PublicKeyTypes,
    *,
    method: str,
    body: bytes | None,
    headers: Headers,
    now: datetime,
    authority: str,
    max_skew: timedelta = timedelta(hours=12),
) -> SignatureFailure | None:
    """Check a parsed signature against the key it names; None means verified.

    `headers` and `method` must be those given to parse_signature(); `body` None means the
    request has none; `authority` is this server's host (with its port when not the default),
    which the signature must name (see check_authority). A non-empty body must be bound by a
    covered Digest or Content-Digest. Date and created must lie within max_skew of now, expires
    after it.
    """
    fields = fold_headers(headers)
    # Each check gives None or a failure, and `or` stops at the first failure: the cheap checks
    # run first and the public-key operation only for a request that passed all of them.
    return (
        _check_authority(parsed, fields, authority)
        or _check_body_covered(parsed, method, body)
        or _check_key_type(parsed, public_key)
        or _check_freshness(parsed, fields, require_aware(now), max_skew)
        or check_digests(parsed, fields, body or b"")
        or _check_signature(parsed, public_key)
    )


def check_authority(
    parsed: ParsedSignature, headers: Headers, authority: str
) -> SignatureFailure | None:
    """Whether the signature names this server (`authority`: host, and port when not default).

    A signature over the method, path and date alone is valid at every server that has the
    same path (every Mastodon-shaped /inbox): a delivery signed for another server could be
    replayed here. So draft-cavage must sign `host` and RFC 9421 `@authority` or `@target-uri`,
    and what they sign must be us. No key is needed: callers run this before fetching one.
    """
    return _check_authority(parsed, fold_headers(headers), authority)


def _check_authority(
    parsed: ParsedSignature, fields: Mapping[str, str], authority: str
) -> SignatureFailure | None:
    expected = _normal_authority(authority)
    if parsed.scheme == "cavage":
        if "host" not in parsed.components:
            return not_covered("The signature must cover host.")
        # The signing string took the value of the Host header itself: that is what was signed.
        signed = [fields.get("host", "")]
    else:
        signed = []
        named = signed_component(parsed, "@authority")
        if named is not None:
            signed.append(named)
        target = signed_component(parsed, "@target-uri")
        if target is not None:
            signed.append(split_target(target).authority)
        if not signed:
            return not_covered("The signature must cover @authority or @target-uri.")
    for value in signed:
        if _normal_authority(value) != expected:
            return fail(
                FailureReason.WRONG_AUTHORITY,
                f"The signature is for {short(value) or 'no host'}, not for {expected}.",
            )
    return None


def _normal_authority(value: str) -> str:
    """An authority for comparison: lower case, without a default port (http's or https's)."""
    text = value.strip().lower()
    host, sep, port = text.rpartition(":")
    if sep and port in ("80", "443") and host:
        return host
    return text


def _check_body_covered(
    parsed: ParsedSignature, method: str, body: bytes | None
) -> SignatureFailure | None:
    # Without a signed digest the body could be swapped under a valid signature.
    if body and not set(BODY_DIGESTS) & set(parsed.components):
        header = "digest" if parsed.scheme == "cavage" else "content-digest"
        return not_covered(f"A {method.upper()} with a body must sign {header}.")
    return None


def _expected_key_type(parsed: ParsedSignature) -> Literal["rsa", "ed25519", "any"]:
    """The key type the declared algorithm needs; hs2019 and a missing alg leave it to the key."""
    if parsed.algorithm in ("rsa-sha256", "rsa-v1_5-sha256"):
        return "rsa"
    if parsed.algorithm == "ed25519":
        return "ed25519"
    return "any"


def _check_key_type(parsed: ParsedSignature, key: PublicKeyTypes) -> SignatureFailure | None:
    expected = _expected_key_type(parsed)
    if isinstance(key, rsa.RSAPublicKey) and expected in ("rsa", "any"):
        return None
    if isinstance(key, ed25519.Ed25519PublicKey) and expected in ("ed25519", "any"):
        return None
    wanted = {"rsa": "an RSA", "ed25519": "an Ed25519", "any": "an RSA or Ed25519"}[expected]
    return fail(FailureReason.KEY_TYPE_MISMATCH, f"The signature needs {wanted} key.")


def _check_freshness(
    parsed: ParsedSignature, fields: Mapping[str, str], now: datetime, max_skew: timedelta
) -> SignatureFailure | None:
    # Compared as seconds: a created of 10**15 must fail, not overflow datetime.
    now_ts, skew = now.timestamp(), max_skew.total_seconds()
    if parsed.expires is not None and now_ts > parsed.expires:
        return fail(FailureReason.EXPIRED, "The signature has expired.")
    if parsed.created is not None and abs(now_ts - parsed.created) > skew:
        return fail(FailureReason.CLOCK_SKEW, "The signature creation time is too far from now.")
    if "date" in parsed.components:
        raw = fields.get("date")
        if raw is None:
            return missing("date")
        date = parse_http_date(raw, naive_as_utc=True)
        if date is None:
            return fail(FailureReason.INVALID_DATE, "The Date header is not an HTTP date.")
        if abs(now_ts - date.timestamp()) > skew:
            return fail(FailureReason.CLOCK_SKEW, "The Date header is too far from now.")
    return None


def _check_signature(parsed: ParsedSignature, key: PublicKeyTypes) -> SignatureFailure | None:
    data = encode(parsed.signing_string)
    try:
        if isinstance(key, rsa.RSAPublicKey):
            # rsa-sha256, hs2019 with an RSA key (as Mastodon) and rsa-v1_5-sha256 alike.
            key.verify(parsed.signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(parsed.signature, data)
        else:
            return _check_key_type(parsed, key)
    except InvalidSignature:
        return fail(FailureReason.BAD_SIGNATURE, "The signature does not match the request.")
    return None
