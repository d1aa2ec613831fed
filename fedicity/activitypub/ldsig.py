"""Linked Data signatures (RsaSignature2017), as Mastodon makes and checks them.

Mastodon signs a public activity with its author's key inside the document (`signature`), so a
server that forwards it (a reply, to the followers of the thread) passes on content the author
vouches for. The signed text is two SHA-256 hex digests end to end: of the signature options
(the `signature` object without `type`, `id` and `signatureValue`, under the identity/v1 context)
and of the document without `signature`, each normalised to N-Quads with URDNA2015. The
signature is RSA-SHA256 PKCS#1 v1.5 over that text, base64 in `signatureValue`.

Pure: the key and the JSON-LD document loader are arguments. `offline_loader` serves the bundled
contexts in `contexts/` and refuses any other URL: a document naming a context we do not have
fails with a reason, nothing is ever fetched. Failures are values (`LdFailure`), never raised.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from pyld import jsonld

SIGNATURE_TYPE: Final = "RsaSignature2017"
IDENTITY_CONTEXT: Final = "https://w3id.org/identity/v1"

# Bounds on what is normalised, so one relayed activity costs the worker milliseconds, not
# seconds (bench/ldsig.py). pyld adds each value of a node's property after comparing it with
# the ones already there: n values cost n(n-1)/2 comparisons (~0.6 us each), and 2,000 IRIs
# under one property take a second. Values meet under one property from one array, from several
# keys a context maps to the same IRI, from `@nest`, `@reverse`, or objects sharing an id, so
# they are counted on the expanded document, and the comparisons summed over every property
# (MAX_COMPARISONS: ~12 ms). The rest costs ~40 us per value (MAX_VALUES: ~40 ms); the largest
# recorded activity has 67, Mastodon's notes a few dozen. URDNA2015 grows worse than linearly
# with blank nodes that look alike (the "poison graph" of the RDF canonicalisation spec): a
# signed note has a handful (tags, attachments, the replies page). Blank node labels (`_:x`)
# written by the sender are refused: only they can tie blank nodes into the cycles that make
# the algorithm exponential.
MAX_VALUES: Final = 1000
MAX_COMPARISONS: Final = 20_000
MAX_BLANK_NODES: Final = 200
MAX_DEPTH: Final = 32
MAX_OPTIONS: Final = 8

DocumentLoader = Callable[[str, Mapping[str, Any]], dict[str, Any]]

_CONTEXTS_DIR: Final = Path(__file__).parent / "contexts"
# Context URL -> bundled file. The http:// spellings are the same documents: peers use both.
BUNDLED_CONTEXTS: Final[Mapping[str, str]] = {
    "https://www.w3.org/ns/activitystreams": "activitystreams.jsonld",
    "http://www.w3.org/ns/activitystreams": "activitystreams.jsonld",
    "https://www.w3.org/ns/activitystreams.jsonld": "activitystreams.jsonld",
    "https://w3id.org/security/v1": "security-v1.jsonld",
    "http://w3id.org/security/v1": "security-v1.jsonld",
    "https://w3id.org/identity/v1": "identity-v1.jsonld",
    "http://w3id.org/identity/v1": "identity-v1.jsonld",
    "https://w3id.org/security/data-integrity/v1": "security-data-integrity-v1.jsonld",
    "https://w3id.org/security/multikey/v1": "security-multikey-v1.jsonld",
    "https://fedicity.org/ns": "fedicity.jsonld",
}


class LdFailureReason(enum.StrEnum):
    """Why a Linked Data signature was not accepted (the value is the reason code)."""

    NO_SIGNATURE = "ld_no_signature"
    UNSUPPORTED_TYPE = "ld_unsupported_type"
    MALFORMED = "ld_malformed_signature"
    BAD_SIGNATURE_VALUE = "ld_bad_signature_value"
    TOO_LARGE = "ld_too_large"
    TOO_DEEP = "ld_too_deep"
    BLANK_NODE_LABELS = "ld_blank_node_labels"
    UNKNOWN_CONTEXT = "ld_unknown_context"
    NOT_JSON_LD = "ld_not_json_ld"
    KEY_TYPE_MISMATCH = "ld_key_type_mismatch"
    UNSIGNED_TERMS = "ld_unsigned_terms"
    BAD_SIGNATURE = "ld_bad_signature"


@dataclass(frozen=True)
class LdFailure:
    """A Linked Data signature that was not accepted, and why."""

    reason: LdFailureReason
    detail: str


@dataclass(frozen=True)
class LdSignature:
    """The parts of an RsaSignature2017 a verifier needs before any JSON-LD work."""

    creator: str
    signature_value: bytes
    options: dict[str, Any]


class UnknownContext(jsonld.JsonLdError):  # type: ignore[misc]
    """A context URL that is not bundled: refused, never fetched."""


def offline_loader(extra: Mapping[str, Mapping[str, Any]] | None = None) -> DocumentLoader:
    """A pyld document loader serving only the bundled contexts (and `extra`, for tests)."""
    documents: dict[str, dict[str, Any]] = {}
    for url, name in BUNDLED_CONTEXTS.items():
        documents[url] = json.loads((_CONTEXTS_DIR / name).read_text(encoding="utf-8"))
    for url, document in (extra or {}).items():
        documents[url] = dict(document)

    def load(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        document = documents.get(url)
        if document is None:
            raise UnknownContext(
                f"the context {url[:200]!r} is not bundled", "jsonld.LoadDocumentError"
            )
        return {"contextUrl": None, "documentUrl": url, "document": document}

    return load


def signature_of(document: Mapping[str, Any]) -> LdSignature | LdFailure:
    """The document's RsaSignature2017, parsed; cheap (no JSON-LD), for deciding what to do."""
    signature = document.get("signature")
    if signature is None:
        return LdFailure(LdFailureReason.NO_SIGNATURE, "the document has no signature")
    if not isinstance(signature, Mapping):
        return LdFailure(LdFailureReason.MALFORMED, "the signature is not an object")
    kind = signature.get("type")
    if kind != SIGNATURE_TYPE:
        return LdFailure(
            LdFailureReason.UNSUPPORTED_TYPE, f"the signature type is {str(kind)[:100]!r}"
        )
    creator = signature.get("creator")
    value = signature.get("signatureValue")
    if not isinstance(creator, str) or not creator.startswith(("https://", "http://")):
        return LdFailure(LdFailureReason.MALFORMED, "the signature has no http(s) creator")
    if not isinstance(value, str):
        return LdFailure(LdFailureReason.MALFORMED, "the signature has no signatureValue")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return LdFailure(LdFailureReason.BAD_SIGNATURE_VALUE, "the signatureValue is not base64")
    # As Mastodon: everything but type, id and signatureValue is signed, under identity/v1.
    options = {k: v for k, v in signature.items() if k not in ("type", "id", "signatureValue")}
    # Signers write creator and created, perhaps a nonce or domain: plain values, a few. Anything
    # more would be normalised unbounded (the document's limits do not cover the signature).
    if len(options) > MAX_OPTIONS or not all(
        isinstance(v, str | int | float | bool) and len(str(v)) <= 2048 for v in options.values()
    ):
        return LdFailure(LdFailureReason.MALFORMED, "the signature's options are not plain values")
    options["@context"] = IDENTITY_CONTEXT
    return LdSignature(creator=creator, signature_value=raw, options=options)


def verify(
    document: Mapping[str, Any], public_key: PublicKeyTypes, *, loader: DocumentLoader
) -> LdSignature | LdFailure:
    """Check the document's RsaSignature2017 with the creator's public key: the signature
    when it holds, else why not. Whose key it is (the creator, the actor) is the caller's."""
    signature = signature_of(document)
    if isinstance(signature, LdFailure):
        return signature
    if not isinstance(public_key, rsa.RSAPublicKey):
        return LdFailure(LdFailureReason.KEY_TYPE_MISMATCH, "RsaSignature2017 needs an RSA key")
    message = _signed_text(signature.options, document, loader, covered_only=True)
    if isinstance(message, LdFailure):
        return message
    try:
        public_key.verify(signature.signature_value, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return LdFailure(LdFailureReason.BAD_SIGNATURE, "the signature does not match")
    return signature


def sign(
    document: Mapping[str, Any],
    private_key: rsa.RSAPrivateKey,
    *,
    creator: str,
    created: str,
    loader: DocumentLoader,
) -> dict[str, Any] | LdFailure:
    """The document with an RsaSignature2017 by `creator` (a key id) made at `created`."""
    options: dict[str, Any] = {"@context": IDENTITY_CONTEXT, "creator": creator, "created": created}
    message = _signed_text(options, document, loader)
    if isinstance(message, LdFailure):
        return message
    value = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    signature = {
        "type": SIGNATURE_TYPE,
        "creator": creator,
        "created": created,
        "signatureValue": base64.b64encode(value).decode("ascii"),
    }
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    return {**unsigned, "signature": signature}


def _signed_text(
    options: Mapping[str, Any],
    document: Mapping[str, Any],
    loader: DocumentLoader,
    *,
    covered_only: bool = False,
) -> bytes | LdFailure:
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    bounded = _check_bounds(unsigned)
    if bounded is not None:
        return bounded
    expanded = _expand(unsigned, loader)
    if isinstance(expanded, LdFailure):
        return expanded
    crowded = _crowded_property(expanded)
    if crowded is not None:
        return crowded
    if covered_only:
        uncovered = _uncovered_term(expanded)
        if uncovered is not None:
            return uncovered
    options_hash = _hash(options, loader)
    if isinstance(options_hash, LdFailure):
        return options_hash
    # The expanded form normalises to the same N-Quads, and re-expands faster (no contexts).
    document_hash = _hash(expanded, loader)
    if isinstance(document_hash, LdFailure):
        return document_hash
    return (options_hash + document_hash).encode("ascii")


def _expand(value: Mapping[str, Any], loader: DocumentLoader) -> list[Any] | LdFailure:
    expanded = _pyld(jsonld.expand, dict(value), {"documentLoader": loader})
    if isinstance(expanded, LdFailure):
        return expanded
    if not isinstance(expanded, list):
        return LdFailure(LdFailureReason.NOT_JSON_LD, "expansion gave no list of nodes")
    return expanded


def _hash(value: Mapping[str, Any] | list[Any], loader: DocumentLoader) -> str | LdFailure:
    options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader}
    nquads = _pyld(jsonld.normalize, value, options)
    if isinstance(nquads, LdFailure):
        return nquads
    if not isinstance(nquads, str):
        return LdFailure(LdFailureReason.NOT_JSON_LD, "normalisation gave no N-Quads")
    # surrogatepass: a lone surrogate cannot come through our JSON loader, but this module is
    # also handed documents built in memory.
    return hashlib.sha256(nquads.encode("utf-8", "surrogatepass")).hexdigest()


def _pyld(operation: Callable[..., Any], value: Any, options: dict[str, Any]) -> Any:
    """Run one pyld operation; its errors as a failure with a reason."""
    try:
        return operation(value, options)
    except jsonld.JsonLdError as error:
        unknown = _unknown_context(error)
        if unknown is not None:
            return LdFailure(LdFailureReason.UNKNOWN_CONTEXT, unknown)
        return LdFailure(LdFailureReason.NOT_JSON_LD, _first_lines(error))
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as error:
        # pyld walks what it is given with few type checks: a value of an unexpected shape
        # surfaces as one of these rather than a JsonLdError.
        return LdFailure(LdFailureReason.NOT_JSON_LD, f"{type(error).__name__}: {error}"[:300])


def _crowded_property(expanded: list[Any]) -> LdFailure | None:
    """Refuse when pyld's node map would compare more than MAX_COMPARISONS pairs of values:
    counted per property of each node, nodes with the same id merged, as pyld merges them."""
    counts: dict[tuple[str, str], int] = {}
    comparisons = 0
    anonymous = 0
    stack: list[Any] = list(expanded)
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
            continue
        if not isinstance(value, dict):
            continue
        node = value.get("@id")
        if not isinstance(node, str):
            anonymous += 1
            node = f"_:{anonymous}"
        for key, item in value.items():
            if key == "@id":
                continue
            items = item if isinstance(item, list) else [item]
            before = counts.get((node, key), 0)
            # Each new value is compared with those already under the property.
            comparisons += sum(range(before, before + len(items)))
            if comparisons > MAX_COMPARISONS:
                return LdFailure(
                    LdFailureReason.TOO_LARGE,
                    f"too many values under one property to compare ({key[:100]})",
                )
            counts[(node, key)] = before + len(items)
            stack.extend(items)
    return None


def _uncovered_term(expanded: list[Any]) -> LdFailure | None:
    """Refuse a document with a property or type no context defines: the ActivityStreams
    context maps such terms to blank nodes (@vocab "_:"), which normalisation drops or renames,
    so the signature does not cover them and whoever relays the document may add or change
    them. A document the signature covers only in part is not vouched for."""
    stack: list[Any] = list(expanded)
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key.startswith("_:"):
                    return LdFailure(LdFailureReason.UNSIGNED_TERMS, f"undefined term {key[2:102]}")
                if key == "@type":
                    types = item if isinstance(item, list) else [item]
                    for kind in types:
                        if isinstance(kind, str) and kind.startswith("_:"):
                            return LdFailure(
                                LdFailureReason.UNSIGNED_TERMS, f"undefined type {kind[2:102]}"
                            )
                elif key != "@value":
                    stack.append(item)
    return None


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 20:
        chain.append(current)
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else current.__cause__
    return chain


def _unknown_context(error: BaseException) -> str | None:
    """The refusal of our loader behind pyld's wrapping errors, if that is what failed."""
    for link in _causes(error):
        if isinstance(link, UnknownContext):
            return str(link.args[0]) if link.args else "a context is not bundled"
    return None


def _first_lines(error: BaseException) -> str:
    return " / ".join(str(link).split("\n", 1)[0] for link in _causes(error))[:300]


def _check_bounds(document: Mapping[str, Any]) -> LdFailure | None:
    """The size, depth and blank-node limits, walked without recursion.

    Inline contexts count against MAX_VALUES too: pyld defines every term of one, however few
    are used. A term whose definition holds a context of its own (a scoped context) is refused:
    pyld processes that context again for every node using the term, so its cost is its terms
    times its uses, and no fediverse server writes one.
    """
    values = 0
    blank_nodes = 0
    # (value, depth, whether it is inside a context)
    stack: list[tuple[Any, int, bool]] = [(document, 1, False)]
    while stack:
        value, depth, in_context = stack.pop()
        values += 1
        if values > MAX_VALUES:
            return LdFailure(LdFailureReason.TOO_LARGE, f"more than {MAX_VALUES} values")
        if depth > MAX_DEPTH:
            return LdFailure(LdFailureReason.TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels")
        if in_context:
            if isinstance(value, Mapping):
                for key, item in value.items():
                    if key == "@context":
                        return LdFailure(
                            LdFailureReason.TOO_LARGE, "scoped contexts are not accepted"
                        )
                    stack.append((item, depth + 1, True))
            elif isinstance(value, list):
                stack.extend((item, depth + 1, True) for item in value)
            continue
        if isinstance(value, str):
            # Any string, not only `id`: a context may alias @id to another name.
            if value.startswith("_:"):
                return LdFailure(
                    LdFailureReason.BLANK_NODE_LABELS, "blank node labels are not accepted"
                )
        elif isinstance(value, Mapping):
            if "id" not in value and "@id" not in value:
                blank_nodes += 1
                if blank_nodes > MAX_BLANK_NODES:
                    return LdFailure(
                        LdFailureReason.TOO_LARGE, f"more than {MAX_BLANK_NODES} blank nodes"
                    )
            # Contexts are term definitions, not nodes (the bundled AS context maps @vocab to _:).
            stack.extend((item, depth + 1, key == "@context") for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, depth + 1, False) for item in value)
    return None
