"""schema.org JSON-LD for our pages: our dataclasses -> plain dicts, pure (no request, no query).

Search engines and harvesters read these from a `<script type="application/ld+json">` element
(templates/base.html renders `structured_data` with jinja's `tojson`, which escapes <, >, & and
', so no text here can close the element). What goes in is what the page shows anyway, with
two rules of our own: every URL passes `safe_url` (a javascript: or data: URL in a stored row
never reaches a harvester), and a person who chose not to be listed (`discoverable` off, sent
to other servers as `indexable: false`) gets no JSON-LD at all, neither on their profile nor as
an event's organiser.
"""

from __future__ import annotations

import math
from typing import Any, Final

from fedicity.actors.document import avatar_url
from fedicity.actors.models import Actor
from fedicity.events.models import Event, Location
from fedicity.events.text import zone
from fedicity.organizations.models import OrganizationSettings
from fedicity.poi.models import Place
from fedicity.sanitize import html_to_text, safe_url
from fedicity.territories.models import Territory
from fedicity.textfmt import render_markdown
from fedicity.urls import Urls

JsonLd = dict[str, Any]

CONTEXT: Final = "https://schema.org"
# Long descriptions are cut: a harvester wants a summary, and a page should stay light.
MAX_DESCRIPTION: Final = 2000

_STATUS: Final = {
    "confirmed": "https://schema.org/EventScheduled",
    # schema.org has no "to be confirmed": the event is still planned for that date.
    "tentative": "https://schema.org/EventScheduled",
    "cancelled": "https://schema.org/EventCancelled",
}
_ORGANIZATION_TYPES: Final = {
    "association": "NGO",
    "local_government": "GovernmentOrganization",
    # schema.org's Project (an Organization's subtype), never listed as an organisation.
    "project": "Project",
}
# What each level's code is: the COG (code officiel géographique, INSEE) for communes,
# départements and régions, the SIREN for an EPCI, ISO 3166-1 for the country. A quartier's code
# is ours.
_CODE_SYSTEMS: Final = {
    "country": "ISO 3166-1 alpha-2",
    "region": "COG",
    "departement": "COG",
    "epci": "SIREN",
    "commune": "COG",
}
# ISO/IEC 6523 International Code Designator of the SIRENE register.
_SIRENE_ICD: Final = "0002"


def _text(value: str | None, limit: int = MAX_DESCRIPTION) -> str | None:
    """Text cut at `limit` characters (on a word when there is one), None when empty."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip() + "…"


def _compact(document: JsonLd) -> JsonLd:
    """The document without its empty values: absent is clearer than null to a harvester."""
    return {key: value for key, value in document.items() if value not in (None, "", [], {})}


def geo(latitude: float | None, longitude: float | None) -> JsonLd | None:
    """GeoCoordinates (WGS 84) of a point on Earth; None when there is none or it is absurd."""
    if latitude is None or longitude is None:
        return None
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return {"@type": "GeoCoordinates", "latitude": latitude, "longitude": longitude}


def place(location: Location) -> JsonLd | None:
    """A located place (schema:Place) with its PostalAddress and GeoCoordinates; None when the
    location names no place (an online event placed in a territory has only the territory's
    centre: that is no place to go to)."""
    if not location.has_place:
        return None
    point = geo(location.latitude, location.longitude)
    address = _compact(
        {
            "@type": "PostalAddress",
            "streetAddress": location.street,
            "postalCode": location.postal_code,
            "addressLocality": location.locality,
            "addressRegion": location.region,
            "addressCountry": location.country,
        }
    )
    return _compact(
        {
            "@type": "Place",
            "name": location.place_name or location.one_line() or None,
            "address": address if len(address) > 1 else None,
            "geo": point,
        }
    )


def agent(actor: Actor, urls: Urls) -> JsonLd | None:
    """A local actor as an organiser or author: Person or an Organization type, named and
    linked; None for one who chose not to be listed, and for closed accounts."""
    if not actor.discoverable or actor.deleted_at is not None:
        return None
    if actor.kind == "person":
        return {"@type": "Person", "name": actor.name, "url": urls.profile(actor.username)}
    if actor.kind == "organization":
        return {
            "@type": organization_type(actor),
            "name": actor.name,
            "url": (
                urls.project_page(actor.username)
                if actor.organization_kind == "project"
                else urls.organization_page(actor.username)
            ),
        }
    return None


def organization_type(actor: Actor) -> str:
    """The schema.org type of an organisation: NGO for associations, GovernmentOrganization for
    local governments, Organization for the others (a company's legal form is not known)."""
    return _ORGANIZATION_TYPES.get(actor.organization_kind or "", "Organization")


def event(found: Event, *, organizer: JsonLd | None, language: str) -> JsonLd | None:
    """schema:Event of one of our events; None for one that is not public or was deleted.

    Moments carry the event's own offset (its zone); an all-day event gives dates. `language` is
    the instance's: events have no language of their own.
    """
    if not found.public or found.deleted_at is not None:
        return None
    tz = zone(found.timezone)
    start = found.starts_at.astimezone(tz)
    end = found.ends_at.astimezone(tz) if found.ends_at is not None else None
    if found.all_day:
        start_text = start.date().isoformat()
        end_text = end.date().isoformat() if end is not None else None
    else:
        start_text = start.isoformat()
        end_text = end.isoformat() if end is not None else None
    physical = place(found.location)
    online = safe_url(found.location.online_url)
    virtual = {"@type": "VirtualLocation", "url": online} if online else None
    locations = [where for where in (physical, virtual) if where is not None]
    if physical is not None and virtual is not None:
        mode = "MixedEventAttendanceMode"
    elif virtual is not None:
        mode = "OnlineEventAttendanceMode"
    else:
        mode = "OfflineEventAttendanceMode"
    url = safe_url(found.url) or safe_url(found.uri)
    return _compact(
        {
            "@context": CONTEXT,
            "@type": "Event",
            "@id": url,
            "name": found.title,
            "description": _text(html_to_text(found.description_html)),
            "startDate": start_text,
            "endDate": end_text,
            "eventStatus": _STATUS.get(found.status, _STATUS["confirmed"]),
            "eventAttendanceMode": f"https://schema.org/{mode}",
            "location": locations[0] if len(locations) == 1 else locations,
            "organizer": organizer,
            "url": url,
            "image": safe_url(found.image_url),
            "maximumAttendeeCapacity": found.capacity,
            "keywords": ", ".join(found.tags) or None,
            "inLanguage": language,
        }
    )


def person(actor: Actor, urls: Urls) -> JsonLd | None:
    """schema:Person of a local citizen's profile; None unless they chose to be listed."""
    if actor.kind != "person" or not actor.discoverable or actor.deleted_at is not None:
        return None
    profile = urls.profile(actor.username)
    return _compact(
        {
            "@context": CONTEXT,
            "@type": "Person",
            "@id": profile,
            "name": actor.name,
            "alternateName": f"@{actor.username}@{_host(urls)}",
            "description": _text(html_to_text(render_markdown(actor.summary))),
            "url": profile,
            "image": avatar_url(actor, urls),
            "sameAs": [urls.actor(actor.username)],
        }
    )


def _host(urls: Urls) -> str:
    return urls.base.split("://", 1)[-1].rstrip("/")


def _address(home: Territory | None) -> JsonLd | None:
    """A postal address as precise as a territory gives: the commune (and its postal code when
    it has only one), else the area."""
    if home is None:
        return None
    if home.level in ("commune", "quartier"):
        codes = home.postal_codes
        return _compact(
            {
                "@type": "PostalAddress",
                "addressLocality": home.name,
                "postalCode": codes[0] if len(codes) == 1 else None,
                "addressCountry": "FR",
            }
        )
    return {"@type": "PostalAddress", "addressRegion": home.name, "addressCountry": "FR"}


def _own_address(settings: OrganizationSettings, home: Territory | None) -> JsonLd | None:
    """The organisation's own postal address where it has one (the commune, when its home is
    one, as the locality), else the one its home territory gives."""
    if settings.address is None and settings.postal_code is None:
        return _address(home)
    locality = home.name if home is not None and home.level in ("commune", "quartier") else None
    return _compact(
        {
            "@type": "PostalAddress",
            "streetAddress": settings.address,
            "postalCode": settings.postal_code,
            "addressLocality": locality,
            "addressCountry": "FR",
        }
    )


def organization(
    actor: Actor, settings: OrganizationSettings, home: Territory | None, urls: Urls
) -> JsonLd | None:
    """schema:Organization (or NGO, GovernmentOrganization) of a local organisation, with its
    verified SIREN or RNA, address, place, logo and its other addresses (sameAs); None when it
    chose not to be listed."""
    if actor.kind != "organization" or not actor.discoverable or actor.deleted_at is not None:
        return None
    page = (
        urls.project_page(actor.username)
        if actor.organization_kind == "project"
        else urls.organization_page(actor.username)
    )
    identifier = settings.official_identifier
    address = _own_address(settings, home)
    point = geo(settings.latitude, settings.longitude)
    where = (
        _compact({"@type": "Place", "address": address, "geo": point})
        if point is not None
        else None
    )
    return _compact(
        {
            "@context": CONTEXT,
            "@type": organization_type(actor),
            "@id": page,
            "name": actor.name,
            "alternateName": f"@{actor.username}@{_host(urls)}",
            "description": _text(html_to_text(render_markdown(actor.summary))),
            "url": page,
            "logo": avatar_url(actor, urls),
            "identifier": {
                "@type": "PropertyValue",
                "propertyID": identifier.kind,
                "value": identifier.value,
            }
            if identifier is not None
            else None,
            "iso6523Code": f"{_SIRENE_ICD}:{identifier.value}"
            if identifier is not None and identifier.kind == "SIREN"
            else None,
            "address": address,
            "location": where,
            "email": settings.email,
            "sameAs": [
                urls.actor(actor.username),
                urls.profile(actor.username),
                *([website] if (website := safe_url(settings.website)) else []),
            ],
        }
    )


def _territory_type(territory: Territory) -> str:
    if territory.level == "country":
        return "Country"
    return "City" if territory.level == "commune" else "AdministrativeArea"


def _territory_geo(territory: Territory) -> JsonLd | None:
    """Its centre when known, else the box around it (GeoShape: "south west north east")."""
    point = geo(territory.latitude, territory.longitude)
    if point is not None:
        return point
    box = territory.bbox
    if box is None or len(box) != 4 or not all(math.isfinite(v) for v in box):
        return None
    west, south, east, north = box
    if geo(south, west) is None or geo(north, east) is None:
        return None
    return {"@type": "GeoShape", "box": f"{south} {west} {north} {east}"}


def territory_ref(territory: Territory, urls: Urls) -> JsonLd:
    """A territory named and linked, as another one's containedInPlace."""
    return {
        "@type": _territory_type(territory),
        "name": territory.name,
        "url": urls.territory(territory.level, territory.code),
    }


def territory(found: Territory, parent: Territory | None, urls: Urls) -> JsonLd:
    """schema:AdministrativeArea (City for a commune, Country for the country) of a territory,
    with its official code, its centre or box and the territory that contains it."""
    page = urls.territory(found.level, found.code)
    system = _CODE_SYSTEMS.get(found.level)
    return _compact(
        {
            "@context": CONTEXT,
            "@type": _territory_type(found),
            "@id": page,
            "name": found.name,
            "identifier": {"@type": "PropertyValue", "propertyID": system, "value": found.code}
            if system is not None
            else None,
            "geo": _territory_geo(found),
            "containedInPlace": territory_ref(parent, urls) if parent is not None else None,
            "url": page,
        }
    )


# schema.org types a point of interest's kind has; the others are plain Places.
_PLACE_TYPES: Final = {
    "recycling_centre": "RecyclingCenter",
    "heritage": "LandmarksOrHistoricalBuildings",
    "parking": "ParkingFacility",
}


def point_of_interest(found: Place, kind_name: str) -> JsonLd:
    """A point of interest as a schema:Place (or its more precise type), its kind in words as
    `additionalType`, its address, point and photos."""
    address = _compact(
        {
            "@type": "PostalAddress",
            "streetAddress": found.address.street,
            "postalCode": found.address.postal_code,
            "addressLocality": found.address.locality,
            "addressCountry": "FR",
        }
    )
    return _compact(
        {
            "@context": CONTEXT,
            "@type": _PLACE_TYPES.get(found.kind, "Place"),
            "@id": found.uri,
            "url": found.url or found.uri,
            "name": _text(found.name, 200),
            "additionalType": kind_name,
            "description": _text(html_to_text(found.description_html)),
            "address": address if len(address) > 2 else None,
            "geo": geo(found.latitude, found.longitude),
            "image": [photo.url for photo in found.photos],
        }
    )
