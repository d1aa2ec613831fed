"""Ours -> ActivityStreams: a listing as a `Page` that Mastodon shows as a post (its `name` and a
`content` that says the essentials in words) and that fedicity reads by its fc: and schema.org
terms; and the activities that carry it. Pure: the callers read the database and publish."""

from __future__ import annotations

from html import escape
from typing import Any

from fedicity.activitypub.activities import activity
from fedicity.activitypub.dates import format_datetime
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC
from fedicity.listings.models import Listing
from fedicity.listings.text import (
    CATEGORY_WORDS,
    FEDERATED_LOCALE,
    SECTION_WORDS,
    format_price,
    until_words,
)
from fedicity.textfmt import title_html
from fedicity.urls import Urls

# One hashtag per kind, so Mastodon users can follow classifieds, jobs or ressources.
KIND_TAGS = {"ressource": "ressources", "job": "emploi", "classified": "petitesannonces"}


def listing_context(urls: Urls) -> list[Any]:
    """The @context of our listings: ActivityStreams and the fc: context (which names the
    schema.org terms price, priceCurrency, validThrough and category)."""
    return [AS_CONTEXT, urls.context]


def essentials(listing: Listing, *, handle: str | None) -> str:
    """The one line a Mastodon reader sees first: section, category, price, expiry, how to
    answer ("Offre · Service · 15 € · jusqu'au 3 janvier 2027 · Répondre : message privé à
    @alice@host")."""
    parts = [SECTION_WORDS[listing.section], CATEGORY_WORDS.get(listing.category, "")]
    price = format_price(listing.price, listing.currency, FEDERATED_LOCALE)
    if price:
        parts.append(price)
    parts.append(f"jusqu\u2019au {until_words(listing.expires_at)}")
    if handle:
        parts.append(f"Répondre : message privé à {handle}")
    return " · ".join(part for part in parts if part)


def place_of(listing: Listing, *, territory: tuple[str, str, str] | None) -> dict[str, Any]:
    """The `location`: a Place named after the territory (level, code, name), with its point."""
    place: dict[str, Any] = {"type": "Place"}
    if territory is not None:
        level, code, name = territory
        place.update(name=name, territoryCode=code, level=level)
    if listing.latitude is not None and listing.longitude is not None:
        place.update(latitude=listing.latitude, longitude=listing.longitude)
    return place


def listing_to_ap(
    listing: Listing,
    urls: Urls,
    *,
    handle: str | None,
    territory: tuple[str, str, str] | None,
    audience_uri: str | None = None,
    with_context: bool = True,
) -> dict[str, Any]:
    """A local listing as a `Page`."""
    line = f"<p>{escape(essentials(listing, handle=handle))}</p>"
    tag = KIND_TAGS[listing.kind]
    document: dict[str, Any] = {}
    if with_context:
        document["@context"] = listing_context(urls)
    document.update(
        {
            "id": listing.uri,
            "type": "Page",
            "name": listing.title,
            "attributedTo": listing.author_uri,
            "content": title_html(listing.title) + line + listing.description_html,
            "mediaType": "text/html",
            "listingKind": listing.kind,
            "section": listing.section,
            "category": listing.category,
            "validThrough": format_datetime(listing.expires_at),
            "endTime": format_datetime(listing.expires_at),
            "location": place_of(listing, territory=territory),
            "tag": [{"type": "Hashtag", "name": f"#{tag}", "href": urls.tag(tag)}],
            "published": format_datetime(listing.published),
            "url": listing.url or listing.uri,
            "to": [PUBLIC],
            "cc": [urls.followers_of(listing.author_uri)],
        }
    )
    if listing.price is not None:
        # A decimal string: an amount is not a float (JSON numbers are read as floats).
        document["price"] = format(listing.price.normalize(), "f")
        document["priceCurrency"] = listing.currency or "EUR"
    if listing.description_source is not None:
        document["source"] = {"content": listing.description_source, "mediaType": "text/markdown"}
    if listing.updated is not None:
        document["updated"] = format_datetime(listing.updated)
    if audience_uri is not None:
        document["audience"] = audience_uri
        document["cc"].append(audience_uri)
    return document


def listing_activity(
    kind: str, listing: Listing, urls: Urls, *, id: str, object: Any, audience_uri: str | None
) -> dict[str, Any]:
    """A Create, Update or Delete of a listing by its author, to the public and its followers
    (and to the territory it is in, in `audience`)."""
    return activity(
        kind,
        id=id,
        actor=listing.author_uri,
        object=object,
        to=[PUBLIC],
        cc=[urls.followers_of(listing.author_uri)],
        published=format_datetime(listing.updated or listing.published),
        context=listing_context(urls),
        audience=audience_uri,
    )


def tombstone(uri: str) -> dict[str, Any]:
    """What a Delete carries of a deleted listing."""
    return {"id": uri, "type": "Tombstone", "formerType": "Page"}
