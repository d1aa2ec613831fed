"""Body digests: Digest (RFC 3230, as Mastodon signs it) and Content-Digest (RFC 9530).

A signature binds a body only through a covered digest header; these make them and check them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from fedicity.activitypub.httpsig.models import (
    FailureReason,
    ParsedSignature,
    SignatureFailure,
    fail,
    missing,
)
from fedicity.activitypub.httpsig.structured import Item, parse_dictionary
from fedicity.activitypub.httpsig.wire import b64decode, b64encode

_DIGEST_HASHES = {"sha-256": "sha256", "sha-512": "sha512"}


def digest_header(body: bytes) -> str:
    """The Digest header value for a body: RFC 3230 `SHA-256=<base64>`, as Mastodon checks it."""
    return "SHA-256=" + b64encode(hashlib.sha256(body).digest())


def content_digest_header(body: bytes) -> str:
    """The Content-Digest header value for a body (RFC 9530): `sha-256=:<base64>:`."""
    return f"sha-256=:{b64encode(hashlib.sha256(body).digest())}:"


def _digest_matches(algorithm: str, given: bytes, body: bytes) -> bool:
    return hmac.compare_digest(given, hashlib.new(_DIGEST_HASHES[algorithm], body).digest())


def check_rfc3230_digest(value: str, body: bytes) -> SignatureFailure | None:
    """Every SHA-256/SHA-512 member of a Digest header must match; at least one must be there."""
    checked = False
    for member in value.split(","):
        name, sep, encoded = member.strip().partition("=")
        if not sep:
            return fail(FailureReason.MALFORMED, "The Digest header is not algorithm=value.")
        algorithm = name.strip().lower()
        if algorithm not in _DIGEST_HASHES:
            continue
        given = b64decode(encoded.strip())
        if given is None:
            return fail(FailureReason.MALFORMED, f"The Digest {algorithm} value is not base64.")
        if not _digest_matches(algorithm, given, body):
            return fail(
                FailureReason.DIGEST_MISMATCH, f"The body does not match its Digest ({algorithm})."
            )
        checked = True
    return None if checked else _no_supported_digest("Digest")


def check_content_digest(value: str, body: bytes) -> SignatureFailure | None:
    """Every sha-256/sha-512 member of Content-Digest must match; at least one must be there."""
    members = parse_dictionary(value)
    if members is None:
        return fail(FailureReason.MALFORMED, "The Content-Digest header is not a dictionary.")
    checked = False
    for algorithm, member in members.items():
        if algorithm not in _DIGEST_HASHES:
            continue
        if not isinstance(member, Item) or not isinstance(member.value, bytes):
            return fail(
                FailureReason.MALFORMED, f"The Content-Digest {algorithm} value is not bytes."
            )
        if not _digest_matches(algorithm, member.value, body):
            return fail(
                FailureReason.DIGEST_MISMATCH,
                f"The body does not match its Content-Digest ({algorithm}).",
            )
        checked = True
    return None if checked else _no_supported_digest("Content-Digest")


def _no_supported_digest(header: str) -> SignatureFailure:
    return fail(FailureReason.DIGEST_MISSING, f"The {header} header has no SHA-256 or SHA-512.")


def check_digests(
    parsed: ParsedSignature, fields: Mapping[str, str], body: bytes
) -> SignatureFailure | None:
    """Check each covered digest header against the body."""
    checkers = (("digest", check_rfc3230_digest), ("content-digest", check_content_digest))
    for name, check in checkers:
        if name in parsed.components:
            value = fields.get(name)
            failure = missing(name) if value is None else check(value, body)
            if failure is not None:
                return failure
    return None
