"""The worker's half of a relayed activity: its author's Linked Data signature, checked.

The inbox stored a relayed Create or Update as a pointer (its object reduced to the id) and, when
it carried an RsaSignature2017 from its actor's host, the whole copy under `LD_PENDING`. Here the
creator's key comes through the actor directory (cached like any key), must belong to the
activity's actor, and must verify the copy: then the copy is processed as sent, with no fetch
from the author's server. Otherwise the pointer is, as before (its object fetched from its
origin), and the reason is logged. Nothing is lost either way.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm

from fedicity.activitypub import ldsig
from fedicity.activitypub.accessors import get_id, get_type
from fedicity.activitypub.inbox import LD_PENDING
from fedicity.activitypub.keys import load_public_key
from fedicity.actors.remote import ActorDirectory, LookupFailure

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settled:
    """The activity to process; `reason` says why the relayed copy was not used (None: it was,
    or there was none)."""

    activity: dict[str, Any]
    verified: bool = False
    reason: str | None = None


@functools.cache
def bundled_loader() -> ldsig.DocumentLoader:
    """The offline JSON-LD loader, read from disk once per process."""
    return ldsig.offline_loader()


async def settle(
    raw: dict[str, Any],
    actor_uri: str,
    directory: ActorDirectory,
    *,
    loader: ldsig.DocumentLoader | None = None,
) -> Settled:
    """The activity a stored row stands for: the relayed copy when its author's signature holds,
    else the pointer the inbox made of it."""
    whole = raw.get(LD_PENDING)
    if whole is None:
        return Settled(raw)
    pointer = {k: v for k, v in raw.items() if k != LD_PENDING}
    reason = await _refusal(whole, pointer, actor_uri, directory, loader or bundled_loader())
    if reason is None:
        return Settled(whole, verified=True)
    _log.info(
        "relayed %s: its Linked Data signature is not used (%s); fetching its object instead",
        pointer.get("id"),
        reason,
        extra={"activity_id": pointer.get("id"), "ld_reason": reason},
    )
    return Settled(pointer, reason=reason)


async def _refusal(
    whole: Any,
    pointer: Mapping[str, Any],
    actor_uri: str,
    directory: ActorDirectory,
    loader: ldsig.DocumentLoader,
) -> str | None:
    """Why the relayed copy may not stand for the pointer, or None when it may."""
    if not isinstance(whole, dict):
        return "ld_malformed_copy: the kept copy is not an object"
    # The copy must be the activity the row is about (the inbox made both; this holds the
    # line should a row be edited by hand).
    if (
        get_id(whole.get("actor")) != actor_uri
        or get_type(whole) != get_type(pointer)
        or get_id(whole.get("object")) != get_id(pointer.get("object"))
    ):
        return "ld_copy_mismatch: the kept copy is not this activity"
    signature = ldsig.signature_of(whole)
    if isinstance(signature, ldsig.LdFailure):
        return f"{signature.reason}: {signature.detail}"
    key = await directory.key(signature.creator)
    if isinstance(key, LookupFailure):
        return f"ld_key_unavailable: {key.reason}"
    if key.owner != actor_uri:
        return f"ld_creator_not_actor: {signature.creator} belongs to {key.owner}"
    try:
        public_key = load_public_key(key.public_key_pem)
    except (ValueError, UnsupportedAlgorithm):
        return "ld_key_type_mismatch: the published key cannot be read"
    # pyld is pure Python (~2 ms for a note, at most ~40 ms within ldsig's limits): in a
    # thread, so the deliveries and leases sharing this event loop keep moving.
    checked = await asyncio.to_thread(ldsig.verify, whole, public_key, loader=loader)
    if isinstance(checked, ldsig.LdFailure):
        return f"{checked.reason}: {checked.detail}"
    return None
