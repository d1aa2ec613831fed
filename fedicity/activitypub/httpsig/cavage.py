"""draft-cavage-12 HTTP signatures, as Mastodon speaks them: the signing string, signing and
reading the Signature header (or `Authorization: Signature ...`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa

from fedicity.activitypub.httpsig.digests import digest_header
from fedicity.activitypub.httpsig.models import (
    FailureReason,
    Headers,
    ParsedSignature,
    SignatureFailure,
    SigningKey,
    fail,
    missing,
    not_covered,
    short,
)
from fedicity.activitypub.httpsig.wire import (
    Target,
    b64decode,
    b64encode,
    encode,
    imf_fixdate,
    line_value,
    merged,
    sign_bytes,
    split_target,
)


def _cavage_value(
    name: str, method: str, target: Target, fields: Mapping[str, str], params: Mapping[str, str]
) -> str | SignatureFailure:
    """The value of one name in a cavage headers list: a pseudo-header or a header field."""
    if name == "(request-target)":
        return f"{method.lower()} {target.request_target}"
    if name in ("(created)", "(expires)"):
        value = params.get(name[1:-1])
        if value is None:
            return fail(
                FailureReason.MALFORMED, f"The signature covers {name} but has no such parameter."
            )
        return value
    if name.startswith("("):
        return fail(
            FailureReason.UNSUPPORTED_COMPONENT, f"The pseudo-header {short(name)} is unknown."
        )
    value = fields.get(name)
    return missing(name) if value is None else line_value(name, value)


def _cavage_string(
    covered: Sequence[str],
    method: str,
    target: Target,
    fields: Mapping[str, str],
    params: Mapping[str, str],
) -> str | SignatureFailure:
    """The draft-cavage signing string: `name: value` lines joined by LF, no final LF."""
    lines = []
    for name in covered:
        value = _cavage_value(name, method, target, fields, params)
        if isinstance(value, SignatureFailure):
            return value
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sign_cavage(
    method: str,
    url: str,
    headers: Headers,
    body: bytes | None,
    key: SigningKey,
    now: datetime,
    *,
    components: Sequence[str] | None = None,
) -> dict[str, str]:
    """Sign a request the draft-cavage way Mastodon expects; return the headers to add.

    Adds Date (from now), Host (from the URL), Digest when there is a body, and Signature. The
    covered headers are `(request-target) host date digest` with a body, else
    `(request-target) host date`, plus `accept` when the request has an Accept header.
    `components` overrides that list (for peers or test vectors that need another one).
    RSA keys sign rsa-sha256 (PKCS#1 v1.5, SHA-256); Ed25519 keys sign hs2019.
    Raises ValueError if `now` is naive or a covered header is absent: both are caller bugs.
    """
    target = split_target(url)
    added = {"Date": imf_fixdate(now), "Host": target.authority}
    if body is not None:
        added["Digest"] = digest_header(body)
    fields = merged(headers, added)
    if components is not None:
        covered = tuple(name.lower() for name in components)
    elif body is not None:
        covered = ("(request-target)", "host", "date", "digest")
    else:
        accept = ("accept",) if "accept" in fields else ()
        covered = ("(request-target)", "host", "date", *accept)
    text = _cavage_string(covered, method, target, fields, {})
    if isinstance(text, SignatureFailure):
        raise ValueError(text.detail)
    signature = b64encode(sign_bytes(key, encode(text)))
    algorithm = "rsa-sha256" if isinstance(key.private_key, rsa.RSAPrivateKey) else "hs2019"
    added["Signature"] = (
        f"keyId={_quoted(key.key_id)},algorithm={_quoted(algorithm)},"
        f"headers={_quoted(' '.join(covered))},signature={_quoted(signature)}"
    )
    return added


_CAVAGE_PARAM = re.compile(
    r'[ \t]*([A-Za-z0-9_-]+)[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^",\s]+))[ \t]*(,|\Z)'
)


def _parse_cavage_params(text: str) -> dict[str, str] | None:
    """Split `name="value",name=value` into a dict keyed by lower-cased name, or None."""
    params: dict[str, str] = {}
    pos = 0
    while pos < len(text) or not params:
        match = _CAVAGE_PARAM.match(text, pos)
        if match is None:
            return None
        name, quoted, bare, separator = match.groups()
        if name.lower() in params or (separator == "," and match.end() == len(text)):
            return None
        params[name.lower()] = bare if quoted is None else re.sub(r"\\(.)", r"\1", quoted)
        pos = match.end()
    return params


_CAVAGE_ALGORITHMS = ("rsa-sha256", "hs2019")


_CAVAGE_TIME = re.compile(r"[0-9]{1,15}(?:\.[0-9]+)?")


def parse_cavage(
    method: str, url: str, fields: Mapping[str, str], raw: str
) -> ParsedSignature | SignatureFailure:
    params = _parse_cavage_params(raw)
    if params is None:
        return fail(FailureReason.MALFORMED, "The Signature header is not a list of name=value.")
    key_id, encoded = params.get("keyid"), params.get("signature")
    if not key_id or encoded is None:
        return fail(FailureReason.MALFORMED, "The signature lacks keyId or signature.")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in _CAVAGE_ALGORITHMS:
        return fail(
            FailureReason.UNSUPPORTED_ALGORITHM,
            f"The algorithm {short(algorithm)} is not supported; use rsa-sha256 or hs2019.",
        )
    signature = b64decode(encoded)
    if signature is None:
        return fail(FailureReason.MALFORMED, "The signature value is not base64.")
    times: dict[str, int] = {}
    for name in ("created", "expires"):
        if name in params:
            if not _CAVAGE_TIME.fullmatch(params[name]):
                return fail(FailureReason.MALFORMED, f"The {name} parameter is not a timestamp.")
            times[name] = int(params[name].partition(".")[0])
    # Mastodon's default, and that of the drafts before 11 (12 says "(created)").
    covered = tuple(params.get("headers", "date").lower().split())
    failure = _cavage_policy(covered, algorithm)
    if failure is not None:
        return failure
    text = _cavage_string(covered, method, split_target(url), fields, params)
    if isinstance(text, SignatureFailure):
        return text
    return ParsedSignature(
        scheme="cavage",
        key_id=key_id,
        algorithm=algorithm,
        components=covered,
        created=times.get("created"),
        expires=times.get("expires"),
        signature=signature,
        signing_string=text,
    )


def _cavage_policy(covered: Sequence[str], algorithm: str) -> SignatureFailure | None:
    """What a cavage signature must cover to bind the request to its target and its time."""
    if not covered:
        return fail(FailureReason.MALFORMED, "The headers parameter is empty.")
    if algorithm != "hs2019" and ("(created)" in covered or "(expires)" in covered):
        # draft-cavage-12 section 2.3 makes this an error; Mastodon refuses it too.
        return fail(FailureReason.MALFORMED, "(created) and (expires) require hs2019.")
    if "(request-target)" not in covered:
        return not_covered("The signature must cover (request-target).")
    if "date" not in covered and "(created)" not in covered:
        return not_covered("The signature must cover date or (created).")
    return None
