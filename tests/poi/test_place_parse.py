"""Remote Places read strictly (poi/parse.py): what is kept of a good one, and the reason given
for each hostile one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fedicity.poi.models import Address, Photo
from fedicity.poi.parse import place_from_ap

AUTHOR = "https://peer.example/users/ana"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
GOOD: dict[str, Any] = {
    "id": "https://peer.example/places/1",
    "type": "Place",
    "name": "Fresque du marché",
    "content": '<p>Peinte en 2024 <a href="javascript:alert(1)">x</a><script>x</script></p>',
    "placeKind": "artwork",
    "latitude": 48.86,
    "longitude": 2.44,
    "url": "https://peer.example/@ana/places/1",
    "address": {"streetAddress": "Rue du Marché", "postalCode": "93100"},
    "published": "2099-01-01T00:00:00Z",
    "attachment": [
        {
            "type": "Image",
            "mediaType": "image/jpeg",
            "url": "https://peer.example/a.jpg",
            "width": 800,
            "height": 10**9,
        },
        {"type": "Image", "mediaType": "image/svg+xml", "url": "https://peer.example/b.svg"},
        {"type": "Image", "mediaType": "image/png", "url": "javascript:alert(1)"},
        {"type": "Document", "mediaType": "image/png", "url": {"href": "https://peer.example/c"}},
        *[
            {"type": "Image", "mediaType": "image/png", "url": f"https://peer.example/{n}.png"}
            for n in range(10)
        ],
    ],
}


def test_a_remote_place_is_read_strictly_and_each_hostile_one_gets_its_reason() -> None:
    data = place_from_ap(GOOD, author=AUTHOR, now=NOW)
    assert not isinstance(data, str)
    assert (data.kind, data.name, data.latitude, data.longitude) == (
        "artwork",
        "Fresque du marché",
        48.86,
        2.44,
    )
    assert "javascript" not in data.description_html
    assert "<script" not in data.description_html
    assert data.address == Address("Rue du Marché", "93100", "")
    # Only http(s) images of raster types, at most four, sizes kept only when sane
    assert data.photos == (
        Photo("https://peer.example/a.jpg", "image/jpeg", 800, None),
        Photo("https://peer.example/c", "image/png", None, None),
        Photo("https://peer.example/0.png", "image/png", None, None),
        Photo("https://peer.example/1.png", "image/png", None, None),
    )
    assert data.published == NOW  # not in the future
    assert data.url == "https://peer.example/@ana/places/1"
    # A javascript: page address is not kept: the id is the page
    unsafe_url = place_from_ap({**GOOD, "url": "javascript:alert(1)"}, author=AUTHOR, now=NOW)
    assert not isinstance(unsafe_url, str)
    assert unsafe_url.url == GOOD["id"]
    deep: Any = "x"
    for _ in range(500):
        deep = [deep]
    hostile: list[tuple[dict[str, Any], str]] = [
        ({"type": "Note"}, "not a Place"),
        ({"id": "javascript:alert(1)"}, "no http(s) id"),
        ({"id": "https://other.example/places/1"}, "not on its author's server"),
        ({"latitude": float("nan")}, "latitude is not a finite number"),
        ({"latitude": float("inf")}, "latitude is not a finite number"),
        ({"longitude": 1e308}, "longitude is not between -180 and 180"),
        ({"latitude": "48.86"}, "latitude is not a number"),
        ({"latitude": None}, "latitude is not a number"),
        ({"longitude": False}, "longitude is not a number"),
        ({"placeKind": "trash"}, "placeKind is not one of"),
        ({"placeKind": ["artwork"]}, "placeKind is not one of"),
        ({"name": "a\u0000b"}, "name holds a NUL"),
        ({"name": ""}, "has no name"),
        ({"name": "x" * 201}, "name is longer than 200"),
        ({"name": deep}, "name is not a text"),
        ({"address": deep}, "address is neither a text nor a PostalAddress"),
        ({"address": {"postalCode": "9" * 21}}, "postalCode is longer than 20"),
        ({"content": "x" * 100_001}, "content is longer than"),
        ({"content": "a\u0000"}, "holds a NUL"),
        ({"content": {"fr": "x"}}, "content is not a text"),
    ]
    for changes, reason in hostile:
        refused = place_from_ap({**GOOD, **changes}, author=AUTHOR, now=NOW)
        assert isinstance(refused, str), changes
        assert reason in refused, (changes, refused)
