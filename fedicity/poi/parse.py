"""Remote `Place` documents read into our columns, strictly: a name, a point on Earth, a known
kind, short address parts, at most four http(s) images of sane sizes; anything else is a reason
(a string) the handler gives back. Pure: no database, no network."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fedicity.activitypub.accessors import as_list, get_id, get_type, get_web_url, host_of
from fedicity.activitypub.dates import parse_datetime
from fedicity.poi.models import (
    MAX_ADDRESS_PART,
    MAX_NAME,
    MAX_PHOTOS,
    MAX_SIDE,
    PLACE_KINDS,
    Address,
    Photo,
    PlaceData,
    PlaceKind,
)
from fedicity.sanitize import html_to_text, safe_url, sanitize_html

# What a remote description may weigh before it is sanitised (ours are at most 20 000
# characters of Markdown, whose HTML is longer).
MAX_CONTENT = 100_000
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"})


def _degrees(value: Any, name: str) -> float | str:
    # Numbers only: a bool is an int in Python, and strings like "nan" or "1e999" are not read.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"the Place's {name} is not a number"
    number = float(value)
    if not math.isfinite(number):
        return f"the Place's {name} is not a finite number"
    return number


def _short(value: Any, name: str, limit: int) -> str | None:
    """A one-line text member, or raise the reason as ValueError."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"the Place's {name} is not a text")
    if "\x00" in value:
        raise ValueError(f"the Place's {name} holds a NUL character")
    text = " ".join((html_to_text(value) if "<" in value else value).split())
    if len(text) > limit:
        raise ValueError(f"the Place's {name} is longer than {limit} characters")
    return text


def _address(value: Any) -> Address:
    if value is None:
        return Address()
    if isinstance(value, str):
        return Address(street=_short(value, "address", MAX_ADDRESS_PART) or "")
    if not isinstance(value, Mapping):
        raise ValueError("the Place's address is neither a text nor a PostalAddress")
    return Address(
        street=_short(value.get("streetAddress"), "streetAddress", MAX_ADDRESS_PART) or "",
        postal_code=_short(value.get("postalCode"), "postalCode", 20) or "",
        locality=_short(value.get("addressLocality"), "addressLocality", MAX_ADDRESS_PART) or "",
    )


def _side(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_SIDE:
        return None
    return value


def _photos(value: Any) -> tuple[Photo, ...]:
    """The first images among the attachments: http(s), an image type, sizes kept when sane."""
    found: list[Photo] = []
    for item in as_list(value)[:32]:
        if not isinstance(item, Mapping) or get_type(item) not in ("Image", "Document"):
            continue
        url = get_web_url(item.get("url"))
        media_type = item.get("mediaType")
        if url is None or not isinstance(media_type, str) or media_type not in _IMAGE_TYPES:
            continue
        found.append(Photo(url, media_type, _side(item.get("width")), _side(item.get("height"))))
        if len(found) == MAX_PHOTOS:
            break
    return tuple(found)


def place_from_ap(document: Mapping[str, Any], *, author: str, now: datetime) -> PlaceData | str:
    """A remote Place as our data (territory 0: the handler finds it), or why it is refused."""
    uri = get_id(document)
    if get_type(document) != "Place":
        return "the object is not a Place"
    if uri is None or safe_url(uri) is None:
        return "the Place has no http(s) id"
    if host_of(uri) != host_of(author):
        return "the Place's id is not on its author's server"
    kind_value = document.get("placeKind", "other")
    if kind_value not in PLACE_KINDS:
        return "the Place's placeKind is not one of " + ", ".join(PLACE_KINDS)
    kind: PlaceKind = next(k for k in PLACE_KINDS if k == kind_value)
    latitude = _degrees(document.get("latitude"), "latitude")
    longitude = _degrees(document.get("longitude"), "longitude")
    if isinstance(latitude, str):
        return latitude
    if isinstance(longitude, str):
        return longitude
    if not -90 <= latitude <= 90:
        return "the Place's latitude is not between -90 and 90"
    if not -180 <= longitude <= 180:
        return "the Place's longitude is not between -180 and 180"
    content = document.get("content", "")
    if content is not None and not isinstance(content, str):
        return "the Place's content is not a text"
    if content and (len(content) > MAX_CONTENT or "\x00" in content):
        return f"the Place's content is longer than {MAX_CONTENT} characters or holds a NUL"
    try:
        name = _short(document.get("name"), "name", MAX_NAME)
        address = _address(document.get("address"))
    except ValueError as error:
        return str(error)
    if not name:
        return "the Place has no name"
    published = parse_datetime(document.get("published")) or now
    return PlaceData(
        uri=uri,
        url=get_web_url(document.get("url")) or uri,
        kind=kind,
        name=name,
        description_html=sanitize_html(content) if content else "",
        latitude=latitude,
        longitude=longitude,
        territory_id=0,
        author_uri=author,
        local=False,
        published=min(published, now),
        address=address,
        photos=_photos(document.get("attachment")),
        raw=dict(document),
        updated=now if document.get("updated") is not None else None,
    )
