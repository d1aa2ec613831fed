"""HTTP Signatures: draft-cavage-12 as Mastodon speaks it, and RFC 9421; signing and verifying.

Pure protocol code: no I/O and no clock. Callers pass the time, the keys and the request parts;
every verification failure comes back as a SignatureFailure whose detail can go in a 401 response.

Verifying is two steps so the caller can fetch the key in between: parse_signature() reads the
signature headers, applies the coverage rules that need no body and builds the exact text that
was signed, so a request we would refuse costs no key fetch; verify() then checks that a body is
covered, the key type, freshness, the body digest and, last because it is the dearest, the
signature itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from enum import Enum
from typing import Literal, NoReturn, TypeAlias
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

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


def _fail(reason: FailureReason, detail: str) -> SignatureFailure:
    return SignatureFailure(reason, detail)


def _short(text: str, limit: int = 80) -> str:
    # Details echo request content back to the sender; keep them short.
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Headers, base64, dates, URLs


def _fold_headers(headers: Headers) -> dict[str, str]:
    """Lower-case the names; join repeated fields with ", " and trim values, as both specs say."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    folded: dict[str, list[str]] = {}
    for name, value in pairs:
        folded.setdefault(name.lower(), []).append(value.strip(" \t"))
    return {name: ", ".join(values) for name, values in folded.items()}


_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _b64decode(text: str) -> bytes | None:
    """Decode standard base64, or None; missing padding is tolerated (RFC 8941 section 4.2.7)."""
    if not _BASE64.fullmatch(text):
        return None
    bare = text.rstrip("=")
    if len(bare) % 4 == 1 or (bare != text and len(text) % 4):
        return None
    return base64.b64decode(bare + "=" * (-len(bare) % 4))


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encode(text: str) -> bytes:
    # Servers decode header bytes as Latin-1, so encoding back that way restores the wire bytes;
    # anything beyond Latin-1 can only have come from a decoded URL, which UTF-8 restores.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _require_aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _imf_fixdate(now: datetime) -> str:
    return format_datetime(_require_aware(now), usegmt=True)


def _parse_http_date(value: str) -> datetime | None:
    """Parse an HTTP date leniently (IMF-fixdate and its RFC 2822 cousins), or None."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an hour of 2147483648
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Target:
    scheme: str
    authority: str
    path: str
    query: str | None

    @property
    def request_target(self) -> str:
        return self.path if self.query is None else f"{self.path}?{self.query}"


_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _split_target(url: str) -> _Target:
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
    return _Target(scheme, authority, parts.path or "/", parts.query if has_query else None)


# ---------------------------------------------------------------------------------------------
# Structured Field Values (RFC 8941): the dictionary, inner list and parameters subset RFC 9421
# and RFC 9530 need, plus the serialisation of an inner list for "@signature-params".


@dataclass(frozen=True)
class _Token:
    value: str


_BareItem: TypeAlias = bool | int | Decimal | str | bytes | _Token


@dataclass(frozen=True)
class _Item:
    value: _BareItem
    params: dict[str, _BareItem] = field(default_factory=dict)


@dataclass(frozen=True)
class _InnerList:
    items: tuple[_Item, ...]
    params: dict[str, _BareItem] = field(default_factory=dict)


class _SyntaxError(Exception):
    """Unwinds the structured-field parser; caught in this module and turned into a failure."""


_SF_KEY = re.compile(r"[a-z*][a-z0-9_.*-]*")
_SF_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_SF_NUMBER = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?")
_SF_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")


class _SFParser:
    """A recursive-descent parser following RFC 8941 section 4.2 step by step."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str) -> NoReturn:
        raise _SyntaxError(f"{what} at character {self.pos + 1}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip(self, chars: str) -> None:
        while not self.at_end() and self.text[self.pos] in chars:
            self.pos += 1

    def dictionary(self) -> dict[str, _Item | _InnerList]:
        self.skip(" ")
        members: dict[str, _Item | _InnerList] = {}
        while not self.at_end():
            key = self.key()
            if self.peek() == "=":
                self.pos += 1
                members[key] = self.inner_list() if self.peek() == "(" else self.item()
            else:
                members[key] = _Item(True, self.params())
            self.skip(" \t")
            if self.at_end():
                break
            if self.peek() != ",":
                self.error("expected a comma")
            self.pos += 1
            self.skip(" \t")
            if self.at_end():
                self.error("trailing comma")
        return members

    def inner_list(self) -> _InnerList:
        self.pos += 1
        items: list[_Item] = []
        while not self.at_end():
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return _InnerList(tuple(items), self.params())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                self.error("expected a space or ')'")
        self.error("unterminated inner list")

    def item(self) -> _Item:
        return _Item(self.bare_item(), self.params())

    def params(self) -> dict[str, _BareItem]:
        params: dict[str, _BareItem] = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            key = self.key()
            value: _BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            params[key] = value
        return params

    def key(self) -> str:
        match = _SF_KEY.match(self.text, self.pos)
        if match is None:
            self.error("expected a key")
        self.pos = match.end()
        return match.group()

    def bare_item(self) -> _BareItem:
        char = self.peek()
        if char == "-" or char.isdigit():
            return self.number()
        if char == '"':
            return self.string()
        if char == ":":
            return self.byte_sequence()
        if char == "?":
            return self.boolean()
        if char == "*" or (char.isascii() and char.isalpha()):
            return self.token()
        self.error("expected an item")

    def number(self) -> int | Decimal:
        match = _SF_NUMBER.match(self.text, self.pos)
        if match is None:
            self.error("expected a number")
        whole, fraction = match.groups()
        if fraction is None and len(whole) > 15:
            self.error("integer too long")
        if fraction is not None and (len(whole) > 12 or len(fraction) > 3):
            self.error("decimal too long")
        self.pos = match.end()
        return int(match.group()) if fraction is None else Decimal(match.group())

    def string(self) -> str:
        self.pos += 1
        chars: list[str] = []
        while not self.at_end():
            char = self.text[self.pos]
            self.pos += 1
            if char == '"':
                return "".join(chars)
            if char == "\\":
                escaped = self.peek()
                if escaped not in ('"', "\\"):
                    self.error("bad escape in string")
                self.pos += 1
                chars.append(escaped)
            elif " " <= char <= "~":
                chars.append(char)
            else:
                self.error("invalid character in string")
        self.error("unterminated string")

    def token(self) -> _Token:
        match = _SF_TOKEN.match(self.text, self.pos)
        if match is None:
            self.error("expected a token")
        self.pos = match.end()
        return _Token(match.group())

    def byte_sequence(self) -> bytes:
        match = _SF_BYTES.match(self.text, self.pos)
        decoded = None if match is None else _b64decode(match.group(1))
        if match is None or decoded is None:
            self.error("invalid byte sequence")
        self.pos = match.end()
        return decoded

    def boolean(self) -> bool:
        value = self.text[self.pos + 1 : self.pos + 2]
        if value not in ("0", "1"):
            self.error("invalid boolean")
        self.pos += 2
        return value == "1"


def _parse_dictionary(text: str) -> dict[str, _Item | _InnerList] | None:
    try:
        return _SFParser(text).dictionary()
    except _SyntaxError:
        return None


def _serialize_bare(value: _BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        whole, _, fraction = format(value, "f").partition(".")
        return f"{whole}.{fraction.rstrip('0') or '0'}"
    if isinstance(value, _Token):
        return value.value
    if isinstance(value, bytes):
        return f":{_b64encode(value)}:"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _serialize_params(params: Mapping[str, _BareItem]) -> str:
    return "".join(
        f";{key}" if value is True else f";{key}={_serialize_bare(value)}"
        for key, value in params.items()
    )


def _serialize_inner_list(inner: _InnerList) -> str:
    items = " ".join(_serialize_bare(i.value) + _serialize_params(i.params) for i in inner.items)
    return f"({items}){_serialize_params(inner.params)}"


# ---------------------------------------------------------------------------------------------
# Digests


_DIGEST_HASHES = {"sha-256": "sha256", "sha-512": "sha512"}


def digest_header(body: bytes) -> str:
    """The Digest header value for a body: RFC 3230 `SHA-256=<base64>`, as Mastodon checks it."""
    return "SHA-256=" + _b64encode(hashlib.sha256(body).digest())


def content_digest_header(body: bytes) -> str:
    """The Content-Digest header value for a body (RFC 9530): `sha-256=:<base64>:`."""
    return f"sha-256=:{_b64encode(hashlib.sha256(body).digest())}:"


def _digest_matches(algorithm: str, given: bytes, body: bytes) -> bool:
    return hmac.compare_digest(given, hashlib.new(_DIGEST_HASHES[algorithm], body).digest())


def _check_rfc3230_digest(value: str, body: bytes) -> SignatureFailure | None:
    """Every SHA-256/SHA-512 member of a Digest header must match; at least one must be there."""
    checked = False
    for member in value.split(","):
        name, sep, encoded = member.strip().partition("=")
        if not sep:
            return _fail(FailureReason.MALFORMED, "The Digest header is not algorithm=value.")
        algorithm = name.strip().lower()
        if algorithm not in _DIGEST_HASHES:
            continue
        given = _b64decode(encoded.strip())
        if given is None:
            return _fail(FailureReason.MALFORMED, f"The Digest {algorithm} value is not base64.")
        if not _digest_matches(algorithm, given, body):
            return _fail(
                FailureReason.DIGEST_MISMATCH, f"The body does not match its Digest ({algorithm})."
            )
        checked = True
    return None if checked else _no_supported_digest("Digest")


def _check_content_digest(value: str, body: bytes) -> SignatureFailure | None:
    """Every sha-256/sha-512 member of Content-Digest must match; at least one must be there."""
    members = _parse_dictionary(value)
    if members is None:
        return _fail(FailureReason.MALFORMED, "The Content-Digest header is not a dictionary.")
    checked = False
    for algorithm, member in members.items():
        if algorithm not in _DIGEST_HASHES:
            continue
        if not isinstance(member, _Item) or not isinstance(member.value, bytes):
            return _fail(
                FailureReason.MALFORMED, f"The Content-Digest {algorithm} value is not bytes."
            )
        if not _digest_matches(algorithm, member.value, body):
            return _fail(
                FailureReason.DIGEST_MISMATCH,
                f"The body does not match its Content-Digest ({algorithm}).",
            )
        checked = True
    return None if checked else _no_supported_digest("Content-Digest")


def _no_supported_digest(header: str) -> SignatureFailure:
    return _fail(FailureReason.DIGEST_MISSING, f"The {header} header has no SHA-256 or SHA-512.")


# ---------------------------------------------------------------------------------------------
# Signing strings and bases, shared by signing and verifying


_BODY_DIGESTS = ("digest", "content-digest")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")


def _missing(name: str) -> SignatureFailure:
    """A covered header is absent; Date and the digests get their own reasons."""
    if name == "date":
        return _fail(FailureReason.DATE_MISSING, "The signature covers Date, which is missing.")
    if name in _BODY_DIGESTS:
        return _fail(
            FailureReason.DIGEST_MISSING, f"The signature covers {name}, which is missing."
        )
    return _fail(
        FailureReason.MISSING_COMPONENT,
        f"The signature covers {_short(name)}, which the request does not have.",
    )


def _line_value(name: str, value: str) -> str | SignatureFailure:
    # A line break inside a value would let one component forge the next line of the string.
    if "\n" in value or "\r" in value:
        return _fail(FailureReason.MALFORMED, f"The {_short(name)} value contains a line break.")
    return value


def _cavage_value(
    name: str, method: str, target: _Target, fields: Mapping[str, str], params: Mapping[str, str]
) -> str | SignatureFailure:
    """The value of one name in a cavage headers list: a pseudo-header or a header field."""
    if name == "(request-target)":
        return f"{method.lower()} {target.request_target}"
    if name in ("(created)", "(expires)"):
        value = params.get(name[1:-1])
        if value is None:
            return _fail(
                FailureReason.MALFORMED, f"The signature covers {name} but has no such parameter."
            )
        return value
    if name.startswith("("):
        return _fail(
            FailureReason.UNSUPPORTED_COMPONENT, f"The pseudo-header {_short(name)} is unknown."
        )
    value = fields.get(name)
    return _missing(name) if value is None else _line_value(name, value)


def _cavage_string(
    covered: Sequence[str],
    method: str,
    target: _Target,
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


_DERIVED = ("@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query")


def _derived_value(name: str, method: str, url: str, target: _Target) -> str | SignatureFailure:
    """An RFC 9421 derived component (section 2.2) of a request."""
    if name in ("@target-uri", "@authority", "@scheme") and not (
        target.scheme and target.authority
    ):
        return _fail(FailureReason.MISSING_COMPONENT, "The request URL is not absolute.")
    values = {
        "@method": method,
        "@target-uri": url,
        "@authority": target.authority,
        "@scheme": target.scheme,
        "@request-target": target.request_target,
        "@path": target.path,
        "@query": "?" + (target.query or ""),
    }
    return _line_value(name, values[name])


def _rfc9421_base(
    components: Sequence[str],
    signature_params: str,
    method: str,
    url: str,
    fields: Mapping[str, str],
) -> str | SignatureFailure:
    """The RFC 9421 signature base (section 2.5): `"name": value` lines, then @signature-params."""
    target = _split_target(url)
    lines = []
    for name in components:
        if name.startswith("@"):
            value = _derived_value(name, method, url, target)
        else:
            header = fields.get(name)
            value = _missing(name) if header is None else _line_value(name, header)
        if isinstance(value, SignatureFailure):
            return value
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {signature_params}')
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Signing


def _sign_bytes(key: SigningKey, data: bytes) -> bytes:
    if isinstance(key.private_key, rsa.RSAPrivateKey):
        return key.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.private_key.sign(data)


def _merged(headers: Headers, added: Mapping[str, str]) -> dict[str, str]:
    # The headers we add replace the caller's, as they will on the wire.
    return _fold_headers(headers) | {name.lower(): value for name, value in added.items()}


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
    target = _split_target(url)
    added = {"Date": _imf_fixdate(now), "Host": target.authority}
    if body is not None:
        added["Digest"] = digest_header(body)
    fields = _merged(headers, added)
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
    signature = _b64encode(_sign_bytes(key, _encode(text)))
    algorithm = "rsa-sha256" if isinstance(key.private_key, rsa.RSAPrivateKey) else "hs2019"
    added["Signature"] = (
        f"keyId={_quoted(key.key_id)},algorithm={_quoted(algorithm)},"
        f"headers={_quoted(' '.join(covered))},signature={_quoted(signature)}"
    )
    return added


def sign_rfc9421(
    method: str,
    url: str,
    headers: Headers,
    body: bytes | None,
    key: SigningKey,
    now: datetime,
    label: str = "sig1",
    *,
    components: Sequence[str] | None = None,
) -> dict[str, str]:
    """Sign a request per RFC 9421; return the headers to add.

    Adds Content-Digest when there is a body, Signature-Input and Signature. The covered
    components are ("@method" "@target-uri" "content-digest") with a body, else ("@method"
    "@target-uri"); `components` overrides them. Parameters are created and keyid only: alg is
    left out, as Mastodon infers it from the key (rsa-v1_5-sha256 for RSA, ed25519 for Ed25519).
    Raises ValueError for a naive `now`, a bad label or an absent covered component.
    """
    if not _SF_KEY.fullmatch(label):
        raise ValueError(f"invalid signature label {label!r}")
    added = {} if body is None else {"Content-Digest": content_digest_header(body)}
    fields = _merged(headers, added)
    if components is not None:
        covered = tuple(components)
    elif body is not None:
        covered = ("@method", "@target-uri", "content-digest")
    else:
        covered = ("@method", "@target-uri")
    created = int(_require_aware(now).timestamp())
    params: dict[str, _BareItem] = {"created": created, "keyid": key.key_id}
    signature_params = _serialize_inner_list(_InnerList(tuple(_Item(c) for c in covered), params))
    base = _rfc9421_base(covered, signature_params, method.upper(), url, fields)
    if isinstance(base, SignatureFailure):
        raise ValueError(base.detail)
    signature = _b64encode(_sign_bytes(key, _encode(base)))
    added["Signature-Input"] = f"{label}={signature_params}"
    added["Signature"] = f"{label}=:{signature}:"
    return added


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_signature(
    method: str, url: str, headers: Headers, *, label: str | None = None
) -> ParsedSignature | SignatureFailure:
    """Read the request's signature and build the text it signed, without any key yet.

    RFC 9421 (Signature-Input + Signature) is preferred when present; otherwise a draft-cavage
    Signature header, or `Authorization: Signature ...`. Coverage rules that do not depend on the
    body are enforced here, so a request we would refuse costs no key fetch. Of several RFC 9421
    signatures the first whose algorithm we support is taken, unless `label` picks one.
    """
    fields = _fold_headers(headers)
    if "signature-input" in fields:
        return _parse_rfc9421(method, url, fields, label)
    raw = fields.get("signature")
    if raw is None:
        scheme, _, rest = fields.get("authorization", "").partition(" ")
        raw = rest if scheme.lower() == "signature" else None
    if raw is None:
        return _fail(FailureReason.MISSING_SIGNATURE, "The request has no HTTP signature.")
    return _parse_cavage(method, url, fields, raw)


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


def _parse_cavage(
    method: str, url: str, fields: Mapping[str, str], raw: str
) -> ParsedSignature | SignatureFailure:
    params = _parse_cavage_params(raw)
    if params is None:
        return _fail(FailureReason.MALFORMED, "The Signature header is not a list of name=value.")
    key_id, encoded = params.get("keyid"), params.get("signature")
    if not key_id or encoded is None:
        return _fail(FailureReason.MALFORMED, "The signature lacks keyId or signature.")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in _CAVAGE_ALGORITHMS:
        return _fail(
            FailureReason.UNSUPPORTED_ALGORITHM,
            f"The algorithm {_short(algorithm)} is not supported; use rsa-sha256 or hs2019.",
        )
    signature = _b64decode(encoded)
    if signature is None:
        return _fail(FailureReason.MALFORMED, "The signature value is not base64.")
    times: dict[str, int] = {}
    for name in ("created", "expires"):
        if name in params:
            if not _CAVAGE_TIME.fullmatch(params[name]):
                return _fail(FailureReason.MALFORMED, f"The {name} parameter is not a timestamp.")
            times[name] = int(params[name].partition(".")[0])
    # Mastodon's default, and that of the drafts before 11 (12 says "(created)").
    covered = tuple(params.get("headers", "date").lower().split())
    failure = _cavage_policy(covered, algorithm)
    if failure is not None:
        return failure
    text = _cavage_string(covered, method, _split_target(url), fields, params)
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
        return _fail(FailureReason.MALFORMED, "The headers parameter is empty.")
    if algorithm != "hs2019" and ("(created)" in covered or "(expires)" in covered):
        # draft-cavage-12 section 2.3 makes this an error; Mastodon refuses it too.
        return _fail(FailureReason.MALFORMED, "(created) and (expires) require hs2019.")
    if "(request-target)" not in covered:
        return _not_covered("The signature must cover (request-target).")
    if "date" not in covered and "(created)" not in covered:
        return _not_covered("The signature must cover date or (created).")
    return None


def _not_covered(detail: str) -> SignatureFailure:
    return _fail(FailureReason.REQUIRED_COMPONENT_NOT_COVERED, detail)


_RFC9421_ALGORITHMS = ("rsa-v1_5-sha256", "ed25519")


def _parse_rfc9421(
    method: str, url: str, fields: Mapping[str, str], label: str | None
) -> ParsedSignature | SignatureFailure:
    inputs = _parse_dictionary(fields["signature-input"])
    signatures = _parse_dictionary(fields.get("signature", ""))
    if inputs is None or signatures is None:
        return _fail(
            FailureReason.MALFORMED, "Signature-Input or Signature is not a valid dictionary."
        )
    chosen = _choose_signature(inputs, signatures, label)
    if isinstance(chosen, SignatureFailure):
        return chosen
    name, inner, signature = chosen
    components = _rfc9421_components(inner)
    if isinstance(components, SignatureFailure):
        return components
    params = _rfc9421_params(inner)
    if isinstance(params, SignatureFailure):
        return params
    key_id, algorithm, created, expires = params
    failure = _rfc9421_policy(components)
    if failure is not None:
        return failure
    base = _rfc9421_base(components, _serialize_inner_list(inner), method, url, fields)
    if isinstance(base, SignatureFailure):
        return base
    return ParsedSignature(
        scheme="rfc9421",
        key_id=key_id,
        algorithm=algorithm,
        components=components,
        created=created,
        expires=expires,
        signature=signature,
        signing_string=base,
        label=name,
    )


def _choose_signature(
    inputs: Mapping[str, _Item | _InnerList],
    signatures: Mapping[str, _Item | _InnerList],
    label: str | None,
) -> tuple[str, _InnerList, bytes] | SignatureFailure:
    """The requested signature, or the first whose algorithm is supported or left to the key."""
    if label is not None and label not in inputs:
        return _fail(FailureReason.MISSING_SIGNATURE, f"No signature is labelled {_short(label)}.")
    unsupported = False
    for name in [label] if label is not None else list(inputs):
        inner, value = inputs[name], signatures.get(name)
        if not isinstance(inner, _InnerList):
            continue
        alg = inner.params.get("alg")
        if alg is not None and alg not in _RFC9421_ALGORITHMS:
            unsupported = True
            continue
        if isinstance(value, _Item) and isinstance(value.value, bytes):
            return name, inner, value.value
    if unsupported:
        return _fail(
            FailureReason.UNSUPPORTED_ALGORITHM,
            "No signature uses rsa-v1_5-sha256 or ed25519.",
        )
    return _fail(FailureReason.MALFORMED, "No Signature-Input entry has a matching Signature.")


def _rfc9421_components(inner: _InnerList) -> tuple[str, ...] | SignatureFailure:
    """The covered component names, checked: strings, known, lower-case, unparameterised, once."""
    names: list[str] = []
    for item in inner.items:
        name = item.value
        if not isinstance(name, str):
            return _fail(FailureReason.MALFORMED, "A covered component is not a string.")
        if item.params or (name.startswith("@") and name not in _DERIVED):
            return _fail(
                FailureReason.UNSUPPORTED_COMPONENT,
                f"The component {_short(name + _serialize_params(item.params))} is not supported.",
            )
        if not name.startswith("@") and not _HEADER_NAME.fullmatch(name):
            return _fail(FailureReason.MALFORMED, f"{_short(name)} is not a lower-case field name.")
        if name in names:
            return _fail(FailureReason.MALFORMED, f"The component {_short(name)} is repeated.")
        names.append(name)
    return tuple(names)


def _rfc9421_params(
    inner: _InnerList,
) -> tuple[str, str | None, int, int | None] | SignatureFailure:
    """keyid, alg, created and expires, type-checked; created is required."""
    params = inner.params
    key_id, alg = params.get("keyid"), params.get("alg")
    created, expires = params.get("created"), params.get("expires")
    if not isinstance(key_id, str) or not key_id:
        return _fail(FailureReason.MALFORMED, "The signature has no keyid string.")
    if created is None:
        return _not_covered("The signature has no created parameter.")
    # bool is an int subclass in Python, but ?1 is no timestamp.
    if not isinstance(created, int) or isinstance(created, bool):
        return _fail(FailureReason.MALFORMED, "The created parameter is not an integer.")
    if expires is not None and (not isinstance(expires, int) or isinstance(expires, bool)):
        return _fail(FailureReason.MALFORMED, "The expires parameter is not an integer.")
    return key_id, alg if isinstance(alg, str) else None, created, expires


def _rfc9421_policy(components: Sequence[str]) -> SignatureFailure | None:
    """An RFC 9421 signature must bind the method and the target."""
    if "@method" not in components:
        return _not_covered("The signature must cover @method.")
    if not {"@target-uri", "@request-target", "@path"} & set(components):
        return _not_covered("The signature must cover @target-uri, @request-target or @path.")
    return None


# ---------------------------------------------------------------------------------------------
# Verifying


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
    fields = _fold_headers(headers)
    # Each check gives None or a failure, and `or` stops at the first failure: the cheap checks
    # run first and the public-key operation only for a request that passed all of them.
    return (
        _check_authority(parsed, fields, authority)
        or _check_body_covered(parsed, method, body)
        or _check_key_type(parsed, public_key)
        or _check_freshness(parsed, fields, _require_aware(now), max_skew)
        or _check_digests(parsed, fields, body or b"")
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
    return _check_authority(parsed, _fold_headers(headers), authority)


def _check_authority(
    parsed: ParsedSignature, fields: Mapping[str, str], authority: str
) -> SignatureFailure | None:
    expected = _normal_authority(authority)
    if parsed.scheme == "cavage":
        if "host" not in parsed.components:
            return _not_covered("The signature must cover host.")
        # The signing string took the value of the Host header itself: that is what was signed.
        signed = [fields.get("host", "")]
    else:
        signed = []
        named = _signed_component(parsed, "@authority")
        if named is not None:
            signed.append(named)
        target = _signed_component(parsed, "@target-uri")
        if target is not None:
            signed.append(_split_target(target).authority)
        if not signed:
            return _not_covered("The signature must cover @authority or @target-uri.")
    for value in signed:
        if _normal_authority(value) != expected:
            return _fail(
                FailureReason.WRONG_AUTHORITY,
                f"The signature is for {_short(value) or 'no host'}, not for {expected}.",
            )
    return None


def _signed_component(parsed: ParsedSignature, name: str) -> str | None:
    """The value an RFC 9421 signature base gave a covered component, or None if not covered.

    Every component line of a base is free of line breaks (_line_value refuses them), so line
    i of the base is component i.
    """
    if name not in parsed.components:
        return None
    line = parsed.signing_string.split("\n")[parsed.components.index(name)]
    prefix = f'"{name}": '
    return line[len(prefix) :] if line.startswith(prefix) else None


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
    if body and not set(_BODY_DIGESTS) & set(parsed.components):
        header = "digest" if parsed.scheme == "cavage" else "content-digest"
        return _not_covered(f"A {method.upper()} with a body must sign {header}.")
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
    return _fail(FailureReason.KEY_TYPE_MISMATCH, f"The signature needs {wanted} key.")


def _check_freshness(
    parsed: ParsedSignature, fields: Mapping[str, str], now: datetime, max_skew: timedelta
) -> SignatureFailure | None:
    # Compared as seconds: a created of 10**15 must fail, not overflow datetime.
    now_ts, skew = now.timestamp(), max_skew.total_seconds()
    if parsed.expires is not None and now_ts > parsed.expires:
        return _fail(FailureReason.EXPIRED, "The signature has expired.")
    if parsed.created is not None and abs(now_ts - parsed.created) > skew:
        return _fail(FailureReason.CLOCK_SKEW, "The signature creation time is too far from now.")
    if "date" in parsed.components:
        raw = fields.get("date")
        if raw is None:
            return _missing("date")
        date = _parse_http_date(raw)
        if date is None:
            return _fail(FailureReason.INVALID_DATE, "The Date header is not an HTTP date.")
        if abs(now_ts - date.timestamp()) > skew:
            return _fail(FailureReason.CLOCK_SKEW, "The Date header is too far from now.")
    return None


def _check_digests(
    parsed: ParsedSignature, fields: Mapping[str, str], body: bytes
) -> SignatureFailure | None:
    """Check each covered digest header against the body."""
    checkers = (("digest", _check_rfc3230_digest), ("content-digest", _check_content_digest))
    for name, check in checkers:
        if name in parsed.components:
            value = fields.get(name)
            failure = _missing(name) if value is None else check(value, body)
            if failure is not None:
                return failure
    return None


def _check_signature(parsed: ParsedSignature, key: PublicKeyTypes) -> SignatureFailure | None:
    data = _encode(parsed.signing_string)
    try:
        if isinstance(key, rsa.RSAPublicKey):
            # rsa-sha256, hs2019 with an RSA key (as Mastodon) and rsa-v1_5-sha256 alike.
            key.verify(parsed.signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(parsed.signature, data)
        else:
            return _check_key_type(parsed, key)
    except InvalidSignature:
        return _fail(FailureReason.BAD_SIGNATURE, "The signature does not match the request.")
    return None
