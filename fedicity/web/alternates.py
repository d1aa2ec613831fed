"""The open-data files a page advertises: one list per kind of page, for the `<link
rel="alternate">` elements of its head and the "Open data" line people see (both rendered by
templates/_opendata.html from the same list, so they cannot disagree).

Every URL comes from urls.py; titles and labels are in the reader's language. The catalogue
(urls.catalogue, on every page) is added by the template, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from fedicity.settings import Settings
from fedicity.territories.models import Territory
from fedicity.urls import Urls
from fedicity.web.i18n import gettext

RSS: Final = "application/rss+xml"
ATOM: Final = "application/atom+xml"
ICALENDAR: Final = "text/calendar"
GEOJSON: Final = "application/geo+json"
CSV: Final = "text/csv"
JSON_LD: Final = "application/ld+json"
# The tables of a territory, in the order the "Open data" line shows them.
TABLES: Final = ("organizations.csv", "events.csv", "proposals.csv")


@dataclass(frozen=True)
class Alternate:
    """One file: its media type, address, title (the head's, whole) and label (the line's)."""

    type: str
    href: str
    title: str
    label: str


def _feeds(rss: str, atom: str, name: str) -> list[Alternate]:
    return [
        Alternate(RSS, rss, gettext("%(name)s (RSS)", name=name), "RSS"),
        Alternate(ATOM, atom, gettext("%(name)s (Atom)", name=name), "Atom"),
    ]


def _territory_file(urls: Urls, level: str, code: str, file: str, place: str) -> Alternate:
    """One of a territory's files (urls.territory_export), titled with the territory's name."""
    href = urls.territory_export(level, code, file)
    if file == "agenda.ics":
        return _agenda(href, place)
    if file == "map.geojson":
        return Alternate(
            GEOJSON, href, gettext("Map of %(place)s (GeoJSON)", place=place), "GeoJSON"
        )
    label = {
        "organizations.csv": gettext("Organisations (CSV)"),
        "events.csv": gettext("Events (CSV)"),
        "proposals.csv": gettext("Proposals (CSV)"),
    }[file]
    return Alternate(
        CSV, href, gettext("%(table)s \N{EN DASH} %(place)s", table=label, place=place), label
    )


def _agenda(href: str, name: str) -> Alternate:
    return Alternate(
        ICALENDAR, href, gettext("Agenda of %(name)s (iCalendar)", name=name), "iCalendar"
    )


def territory(urls: Urls, place: Territory) -> list[Alternate]:
    """A territory's page: its live feed (RSS, Atom), agenda, map and the three tables."""
    level, code, name = place.level, place.code, place.name
    feed = gettext("News of %(place)s", place=name)
    return [
        *_feeds(
            urls.territory_feed(level, code, "rss"), urls.territory_feed(level, code, "atom"), feed
        ),
        *(
            _territory_file(urls, level, code, file, name)
            for file in ("agenda.ics", "map.geojson", *TABLES)
        ),
    ]


def actor(urls: Urls, username: str, name: str) -> list[Alternate]:
    """A person's or an organisation's page: its public posts (RSS, Atom) and its events."""
    posts = gettext("Posts of %(name)s", name=name)
    return [
        *_feeds(urls.actor_feed(username, "rss"), urls.actor_feed(username, "atom"), posts),
        _agenda(urls.actor_agenda(username), name),
    ]


def event(urls: Urls, token: str, title: str) -> list[Alternate]:
    """An event's page: the event as iCalendar."""
    return [
        Alternate(
            ICALENDAR,
            urls.event_ical(token),
            gettext("%(title)s (iCalendar)", title=title),
            "iCalendar",
        )
    ]


def _served(urls: Urls, settings: Settings, files: tuple[str, ...]) -> list[Alternate]:
    """Files of the served territory (none when the instance serves none)."""
    level, code = settings.territory_level, settings.territory_code
    if not code:
        return []
    name = settings.territory_name or code
    return [_territory_file(urls, level, code, file, name) for file in files]


def events_list(urls: Urls, settings: Settings) -> list[Alternate]:
    """The events list: the served territory's agenda and its events table."""
    return _served(urls, settings, ("agenda.ics", "events.csv"))


def proposals_list(
    urls: Urls, settings: Settings, state: str | None, state_label: str | None
) -> list[Alternate]:
    """The proposals list: the proposals' feeds (in the state it shows, if one) and the served
    territory's proposals table."""
    query = "?" + urlencode({"state": state}) if state else ""
    title = (
        gettext("Proposals: %(state)s", state=state_label or state)
        if state
        else gettext("Proposals")
    )
    return [
        *_feeds(urls.proposals_feed("rss") + query, urls.proposals_feed("atom") + query, title),
        *_served(urls, settings, ("proposals.csv",)),
    ]


def organizations_list(urls: Urls, settings: Settings) -> list[Alternate]:
    """The organisations directory: the served territory's directory table and its map."""
    return _served(urls, settings, ("organizations.csv", "map.geojson"))


def tag(urls: Urls, name: str) -> list[Alternate]:
    """A hashtag's page: the events carrying it, as iCalendar."""
    return [_agenda(urls.tag_agenda(name), f"#{name}")]


def map_of(urls: Urls, place: Territory | None) -> list[Alternate]:
    """The map: the GeoJSON of the territory it shows."""
    if place is None:
        return []
    return [_territory_file(urls, place.level, place.code, "map.geojson", place.name)]
