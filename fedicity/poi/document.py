"""Ours -> ActivityStreams: a point of interest as a `Place` (name, content, latitude,
longitude, a schema.org PostalAddress, fc:placeKind, Image attachments), and the Create, Update
and Delete that carry it to its author's followers. Pure: the callers read and publish."""

from __future__ import annotations

from typing import Any

from fedicity.activitypub.activities import activity
from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC
from fedicity.poi.models import Place
from fedicity.urls import Urls

# Spelled out inline, as for events, for readers that take short names without JSON-LD;
# placeKind comes from our own context (urls.context).
PLACE_TERMS: dict[str, Any] = {
    "sc": "http://schema.org#",
    "PostalAddress": "sc:PostalAddress",
    "address": {"@id": "sc:address", "@type": "sc:PostalAddress"},
    "streetAddress": "sc:streetAddress",
    "postalCode": "sc:postalCode",
    "addressLocality": "sc:addressLocality",
    "addressCountry": "sc:addressCountry",
}


def place_context(urls: Urls) -> list[Any]:
    """The @context of our Place documents."""
    return [AS_CONTEXT, urls.context, PLACE_TERMS]


def _address(place: Place) -> dict[str, Any] | None:
    parts = {
        key: value
        for key, value in (
            ("streetAddress", place.address.street),
            ("postalCode", place.address.postal_code),
            ("addressLocality", place.address.locality),
        )
        if value
    }
    return {"type": "PostalAddress", **parts, "addressCountry": "FR"} if parts else None


def place_to_ap(
    place: Place, urls: Urls, *, audience_uri: str | None = None, with_context: bool = True
) -> dict[str, Any]:
    """A point of interest as a `Place`; `audience_uri` is its territory's actor."""
    document: dict[str, Any] = {
        "id": place.uri,
        "type": "Place",
        "name": place.name,
        "content": place.description_html,
        "mediaType": "text/html",
        "placeKind": place.kind,
        "latitude": place.latitude,
        "longitude": place.longitude,
        "attributedTo": place.author_uri,
        "url": place.url or place.uri,
        "published": format_datetime(place.published),
        "to": [PUBLIC],
        "cc": [urls.followers_of(place.author_uri)],
        "attachment": [
            {
                "type": "Image",
                "mediaType": photo.media_type,
                "url": photo.url,
                "name": place.name,
                **({"width": photo.width} if photo.width else {}),
                **({"height": photo.height} if photo.height else {}),
            }
            for photo in place.photos
        ],
    }
    address = _address(place)
    if address is not None:
        document["address"] = address
    if place.description_source is not None:
        document["source"] = {"content": place.description_source, "mediaType": "text/markdown"}
    if place.updated is not None:
        document["updated"] = format_datetime(place.updated)
    if audience_uri is not None:
        document["audience"] = audience_uri
    if with_context:
        document = {"@context": place_context(urls), **document}
    return document


def place_activity(
    kind: str,
    place: Place,
    urls: Urls,
    *,
    id: str,
    object: Any,
    audience_uri: str | None = None,
    published: str | None = None,
) -> dict[str, Any]:
    """A Create, Update or Delete of a point of interest by its author, to the public and the
    author's followers (and the territory it is in, in `audience`)."""
    return activity(
        kind,
        id=id,
        actor=place.author_uri,
        object=object,
        to=[PUBLIC],
        cc=[urls.followers_of(place.author_uri)],
        published=published,
        context=place_context(urls),
        audience=audience_uri,
    )


def tombstone(uri: str) -> dict[str, Any]:
    """What a Delete carries of a deleted point of interest."""
    return {"id": uri, "type": "Tombstone", "formerType": "Place"}
