"""RFC 9421 HTTP message signatures: the signature base, signing and reading Signature-Input and
Signature."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from fedicity.activitypub.httpsig.digests import content_digest_header
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
from fedicity.activitypub.httpsig.structured import (
    SF_KEY,
    BareItem,
    InnerList,
    Item,
    parse_dictionary,
    serialize_inner_list,
    serialize_params,
)
from fedicity.activitypub.httpsig.wire import (
    Target,
    b64encode,
    encode,
    line_value,
    merged,
    require_aware,
    sign_bytes,
    split_target,
)

_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")

_RFC9421_ALGORITHMS = ("rsa-v1_5-sha256", "ed25519")


_DERIVED = ("@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query")


def _derived_value(name: str, method: str, url: str, target: Target) -> str | SignatureFailure:
    """An RFC 9421 derived component (section 2.2) of a request."""
    if name in ("@target-uri", "@authority", "@scheme") and not (
        target.scheme and target.authority
    ):
        return fail(FailureReason.MISSING_COMPONENT, "The request URL is not absolute.")
    values = {
        "@method": method,
        "@target-uri": url,
        "@authority": target.authority,
        "@scheme": target.scheme,
        "@request-target": target.request_target,
        "@path": target.path,
        "@query": "?" + (target.query or ""),
    }
    return line_value(name, values[name])


def _rfc9421_base(
    components: Sequence[str],
    signature_params: str,
    method: str,
    url: str,
    fields: Mapping[str, str],
) -> str | SignatureFailure:
    """The RFC 9421 signature base (section 2.5): `"name": value` lines, then @signature-params."""
    target = split_target(url)
    lines = []
    for name in components:
        if name.startswith("@"):
            value = _derived_value(name, method, url, target)
        else:
            header = fields.get(name)
            value = missing(name) if header is None else line_value(name, header)
        if isinstance(value, SignatureFailure):
            return value
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {signature_params}')
    return "\n".join(lines)


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
    if not SF_KEY.fullmatch(label):
        raise ValueError(f"invalid signature label {label!r}")
    added = {} if body is None else {"Content-Digest": content_digest_header(body)}
    fields = merged(headers, added)
    if components is not None:
        covered = tuple(components)
    elif body is not None:
        covered = ("@method", "@target-uri", "content-digest")
    else:
        covered = ("@method", "@target-uri")
    created = int(require_aware(now).timestamp())
    params: dict[str, BareItem] = {"created": created, "keyid": key.key_id}
    signature_params = serialize_inner_list(InnerList(tuple(Item(c) for c in covered), params))
    base = _rfc9421_base(covered, signature_params, method.upper(), url, fields)
    if isinstance(base, SignatureFailure):
        raise ValueError(base.detail)
    signature = b64encode(sign_bytes(key, encode(base)))
    added["Signature-Input"] = f"{label}={signature_params}"
    added["Signature"] = f"{label}=:{signature}:"
    return added


def parse_rfc9421(
    method: str, url: str, fields: Mapping[str, str], label: str | None
) -> ParsedSignature | SignatureFailure:
    inputs = parse_dictionary(fields["signature-input"])
    signatures = parse_dictionary(fields.get("signature", ""))
    if inputs is None or signatures is None:
        return fail(
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
    base = _rfc9421_base(components, serialize_inner_list(inner), method, url, fields)
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
    inputs: Mapping[str, Item | InnerList],
    signatures: Mapping[str, Item | InnerList],
    label: str | None,
) -> tuple[str, InnerList, bytes] | SignatureFailure:
    """The requested signature, or the first whose algorithm is supported or left to the key."""
    if label is not None and label not in inputs:
        return fail(FailureReason.MISSING_SIGNATURE, f"No signature is labelled {short(label)}.")
    unsupported = False
    for name in [label] if label is not None else list(inputs):
        inner, value = inputs[name], signatures.get(name)
        if not isinstance(inner, InnerList):
            continue
        alg = inner.params.get("alg")
        if alg is not None and alg not in _RFC9421_ALGORITHMS:
            unsupported = True
            continue
        if isinstance(value, Item) and isinstance(value.value, bytes):
            return name, inner, value.value
    if unsupported:
        return fail(
            FailureReason.UNSUPPORTED_ALGORITHM,
            "No signature uses rsa-v1_5-sha256 or ed25519.",
        )
    return fail(FailureReason.MALFORMED, "No Signature-Input entry has a matching Signature.")


def _rfc9421_components(inner: InnerList) -> tuple[str, ...] | SignatureFailure:
    """The covered component names, checked: strings, known, lower-case, unparameterised, once."""
    names: list[str] = []
    for item in inner.items:
        name = item.value
        if not isinstance(name, str):
            return fail(FailureReason.MALFORMED, "A covered component is not a string.")
        if item.params or (name.startswith("@") and name not in _DERIVED):
            return fail(
                FailureReason.UNSUPPORTED_COMPONENT,
                f"The component {short(name + serialize_params(item.params))} is not supported.",
            )
        if not name.startswith("@") and not _HEADER_NAME.fullmatch(name):
            return fail(FailureReason.MALFORMED, f"{short(name)} is not a lower-case field name.")
        if name in names:
            return fail(FailureReason.MALFORMED, f"The component {short(name)} is repeated.")
        names.append(name)
    return tuple(names)


def _rfc9421_params(
    inner: InnerList,
) -> tuple[str, str | None, int, int | None] | SignatureFailure:
    """keyid, alg, created and expires, type-checked; created is required."""
    params = inner.params
    key_id, alg = params.get("keyid"), params.get("alg")
    created, expires = params.get("created"), params.get("expires")
    if not isinstance(key_id, str) or not key_id:
        return fail(FailureReason.MALFORMED, "The signature has no keyid string.")
    if created is None:
        return not_covered("The signature has no created parameter.")
    # bool is an int subclass in Python, but ?1 is no timestamp.
    if not isinstance(created, int) or isinstance(created, bool):
        return fail(FailureReason.MALFORMED, "The created parameter is not an integer.")
    if expires is not None and (not isinstance(expires, int) or isinstance(expires, bool)):
        return fail(FailureReason.MALFORMED, "The expires parameter is not an integer.")
    return key_id, alg if isinstance(alg, str) else None, created, expires


def _rfc9421_policy(components: Sequence[str]) -> SignatureFailure | None:
    """An RFC 9421 signature must bind the method and the target."""
    if "@method" not in components:
        return not_covered("The signature must cover @method.")
    if not {"@target-uri", "@request-target", "@path"} & set(components):
        return not_covered("The signature must cover @target-uri, @request-target or @path.")
    return None


def signed_component(parsed: ParsedSignature, name: str) -> str | None:
    """The value an RFC 9421 signature base gave a covered component, or None if not covered.

    Every component line of a base is free of line breaks (_line_value refuses them), so line
    i of the base is component i.
    """
    if name not in parsed.components:
        return None
    line = parsed.signing_string.split("\n")[parsed.components.index(name)]
    prefix = f'"{name}": '
    return line[len(prefix) :] if line.startswith(prefix) else None
