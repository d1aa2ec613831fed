"""Context URLs, media types, well-known IRIs and the extension terms we publish."""

from __future__ import annotations

from typing import Any, Final

AS_CONTEXT: Final = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT: Final = "https://w3id.org/security/v1"
PUBLIC: Final = "https://www.w3.org/ns/activitystreams#Public"

ACTIVITY_JSON: Final = "application/activity+json"
LD_JSON_PROFILE: Final = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
# Media types a request may accept (or send) to mean "ActivityStreams, please".
AP_MEDIA_TYPES: Final = ("application/activity+json", "application/ld+json")

# Terms outside the AS2 and security contexts that our actor documents use, spelled out inline as
# Mastodon does, so consumers that do not process JSON-LD still read them by their short names.
ACTOR_EXTENSION_CONTEXT: Final[dict[str, Any]] = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "toot": "http://joinmastodon.org/ns#",
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    "fc": "https://fedicity.org/ns#",
    "organizationKind": "fc:organizationKind",
}

ACTOR_CONTEXT: Final[list[Any]] = [AS_CONTEXT, SECURITY_CONTEXT, ACTOR_EXTENSION_CONTEXT]


def fedicity_context() -> dict[str, Any]:
    """The bundled fc: context document."""
    import json
    from pathlib import Path

    path = Path(__file__).parent / "contexts" / "fedicity.jsonld"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document
