"""ActivityStreams -> ours: a remote `Page` with `listingKind` read into a listing, every member
checked (the network is hostile: absurd prices, huge strings, script URLs, NUL), and the values
forms and documents share (a price, a currency) read once. Pure: no database."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fedicity.activitypub.accessors import get_id, host_of
from fedicity.activitypub.dates import parse_datetime
from fedicity.listings.models import (
    CATEGORIES,
    CURRENCIES,
    MAX_DESCRIPTION,
    MAX_PRICE,
    MAX_TITLE,
    MAX_VALIDITY,
    SECTIONS,
    ListingData,
)
from fedicity.located.models import point_problem
from fedicity.sanitize import html_to_text, safe_url, sanitize_html
from fedicity.textfmt import render_markdown

MAX_PRICE_TEXT = 32
MAX_CONTENT = 100_000
# A price as typed or sent: digits, an optional decimal part (point or comma), nothing else (no
# exponent, no NaN, no sign: free is 0).
_PRICE = re.compile(r"[0-9]{1,13}(?:[.,][0-9]{1,2})?")


def price_of(value: object) -> Decimal | str | None:
    """A price from a form's text or a document's number or string: the amount, None when there
    is none, or a refusal code (price_invalid: not a non-negative amount with at most two
    decimals; price_too_high)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "price_invalid"
    if isinstance(value, int):
        if value < 0:
            return "price_invalid"
        amount = Decimal(min(value, int(MAX_PRICE) + 1))
    elif isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            return "price_invalid"
        if value > MAX_PRICE:
            return "price_too_high"
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    elif isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "")
        if len(text) > MAX_PRICE_TEXT or not _PRICE.fullmatch(text):
            return "price_invalid"
        try:
            amount = Decimal(text.replace(",", "."))
        except InvalidOperation:
            return "price_invalid"
    else:
        return "price_invalid"
    if amount > MAX_PRICE:
        return "price_too_high"
    return amount


def currency_of(value: object) -> str | None:
    """One of our currency codes ("Ğ1" read as G1, its code here), or None."""
    if not isinstance(value, str) or len(value) > 8:
        return None
    code = value.strip().upper().replace("Ğ", "G")
    return code if code in CURRENCIES else None


def has_nul(*texts: str | None) -> bool:
    """Whether a text holds a NUL, which PostgreSQL's text cannot store."""
    return any(text is not None and "\x00" in text for text in texts)


@dataclass(frozen=True)
class RemotePlace:
    """Where a remote listing says it is: a territory by level and code, and maybe a point."""

    level: str
    code: str
    latitude: float | None
    longitude: float | None


def _coordinate(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def place_of(document: Mapping[str, Any]) -> RemotePlace | str:
    """The listing's `location`, or why it is refused."""
    location = document.get("location")
    if isinstance(location, list) and location:
        location = location[0]
    if not isinstance(location, Mapping):
        return "the listing has no location"
    level, code = location.get("level"), location.get("territoryCode")
    if not isinstance(level, str) or not isinstance(code, str) or len(level) > 20 or len(code) > 20:
        return "the location names no territory (level and territoryCode)"
    latitude = _coordinate(location.get("latitude"))
    longitude = _coordinate(location.get("longitude"))
    if (location.get("latitude") is None) != (latitude is None) or (
        location.get("longitude") is None
    ) != (longitude is None):
        return "the location's coordinates are not numbers"
    problem = point_problem(latitude, longitude)
    if problem is not None:
        return f"the location's coordinates are refused: {problem}"
    return RemotePlace(level, code, latitude, longitude)


def _text(document: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if isinstance(value, Mapping):
        # A language map: the first string.
        value = next((v for v in value.values() if isinstance(v, str)), None)
    if not isinstance(value, str) or len(value) > limit or has_nul(value):
        return "\x00"  # the caller refuses it
    return value


def listing_from_ap(
    document: Mapping[str, Any],
    *,
    author: str,
    territory_id: int,
    place: RemotePlace,
    now: datetime,
) -> ListingData | str:
    """A remote listing's columns, or why it is refused (a reason for the inbox row)."""
    uri = get_id(document)
    if uri is None or safe_url(uri) != uri or host_of(uri) != host_of(author):
        return "the listing's id is not an http(s) address on its author's server"
    kind = document.get("listingKind")
    if not isinstance(kind, str) or kind not in SECTIONS:
        return "unknown listingKind"
    section, category = document.get("section"), document.get("category")
    if not isinstance(section, str) or section not in SECTIONS[kind]:
        return f"section is one of {', '.join(SECTIONS[kind])} for a {kind}"
    if not isinstance(category, str) or category not in CATEGORIES[kind]:
        return f"category is one of {', '.join(CATEGORIES[kind])} for a {kind}"
    title = _text(document, "name", MAX_TITLE)
    if not title or title == "\x00" or not title.strip():
        return f"the name is a text of 1 to {MAX_TITLE} characters without NUL"
    content = _text(document, "content", MAX_CONTENT)
    if content == "\x00":
        return f"the content is a text of at most {MAX_CONTENT} characters without NUL"
    source = document.get("source")
    markdown: str | None = None
    if isinstance(source, Mapping) and source.get("mediaType") == "text/markdown":
        markdown = _text(source, "content", MAX_DESCRIPTION)
        if markdown == "\x00":
            return "the source is too long or holds a NUL"
    price = price_of(document.get("price"))
    if isinstance(price, str):
        return f"the price is refused: {price}"
    currency = currency_of(document.get("priceCurrency"))
    if price is not None and currency is None:
        return f"priceCurrency is one of {', '.join(CURRENCIES)}"
    published = parse_datetime(document.get("published")) or now
    expires_at = parse_datetime(document.get("validThrough") or document.get("endTime"))
    if expires_at is None:
        return "validThrough is a date and time with its zone"
    if expires_at <= now:
        return "the listing has expired"
    if expires_at - max(published, now) > MAX_VALIDITY:
        return "a listing is valid for at most a year"
    url = document.get("url")
    url = get_id(url) if isinstance(url, Mapping | list) else url
    if url is not None and safe_url(url) is None:
        return "the url is not an http(s) address"
    # Ours render their Markdown as we would; others' HTML goes through the one policy.
    html = render_markdown(markdown) if markdown is not None else sanitize_html(content or "")
    if markdown is None and not html_to_text(html).strip():
        html = ""
    return ListingData(
        uri=uri,
        token=None,
        url=url if isinstance(url, str) else None,
        kind=kind,
        section=section,
        category=category,
        title=title.strip(),
        description_source=markdown,
        description_html=html,
        price=price,
        currency=currency if price is not None else None,
        expires_at=expires_at,
        territory_id=territory_id,
        latitude=place.latitude,
        longitude=place.longitude,
        author_uri=author,
        local_actor_id=None,
        posted_by=None,
        raw=dict(document),
        published=published,
        updated=parse_datetime(document.get("updated")),
    )
