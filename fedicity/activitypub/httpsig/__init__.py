"""HTTP Signatures: draft-cavage-12 as Mastodon speaks it, and RFC 9421; signing and verifying.

Pure protocol code: no I/O and no clock. Callers pass the time, the keys and the request parts;
every verification failure comes back as a SignatureFailure whose detail can go in a 401 response.

Verifying is two steps so the caller can fetch the key in between: parse_signature() reads the
signature headers, applies the coverage rules that need no body and builds the exact text that
was signed, so a request we would refuse costs no key fetch; verify() then checks that a body is
covered, the key type, freshness, the body digest and, last because it is the dearest, the
signature itself.

The modules: models (the signature, the key, the failures), wire (folded headers, base64, HTTP
dates, URL parts), structured (RFC 8941 structured fields), digests (Digest, Content-Digest),
cavage and rfc9421 (each scheme's signing text, signing and parsing), verification
(parse_signature, verify, check_authority). This package re-exports what callers use.
"""

from fedicity.activitypub.httpsig.cavage import sign_cavage
from fedicity.activitypub.httpsig.digests import content_digest_header, digest_header
from fedicity.activitypub.httpsig.models import (
    FailureReason,
    Headers,
    ParsedSignature,
    SignatureFailure,
    SigningKey,
)
from fedicity.activitypub.httpsig.rfc9421 import sign_rfc9421
from fedicity.activitypub.httpsig.verification import check_authority, parse_signature, verify

__all__ = [
    "FailureReason",
    "Headers",
    "ParsedSignature",
    "SignatureFailure",
    "SigningKey",
    "check_authority",
    "content_digest_header",
    "digest_header",
    "parse_signature",
    "sign_cavage",
    "sign_rfc9421",
    "verify",
]
