"""The request as both specs read it: folded headers, base64, wire bytes, HTTP dates, URL parts."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fedicity.activitypub.httpsig.models import (
    FailureReason,
    Headers,
    SignatureFailure,
    SigningKey,
    fail,
    short,
)


class FoldedHeaders(dict[str, str]):
    """Headers already folded: folding them again returns them as they are (the inbox folds
    once; parsing, checking and verifying a signature each ask for folded headers)."""


def fold_headers(headers: Headers) -> FoldedHeaders:
    """Lower-case the names; join repeated fields with ", " and trim values, as both specs say."""
    if isinstance(headers, FoldedHeaders):
        return headers
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    folded: dict[str, list[str]] = {}
    for name, value in pairs:
        folded.setdefault(name.lower(), []).append(value.strip(" \t"))
    return FoldedHeaders((name, ", ".join(values)) for name, values in folded.items())


def merged(headers: Headers, added: Mapping[str, str]) -> dict[str, str]:
    """The request's folded headers with the ones a signer adds."""
    # The headers we add replace the caller's, as they will on the wire.
    return fold_headers(headers) | {name.lower(): value for name, value in added.items()}


def line_value(name: str, value: str) -> str | SignatureFailure:
    """A component's value for one line of a signing string, or a failure if it holds a break."""
    # A line break inside a value would let one component forge the next line of the string.
    if "\n" in value or "\r" in value:
        return fail(FailureReason.MALFORMED, f"The {short(name)} value contains a line break.")
    return value


_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def b64decode(text: str) -> bytes | None:
    """Decode standard base64, or None; missing padding is tolerated (RFC 8941 section 4.2.7)."""
    if not _BASE64.fullmatch(text):
        return None
    bare = text.rstrip("=")
    if len(bare) % 4 == 1 or (bare != text and len(text) % 4):
        return None
    return base64.b64decode(bare + "=" * (-len(bare) % 4))


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, as text."""
    return base64.b64encode(data).decode("ascii")


def encode(text: str) -> bytes:
    """A signing string back to the bytes that went over the wire."""
    # Servers decode header bytes as Latin-1, so encoding back that way restores the wire bytes;
    # anything beyond Latin-1 can only have come from a decoded URL, which UTF-8 restores.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def sign_bytes(key: SigningKey, data: bytes) -> bytes:
    """Sign with an RSA key (PKCS#1 v1.5, SHA-256) or an Ed25519 key."""
    if isinstance(key.private_key, rsa.RSAPrivateKey):
        return key.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.private_key.sign(data)


def require_aware(now: datetime) -> datetime:
    """`now` in UTC; a naive datetime is a caller bug (ValueError)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def imf_fixdate(now: datetime) -> str:
    """`now` as an HTTP Date header value."""
    return format_datetime(require_aware(now), usegmt=True)


@dataclass(frozen=True)
class Target:
    """The parts of a request URL the signatures cover."""

    scheme: str
    authority: str
    path: str
    query: str | None

    @property
    def request_target(self) -> str:
        """The path and the query, as on the request line."""
        return self.path if self.query is None else f"{self.path}?{self.query}"


_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def split_target(url: str) -> Target:
    """The parts RFC 9421 derives from a URL; the authority is lower-cased, default port dropped."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    authority = parts.netloc.rpartition("@")[2].lower()
    default_port = _DEFAULT_PORTS.get(scheme)
    if default_port and authority.endswith(default_port):
        authority = authority[: -len(default_port)]
    authority = authority.removesuffix(":")
    # urlsplit cannot tell "/a?" from "/a"; RFC 9421 can, so look for the "?" ourselves.
    has_query = "?" in url.partition("#")[0]
    return Target(scheme, authority, parts.path or "/", parts.query if has_query else None)
