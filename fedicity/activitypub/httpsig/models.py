"""What HTTP signatures deal in: the parsed signature, the signing key, and the typed failures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal, TypeAlias

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

# Quart's request.headers is not a Mapping but iterates (name, value) pairs, repeats included.
Headers: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]


class FailureReason(Enum):
    """Why a signed request was refused."""

    MISSING_SIGNATURE = "missing_signature"
    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    UNSUPPORTED_COMPONENT = "unsupported_component"
    MISSING_COMPONENT = "missing_component"
    REQUIRED_COMPONENT_NOT_COVERED = "required_component_not_covered"
    DATE_MISSING = "date_missing"
    INVALID_DATE = "invalid_date"
    CLOCK_SKEW = "clock_skew"
    EXPIRED = "expired"
    DIGEST_MISSING = "digest_missing"
    DIGEST_MISMATCH = "digest_mismatch"
    KEY_TYPE_MISMATCH = "key_type_mismatch"
    BAD_SIGNATURE = "bad_signature"
    WRONG_AUTHORITY = "wrong_authority"


@dataclass(frozen=True)
class SignatureFailure:
    """A refused signature: a reason for code and logs, a sentence for the remote server."""

    reason: FailureReason
    detail: str


@dataclass(frozen=True)
class ParsedSignature:
    """A signature read from a request, ready to verify once the key named by key_id is known.

    algorithm is the declared one ("rsa-sha256" or "hs2019" for cavage, with hs2019 standing in
    when absent; "rsa-v1_5-sha256", "ed25519" or None for RFC 9421, None meaning "from the key").
    signing_string is the exact text signed: the cavage signing string or the RFC 9421 base.
    """

    scheme: Literal["cavage", "rfc9421"]
    key_id: str
    algorithm: str | None
    components: tuple[str, ...]
    created: int | None
    expires: int | None
    signature: bytes
    signing_string: str
    label: str | None = None


@dataclass(frozen=True)
class SigningKey:
    """A private key and the keyId under which peers find its public half."""

    key_id: str
    private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def fail(reason: FailureReason, detail: str) -> SignatureFailure:
    """A failure with its reason and the sentence for the sender."""
    return SignatureFailure(reason, detail)


def short(text: str, limit: int = 80) -> str:
    """Request content shortened for a failure's detail."""
    # Details echo request content back to the sender; keep them short.
    return text if len(text) <= limit else text[: limit - 1] + "…"


def not_covered(detail: str) -> SignatureFailure:
    """A component the rules require is not covered by the signature."""
    return fail(FailureReason.REQUIRED_COMPONENT_NOT_COVERED, detail)


BODY_DIGESTS = ("digest", "content-digest")


def missing(name: str) -> SignatureFailure:
    """A covered header is absent; Date and the digests get their own reasons."""
    if name == "date":
        return fail(FailureReason.DATE_MISSING, "The signature covers Date, which is missing.")
    if name in BODY_DIGESTS:
        return fail(FailureReason.DIGEST_MISSING, f"The signature covers {name}, which is missing.")
    return fail(
        FailureReason.MISSING_COMPONENT,
        f"The signature covers {short(name)}, which the request does not have.",
    )
