"""Ours -> ActivityStreams: a local event as an `Event` (FEP-8a8e + Mobilizon's vocabulary), its
companion poll as a `Question` (Mastodon's), the direct Note explaining a vote that took no place,
and the activities that carry them to the organiser's followers. Pure: the callers read the
database and publish."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from html import escape
from typing import Any

from fedicity.activitypub.activities import activity
from fedicity.activitypub.dates import format_datetime, format_wall_time
from fedicity.activitypub.vocab import AS_CONTEXT, PUBLIC
from fedicity.events.models import POLL_OPTIONS, Event, Location, Status
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
POLL_EXTENSION: dict[str, Any] = {
    "toot": "http://joinmastodon.org/ns#",
    "votersCount": "toot:votersCount",
}


def image_media_type(url: str) -> str | None:
    """The image type a URL's extension names (image/jpeg...), if any."""
    guessed, _encoding = mimetypes.guess_type(url.split("?", 1)[0].split("#", 1)[0])
    return guessed if guessed is not None and guessed.startswith("image/") else None


def event_context(urls: Urls) -> list[Any]:
    """The @context of our Event documents."""
    return [AS_CONTEXT, FEP_8A8E_CONTEXT, urls.context, EVENT_TERMS]


def _place(loc: Location) -> dict[str, Any] | None:
    """The event's `location`: a Place with its postal address and coordinates, if it has one."""
    if not loc.has_place and loc.latitude is None:
        return None
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
    return place


def _banner(event: Event) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The banner: `image` for FEP-8a8e readers and Mobilizon, and an image attachment with a
    media type too, which is what Mastodon shows on the status it makes of an Event (none when
    the type is unknown). Our uploads also carry their pixel size (read from the file's header)."""
    assert event.image_url is not None
    image: dict[str, Any] = {"type": "Image", "url": event.image_url, "name": "Banner"}
    media_type = event.image_media_type or image_media_type(event.image_url)
    if media_type is None:
        return image, None
    size: dict[str, int] = {}
    if event.image_width is not None and event.image_height is not None:
        size = {"width": event.image_width, "height": event.image_height}
    image.update(mediaType=media_type, **size)
    attachment = {
        "type": "Document",
        "name": "Banner",
        "mediaType": media_type,
        "url": event.image_url,
        **size,
    }
    return image, attachment


def _optional(event: Event, urls: Urls) -> dict[str, Any]:
    """The members an event has only sometimes."""
    members: dict[str, Any] = {}
    if event.is_local and event.public:
        members["companionPoll"] = urls.companion_poll(event.uri)
    if event.description_source is not None:
        members["source"] = {"content": event.description_source, "mediaType": "text/markdown"}
    if event.category:
        members["category"] = event.category
    if event.join_mode == "external" and event.external_url:
        members["externalParticipationUrl"] = event.external_url
    if event.updated is not None:
        members["updated"] = format_datetime(event.updated)
    if event.parent_uri:
        members["superEvent"] = event.parent_uri
    place = _place(event.location)
    if place is not None:
        members["location"] = place
    return members


def _attachments(event: Event) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the attachments: the online address, the banner; the `image` member if any)."""
    attachments: list[dict[str, Any]] = []
    if event.location.online_url:
        attachments.append(
            {
                "type": "Link",
                "name": "Website",
                "href": event.location.online_url,
                "mediaType": "text/html",
            }
        )
    if not event.image_url:
        return attachments, {}
    image, banner = _banner(event)
    if banner is not None:
        attachments.append(banner)
    return attachments, {"image": image}


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
    capacity = event.capacity
    attachments, image = _attachments(event)
    document: dict[str, Any] = {
        "id": event.uri,
        "type": "Event",
        "name": event.title,
        "attributedTo": event.organizer_uri,
        "organizers": {"type": "Collection", "totalItems": 1, "items": [event.organizer_uri]},
        "content": title_html(event.title) + words + event.description_html,
        "mediaType": "text/html",
        "startTime": format_wall_time(event.starts_at, zone(event.timezone)),
        "endTime": format_wall_time(event.ends_at, zone(event.timezone)) if event.ends_at else None,
        "timezone": event.timezone,
        "allDay": event.all_day,
        "ical:status": _ICAL_STATUS[event.status],
        "joinMode": event.join_mode,
        "participantCount": participant_count,
        "maximumAttendeeCapacity": capacity,
        "remainingAttendeeCapacity": (
            max(0, capacity - participant_count) if capacity is not None else None
        ),
        "attendees": urls.attendees(event.uri),
        "published": format_datetime(event.published),
        "url": event.url or event.uri,
        "to": [PUBLIC],
        "cc": [urls.followers_of(event.organizer_uri)],
        "tag": [
            {"type": "Hashtag", "href": urls.tag(tag), "name": f"#{tag}"} for tag in event.tags
        ],
        "attachment": attachments,
        "isOnline": bool(loc.online_url) and not loc.has_place,
        **_optional(event, urls),
        **image,
    }
    if audience_uri is not None:
        document["audience"] = audience_uri
    if with_context:
        document = {"@context": event_context(urls), **document}
    return document


def event_activity(
    kind: str,
    event: Event,
    urls: Urls,
    *,
    id: str,
    object: Any,
    audience_uri: str | None = None,
    published: str | None = None,
) -> dict[str, Any]:
    """A Create, Update or Delete of an event by its organiser, to the public and its followers
    (and to the territory where it happens, in `audience`)."""
    return activity(
        kind,
        id=id,
        actor=event.organizer_uri,
        object=object,
        to=[PUBLIC],
        cc=[urls.followers_of(event.organizer_uri)],
        published=published,
        context=event_context(urls),
        audience=audience_uri,
    )


def tombstone(uri: str, former_type: str) -> dict[str, Any]:
    """What a Delete carries of a deleted event or poll."""
    return {"id": uri, "type": "Tombstone", "formerType": former_type}


# --- the companion poll ------------------------------------------------------------------------


def poll_to_ap(
    event: Event, counts: Mapping[str, int], urls: Urls, *, with_context: bool = True
) -> dict[str, Any]:
    """The companion poll as a Question (closed once the event is cancelled or deleted)."""
    words = summary_block(
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        timezone=event.timezone,
        all_day=event.all_day,
        location=event.location,
        cancelled=event.status == "cancelled",
    )
    link = escape(event.url or event.uri)
    document: dict[str, Any] = {
        "id": urls.companion_poll(event.uri),
        "type": "Question",
        "attributedTo": event.organizer_uri,
        "name": event.title,
        "content": (
            f'{title_html(event.title)}{words}<p>Vous venez ? <a href="{link}">{link}</a></p>'
        ),
        "url": event.url or event.uri,
        "published": format_datetime(event.published),
        "endTime": format_datetime(event.starts_at),
        "to": [PUBLIC],
        "cc": [urls.followers_of(event.organizer_uri)],
        "oneOf": [
            {
                "type": "Note",
                "name": option,
                "replies": {"type": "Collection", "totalItems": counts.get(option, 0)},
            }
            for option in POLL_OPTIONS
        ],
        "votersCount": sum(counts.get(option, 0) for option in POLL_OPTIONS),
    }
    if event.updated is not None:
        document["updated"] = format_datetime(event.updated)
    if event.status == "cancelled" or event.deleted_at is not None:
        document["closed"] = format_datetime(event.updated or event.published)
    if with_context:
        document = {"@context": [AS_CONTEXT, POLL_EXTENSION], **document}
    return document


def poll_activity(kind: str, event: Event, urls: Urls, *, id: str, object: Any) -> dict[str, Any]:
    """A Create, Update or Delete of the companion poll, to the public and the followers."""
    return activity(
        kind,
        id=id,
        actor=event.organizer_uri,
        object=object,
        to=[PUBLIC],
        cc=[urls.followers_of(event.organizer_uri)],
        context=[AS_CONTEXT, POLL_EXTENSION],
    )


def vote_refusal_note(
    event: Event, *, note_id: str, voter: str, handle: str, why: str, published: str
) -> dict[str, Any]:
    """The organiser's direct Note telling a voter why "J'y vais" took no place (Mastodon ignores
    a Reject); `handle` is the voter's @user@host, or their id when unknown."""
    short = handle.split("@")[1] if handle.startswith("@") else handle
    link = escape(event.url or event.uri)
    return {
        "id": note_id,
        "type": "Note",
        "attributedTo": event.organizer_uri,
        "to": [voter],
        "cc": [],
        "content": (
            f'<p><span class="h-card"><a href="{escape(voter)}" class="u-url mention">'
            f"@<span>{escape(short)}</span></a></span> "
            f'« <a href="{link}">{escape(event.title)}</a> » : {escape(why)}</p>'
        ),
        "tag": [{"type": "Mention", "href": voter, "name": handle}],
        "published": published,
    }
