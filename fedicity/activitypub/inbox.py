"""The inbox checks: parse, verify the HTTP signature, check the signer is the actor.

Nothing here touches the database or interprets the activity: the web layer stores what this
accepts and answers 202; workers interpret it later (the inbox is a mailbox).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cryptography.exceptions import UnsupportedAlgorithm

from fedicity.activitypub.accessors import get_id, get_type, host_of
from fedicity.activitypub.httpsig import (
    FailureReason,
    ParsedSignature,
    SignatureFailure,
    check_authority,
    parse_signature,
    verify,
)
from fedicity.activitypub.keys import load_public_key
from fedicity.activitypub.ldsig import LdSignature, signature_of
from fedicity.activitypub.safejson import JsonFailure, load_json

ACCEPTED_CONTENT_TYPES = frozenset(
    {"application/activity+json", "application/ld+json", "application/json"}
)


@dataclass(frozen=True)
class InboxKey:
    """A public key and its owner, as the key resolver found them."""

    key_id: str
    owner: str
    public_key_pem: str


@dataclass(frozen=True)
class KeyUnavailable:
    """The key could not be had; `gone` when its actor was deleted, `busy` when the resolver
    refused to start one more fetch from the key's host (the sender should retry later).

    `detail` is for our logs only: it is never sent back (see _key_unavailable).
    """

    detail: str
    gone: bool = False
    busy: bool = False


class Preparer(Protocol):
    """Told, once the signature is parsed and before the domain gate and the key lookup, what
    they will ask: the keyId, the hosts to gate and the activity's actor (None for a fetch). A
    caller may read it all at once (one database statement) and answer the callbacks from it."""

    def __call__(
        self, key_id: str, hosts: Sequence[str], actor_uri: str | None
    ) -> Awaitable[None]: ...


class KeyResolver(Protocol):
    """Finds the key a signature names; `refresh` bypasses caches (for rotated keys)."""

    def __call__(self, key_id: str, *, refresh: bool) -> Awaitable[InboxKey | KeyUnavailable]: ...


@dataclass(frozen=True)
class Accepted:
    """A verified activity, ready to be stored."""

    activity: dict[str, Any]
    activity_uri: str
    actor_uri: str
    type: str
    key_id: str
    # Relayed by another server: the object was reduced to its id, to be fetched from its origin
    # (unless the worker finds the whole activity under LD_PENDING signed by its actor).
    forwarded: bool = False


@dataclass(frozen=True)
class Rejected:
    """Why an inbox POST is refused, with the HTTP status to answer."""

    status: int
    reason: str
    detail: str


@dataclass(frozen=True)
class IgnoredDelete:
    """A Delete of an actor we never knew, whose key is gone: acknowledged, nothing to do."""

    actor_uri: str


FORWARDABLE = frozenset({"Create", "Update"})
# Where a relayed activity carrying a Linked Data signature is kept whole, beside its pointer
# form, until a worker checks the signature (pyld takes ~2 ms of CPU per activity: more than
# the whole inbox POST, so not here). The stored activity is the pointer: a worker that does not
# check, or a check that fails, fetches the object from its origin as before.
LD_PENDING = "_fedicity_ld_pending"
# Longer ids are refused: the id is the mailbox's unique key, and PostgreSQL cannot index a value
# over ~2.7 kB (the insert would fail with a 500 on every retry by the peer).
MAX_ID_LENGTH = 2048
# Type names are short words; the type is kept in its own column beside the activity.
MAX_TYPE_LENGTH = 256
_KEY_MAY_HAVE_CHANGED = frozenset({FailureReason.BAD_SIGNATURE, FailureReason.KEY_TYPE_MISMATCH})


def synthetic_id(body: bytes) -> str:
    """An id for activities sent without one (GoToSocial's Delete): the hash of the body."""
    return "urn:sha256:" + hashlib.sha256(body).hexdigest()


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_activity(body: bytes, content_type: str | None) -> dict[str, Any] | Rejected:
    """The activity JSON object, or the 4xx that refuses it."""
    if _media_type(content_type) not in ACCEPTED_CONTENT_TYPES:
        return Rejected(415, "unsupported_media_type", "send application/activity+json")
    # Depth, numbers and strings are checked here, before any signature work: such a body could
    # not be stored or walked, whoever signed it.
    parsed = load_json(body)
    if isinstance(parsed, JsonFailure):
        return Rejected(400, parsed.reason.value, parsed.detail)
    document = parsed.value
    if not isinstance(document, dict):
        return Rejected(400, "not_an_object", "an activity is a JSON object")
    activity_type = get_type(document)
    if activity_type is None:
        return Rejected(400, "no_type", "the activity has no type")
    if len(activity_type) > MAX_TYPE_LENGTH:
        return Rejected(400, "bad_type", f"the activity type is longer than {MAX_TYPE_LENGTH}")
    actor = get_id(document.get("actor"))
    if actor is None:
        return Rejected(400, "no_actor", "the activity has no actor")
    if len(actor) > MAX_ID_LENGTH:
        return Rejected(400, "bad_actor", f"the actor id is longer than {MAX_ID_LENGTH}")
    activity_id = document.get("id")
    if activity_id is not None and not isinstance(activity_id, str):
        return Rejected(400, "bad_id", "the activity id is not a string")
    if activity_id is not None and len(activity_id) > MAX_ID_LENGTH:
        return Rejected(400, "bad_id", f"the activity id is longer than {MAX_ID_LENGTH}")
    return document


def _failure(failure: SignatureFailure) -> Rejected:
    return Rejected(401, "signature_" + failure.reason.name.lower(), failure.detail)


async def check(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    resolve_key: KeyResolver,
    now: datetime,
    authority: str,
    refuse_host: Callable[[str], Awaitable[str | None]] | None = None,
    prepare: Preparer | None = None,
) -> Accepted | Rejected | IgnoredDelete:
    """Run every inbox check on one POST, in order; the first failure decides the answer.

    `authority` is this server's host (and port when not the default): the signature must name
    it, or a delivery signed for another server could be replayed here. `prepare` hears what
    `refuse_host` and `resolve_key` will be asked, before they are (see Preparer).
    """
    parsed_body = parse_activity(body, headers.get("content-type"))
    if isinstance(parsed_body, Rejected):
        return parsed_body
    activity = parsed_body
    # Only this module writes the mark; one sent to us is dropped, never believed.
    activity.pop(LD_PENDING, None)
    actor_uri = get_id(activity.get("actor"))
    assert actor_uri is not None
    activity_type = get_type(activity) or ""

    signature = _signature_for_us(method, url, headers, authority)
    if isinstance(signature, Rejected):
        return signature
    hosts = list(dict.fromkeys((host_of(signature.key_id), host_of(actor_uri))))
    if prepare is not None:
        await prepare(signature.key_id, hosts, actor_uri)
    refused = await _refused_host(refuse_host, hosts)
    if refused is not None:
        return refused

    key = await verify_with_key(signature, resolve_key, method, body, headers, now, authority)
    if isinstance(key, KeyUnavailable):
        if key.gone and _is_self_delete(activity, actor_uri):
            return IgnoredDelete(actor_uri)
        return _key_unavailable(key)
    if isinstance(key, SignatureFailure):
        return _failure(key)

    bound = _bind_signer_to_actor(activity, activity_type, actor_uri, key)
    if isinstance(bound, Rejected):
        return bound
    activity, forwarded = bound
    return Accepted(
        activity=activity,
        activity_uri=_dedupe_id(activity, actor_uri, body),
        actor_uri=actor_uri,
        type=activity_type,
        key_id=key.key_id,
        forwarded=forwarded,
    )


def _signature_for_us(
    method: str, url: str, headers: Mapping[str, str], authority: str
) -> ParsedSignature | Rejected:
    """The request's signature, parsed and checked to name this server, before any key fetch."""
    signature = parse_signature(method, url, headers)
    if isinstance(signature, SignatureFailure):
        return _failure(signature)
    # Before any key fetch: a signature meant for another server costs us nothing.
    elsewhere = check_authority(signature, headers, authority)
    if elsewhere is not None:
        return _failure(elsewhere)
    return signature


async def _refused_host(
    refuse_host: Callable[[str], Awaitable[str | None]] | None, hosts: Iterable[str]
) -> Rejected | None:
    """A 403 when the domain policy refuses any of these hosts, asked before fetching from them."""
    if refuse_host is None:
        return None
    for host in hosts:
        reason = await refuse_host(host)
        if reason is not None:
            return Rejected(403, "domain_refused", reason)
    return None


def _bind_signer_to_actor(
    activity: dict[str, Any],
    activity_type: str,
    actor_uri: str,
    key: InboxKey,
) -> tuple[dict[str, Any], bool] | Rejected:
    """The activity to store and whether it was forwarded, or why its signer may not send it."""
    if key.owner == actor_uri:
        if host_of(key.key_id) != host_of(actor_uri):
            return Rejected(401, "signer_not_actor", "the key is not on the actor's host")
        return activity, False
    # A relayed activity (Mastodon forwards replies to followers' servers) is signed by the
    # relayer, not the author, so a Create or Update is taken as a pointer: its object is
    # fetched from the author's own server, never trusted from the relayer (GoToSocial does the
    # same). When the author signed it (a Linked Data signature), the whole copy is kept too,
    # for the worker to check and use instead of a fetch.
    object_id = get_id(activity.get("object"))
    if (
        activity_type not in FORWARDABLE
        or object_id is None
        or host_of(object_id) != host_of(actor_uri)
    ):
        return Rejected(
            401,
            "signer_not_actor",
            f"signed by {key.owner} but the activity's actor is {actor_uri}",
        )
    pointer = {**activity, "object": object_id}
    if isinstance(activity.get("object"), dict) and _signed_on_actor_host(activity, actor_uri):
        pointer[LD_PENDING] = activity
    return pointer, True


def _signed_on_actor_host(activity: Mapping[str, Any], actor_uri: str) -> bool:
    """Whether the activity carries an RsaSignature2017 whose key is on its actor's host: the
    only ones worth the worker's time (cheap: no JSON-LD here)."""
    signature = signature_of(activity)
    return isinstance(signature, LdSignature) and host_of(signature.creator) == host_of(actor_uri)


def _dedupe_id(activity: Mapping[str, Any], actor_uri: str, body: bytes) -> str:
    """The mailbox's unique key for this activity: its id when on the actor's host, else a hash.

    The activity id is not required to be on the actor's host: recorded Mobilizon and Pleroma
    traffic relays ids from elsewhere. Objects are origin-checked where they are stored. An id
    on another host is kept, but not trusted as the dedupe key: otherwise a peer could pre-empt
    another server's activity by sending its (predictable) id first.
    """
    claimed = activity.get("id")
    activity_uri = claimed if claimed and host_of(claimed) == host_of(actor_uri) else None
    return activity_uri or synthetic_id(body)


async def verify_with_key(
    signature: ParsedSignature,
    resolve_key: KeyResolver,
    method: str,
    body: bytes | None,
    headers: Mapping[str, str],
    now: datetime,
    authority: str,
) -> InboxKey | KeyUnavailable | SignatureFailure:
    """Verify a parsed signature with its key, fetching the key once more if it fails."""
    key = await resolve_key(signature.key_id, refresh=False)
    if isinstance(key, KeyUnavailable):
        return key
    failure = _verify_with(signature, key, method, body, headers, now, authority)
    if failure is None:
        return key
    if failure.reason not in _KEY_MAY_HAVE_CHANGED:
        # A stale Date or a wrong digest is not fixed by a new key: do not fetch for nothing.
        return failure
    # The actor may have rotated its key since we cached it: fetch it once more.
    refreshed = await resolve_key(signature.key_id, refresh=True)
    if isinstance(refreshed, KeyUnavailable):
        return failure
    return _verify_with(signature, refreshed, method, body, headers, now, authority) or refreshed


async def authenticate_fetch(
    *,
    method: str = "GET",
    url: str,
    headers: Mapping[str, str],
    resolve_key: KeyResolver,
    now: datetime,
    authority: str,
    refuse_host: Callable[[str], Awaitable[str | None]] | None = None,
    prepare: Preparer | None = None,
) -> InboxKey | Rejected:
    """Check a signed GET or HEAD (authorized fetch): the signer's key, or why it is refused."""
    signature = _signature_for_us(method, url, headers, authority)
    if isinstance(signature, Rejected):
        return signature
    hosts = [host_of(signature.key_id)]
    if prepare is not None:
        await prepare(signature.key_id, hosts, None)
    refused = await _refused_host(refuse_host, hosts)
    if refused is not None:
        return refused
    key = await verify_with_key(signature, resolve_key, method, None, headers, now, authority)
    if isinstance(key, KeyUnavailable):
        return _key_unavailable(key)
    if isinstance(key, SignatureFailure):
        return _failure(key)
    return key


def _key_unavailable(key: KeyUnavailable) -> Rejected:
    """The answer to a request whose key could not be had, the same whatever went wrong.

    Why a fetch failed (refused, timed out, not HTTP, no such path) tells what answers at the
    address a keyId names: echoed back, it would make us a port scanner for anyone. Both are
    401, which senders retry.
    """
    if key.busy:
        return Rejected(
            401, "key_fetch_busy", "too many keys are being fetched from this host; retry later"
        )
    return Rejected(401, "key_unavailable", "the signing key could not be fetched")


def _is_self_delete(activity: Mapping[str, Any], actor_uri: str) -> bool:
    return get_type(activity) == "Delete" and get_id(activity.get("object")) == actor_uri


def _verify_with(
    signature: ParsedSignature,
    key: InboxKey,
    method: str,
    body: bytes | None,
    headers: Mapping[str, str],
    now: datetime,
    authority: str,
) -> SignatureFailure | None:
    try:
        public_key = load_public_key(key.public_key_pem)
    except (ValueError, UnsupportedAlgorithm):
        return SignatureFailure(FailureReason.KEY_TYPE_MISMATCH, "the published key cannot be read")
    return verify(
        signature,
        public_key,
        method=method,
        body=body,
        headers=headers,
        now=now,
        authority=authority,
    )
