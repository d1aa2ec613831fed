"""A local event as an ActivityStreams `Event` (FEP-8a8e + Mobilizon's vocabulary).

Kept apart from `events.ap` (the inbound handlers) so that `events.poll` can build the Event it
republishes when the participant count changes without importing the handlers."""

from __future__ import annotations

import mimetypes
from typing import Any

from fedicity.activitypub.dates import format_datetime, format_wall_time
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC
from fedicity.events.models import Event, Status
from fedicity.events.text import summary_block, zone
from fedicity.textfmt import title_html
from fedicity.urls import Urls

FEP_8A8E_CONTEXT = "https://w3id.org/fep/8a8e"
# Spelled out inline, as Mobilizon does, for consumers that read short names without JSON-LD.
EVENT_TERMS: dict[str, Any] = {
    "sc": "http://schema.org#",
    "mz": "https://joinmobilizon.org/ns#",
    "ical": "http://www.w3.org/2002/12/cal/ical#",
    "fc": "https://fedicity.org/ns#",
    "Hashtag": "as:Hashtag",
    "PostalAddress": "sc:PostalAddress",
    "address": {"@id": "sc:address", "@type": "sc:PostalAddress"},
    "streetAddress": "sc:streetAddress",
    "postalCode": "sc:postalCode",
    "addressLocality": "sc:addressLocality",
    "addressRegion": "sc:addressRegion",
    "addressCountry": "sc:addressCountry",
    "category": "sc:category",
    "maximumAttendeeCapacity": "sc:maximumAttendeeCapacity",
    "remainingAttendeeCapacity": "sc:remainingAttendeeCapacity",
    "superEvent": {"@id": "sc:superEvent", "@type": "@id"},
    "joinMode": {"@id": "mz:joinMode", "@type": "mz:joinModeType"},
    "externalParticipationUrl": {"@id": "mz:externalParticipationUrl", "@type": "sc:URL"},
    "participantCount": {"@id": "mz:participantCount", "@type": "sc:Integer"},
    "timezone": {"@id": "mz:timezone", "@type": "sc:Text"},
    "isOnline": {"@id": "mz:isOnline", "@type": "sc:Boolean"},
    "allDay": "fc:allDay",
    "companionPoll": {"@id": "fc:companionPoll", "@type": "@id"},
}
_ICAL_STATUS: dict[Status, str] = {
    "confirmed": "CONFIRMED",
    "tentative": "TENTATIVE",
    "cancelled": "CANCELLED",
}


def image_media_type(url: str) -> str | None:
    """The image type a URL's extension names (image/jpeg...), if any."""
    guessed, _encoding = mimetypes.guess_type(url.split("?", 1)[0].split("#", 1)[0])
    return guessed if guessed is not None and guessed.startswith("image/") else None


def event_context(urls: Urls) -> list[Any]:
    """The @context of our Event documents."""
    return [AS_CONTEXT, FEP_8A8E_CONTEXT, urls.context, EVENT_TERMS]


def event_to_ap(
    event: Event,
    urls: Urls,
    *,
    participant_count: int,
    audience_uri: str | None = None,
    with_context: bool = True,
) -> dict[str, Any]:
    """A local event as an `Event`."""
    loc = event.location
    words = summary_block(
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        timezone=event.timezone,
        all_day=event.all_day,
        location=loc,
        cancelled=event.status == "cancelled",
    )
    document: dict[str, Any] = {
        "id": event.uri,
        "type": "Event",
        "name": event.title,
        "attributedTo": event.organizer_uri,
        "organizers": {
            "type": "Collection",
            "totalItems": 1,
            "items": [event.organizer_uri],
        },
        "content": title_html(event.title) + words + event.description_html,
        "mediaType": "text/html",
        "startTime": format_wall_time(event.starts_at, zone(event.timezone)),
        "endTime": format_wall_time(event.ends_at, zone(event.timezone)) if event.ends_at else None,
        "timezone": event.timezone,
        "allDay": event.all_day,
        "ical:status": _ICAL_STATUS[event.status],
        "joinMode": event.join_mode,
        "participantCount": participant_count,
        "maximumAttendeeCapacity": event.capacity,
        "remainingAttendeeCapacity": (
            max(0, event.capacity - participant_count) if event.capacity is not None else None
        ),
        "attendees": urls.attendees(event.uri),
        "published": format_datetime(event.published),
        "url": event.url or event.uri,
        "to": [PUBLIC],
        "cc": [urls.followers_of(event.organizer_uri)],
        "tag": [
            {"type": "Hashtag", "href": urls.tag(tag), "name": f"#{tag}"} for tag in event.tags
        ],
        "attachment": [],
        "isOnline": bool(loc.online_url) and not loc.has_place,
    }
    if event.is_local and event.public:
        document["companionPoll"] = urls.companion_poll(event.uri)
    if event.description_source is not None:
        document["source"] = {"content": event.description_source, "mediaType": "text/markdown"}
    if event.category:
        document["category"] = event.category
    if event.join_mode == "external" and event.external_url:
        document["externalParticipationUrl"] = event.external_url
    if event.updated is not None:
        document["updated"] = format_datetime(event.updated)
    if event.parent_uri:
        document["superEvent"] = event.parent_uri
    if loc.has_place or loc.latitude is not None:
        place: dict[str, Any] = {"type": "Place", "name": loc.place_name or loc.one_line()}
        address = {
            key: value
            for key, value in (
                ("streetAddress", loc.street),
                ("postalCode", loc.postal_code),
                ("addressLocality", loc.locality),
                ("addressRegion", loc.region),
                ("addressCountry", loc.country),
            )
            if value
        }
        if address:
            place["address"] = {"type": "PostalAddress", **address}
        if loc.latitude is not None and loc.longitude is not None:
            place["latitude"] = loc.latitude
            place["longitude"] = loc.longitude
        document["location"] = place
    if loc.online_url:
        document["attachment"].append(
            {"type": "Link", "name": "Website", "href": loc.online_url, "mediaType": "text/html"}
        )
    if event.image_url:
        # The banner: `image` for FEP-8a8e readers and Mobilizon; an image attachment with a
        # media type too, which is what Mastodon shows on the status it makes of an Event.
        # Our uploads also carry their pixel size (read from the file's header).
        document["image"] = {"type": "Image", "url": event.image_url, "name": "Banner"}
        media_type = event.image_media_type or image_media_type(event.image_url)
        size: dict[str, int] = {}
        if event.image_width is not None and event.image_height is not None:
            size = {"width": event.image_width, "height": event.image_height}
        if media_type is not None:
            document["image"].update(mediaType=media_type, **size)
            document["attachment"].append(
                {
                    "type": "Document",
                    "name": "Banner",
                    "mediaType": media_type,
                    "url": event.image_url,
                    **size,
                }
            )
    if audience_uri is not None:
        document["audience"] = audience_uri
    if with_context:
        document = {"@context": event_context(urls), **document}
    return document
