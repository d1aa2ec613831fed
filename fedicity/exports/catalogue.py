"""The catalogue of the instance's datasets, as DCAT-AP JSON-LD (pure): what the open-data
portals (data.gouv.fr, CKAN, uData) harvest, with the licence and the update frequency."""

from __future__ import annotations

from typing import Any

from fedicity.exports.models import Dataset, Distribution
from fedicity.territories.models import Territory
from fedicity.urls import Urls

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
# The EU's frequency vocabulary, which DCAT-AP names for dct:accrualPeriodicity.
CONTINUOUS = "http://publications.europa.eu/resource/authority/frequency/CONT"
_IANA = "https://www.iana.org/assignments/media-types/"

ICAL = ("text/calendar", "iCalendar")
CSV = ("text/csv", "CSV")
GEOJSON = ("application/geo+json", "GeoJSON")
RSS = ("application/rss+xml", "RSS")
ATOM = ("application/atom+xml", "Atom")


def _file(url: str, kind: tuple[str, str]) -> Distribution:
    return Distribution(url=url, media_type=kind[0], format=kind[1])


def datasets(urls: Urls, territory: Territory | None) -> list[Dataset]:
    """The datasets: the served territory's agenda, organisations, proposals, posts and map
    (only the proposals when the instance serves no territory)."""
    found: list[Dataset] = []
    if territory is not None:
        level, code, name = territory.level, territory.code, territory.name

        def export(file: str) -> str:
            return urls.territory_export(level, code, file)

        page = urls.territory(level, code)
        found += [
            Dataset(
                "agenda",
                f"Agenda : {name}",
                f"Les événements publics de {name} et des territoires qu'il contient, "
                "annulations comprises.",
                page,
                (_file(export("agenda.ics"), ICAL), _file(export("events.csv"), CSV)),
            ),
            Dataset(
                "organizations",
                f"Annuaire des organisations : {name}",
                "Les associations, collectifs, entreprises et collectivités inscrits ici : "
                "nom, type, identifiant officiel (SIREN, RNA) vérifié, territoire, liens.",
                urls.absolute("/organizations"),
                (_file(export("organizations.csv"), CSV),),
            ),
        ]
    tables = (
        (_file(urls.territory_export(territory.level, territory.code, "proposals.csv"), CSV),)
        if territory is not None
        else ()
    )
    found.append(
        Dataset(
            "proposals",
            f"Propositions : {territory.name}" if territory else "Propositions",
            "Les propositions citoyennes, leur état et le résultat de leurs votes.",
            urls.absolute("/proposals"),
            (
                *tables,
                _file(urls.proposals_feed("rss"), RSS),
                _file(urls.proposals_feed("atom"), ATOM),
            ),
        )
    )
    if territory is not None:
        level, code, name = territory.level, territory.code, territory.name
        page = urls.territory(level, code)
        found += [
            Dataset(
                "posts",
                f"Fil d'actualité : {name}",
                f"Ce qui se publie à {name} et dans les territoires qu'il contient : "
                "messages, événements, propositions.",
                page,
                (
                    _file(urls.territory_feed(level, code, "rss"), RSS),
                    _file(urls.territory_feed(level, code, "atom"), ATOM),
                ),
            ),
            Dataset(
                "map",
                f"Carte : {name}",
                "Les événements à venir, les organisations et les lieux de ce qui se publie, "
                "en GeoJSON (RFC 7946, WGS 84) pour uMap, QGIS ou Leaflet.",
                urls.absolute("/map"),
                (_file(urls.territory_export(level, code, "map.geojson"), GEOJSON),),
            ),
        ]
    return found


def _fr(text: str) -> dict[str, str]:
    return {"@value": text, "@language": "fr"}


def catalogue(
    *, urls: Urls, name: str, publisher: str, licence: str, found: list[Dataset]
) -> dict[str, Any]:
    """The dcat:Catalog with one dcat:Dataset per dataset and its dcat:Distributions."""
    return {
        "@context": CONTEXT,
        "@id": urls.catalogue,
        "@type": "dcat:Catalog",
        "dct:title": _fr(f"Données ouvertes : {name}"),
        "dct:description": _fr(
            "Les données publiques de cette instance fedicity : agenda, organisations, "
            "propositions, fil d'actualité et carte."
        ),
        "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/FRA"},
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": publisher},
        "foaf:homepage": {"@id": urls.root},
        "dcat:landingPage": {"@id": urls.opendata},
        "dct:license": {"@id": licence},
        "dcat:dataset": [
            {
                "@id": f"{urls.opendata}#{dataset.key}",
                "@type": "dcat:Dataset",
                "dct:identifier": f"{urls.opendata}#{dataset.key}",
                "dct:title": _fr(dataset.title),
                "dct:description": _fr(dataset.description),
                "dct:publisher": {"@type": "foaf:Agent", "foaf:name": publisher},
                "dct:license": {"@id": licence},
                "dct:accrualPeriodicity": {"@id": CONTINUOUS},
                "dcat:landingPage": {"@id": dataset.page},
                "dcat:distribution": [
                    {
                        "@type": "dcat:Distribution",
                        "dcat:accessURL": {"@id": file.url},
                        "dcat:downloadURL": {"@id": file.url},
                        "dcat:mediaType": {"@id": _IANA + file.media_type},
                        "dct:format": file.format,
                        "dct:license": {"@id": licence},
                    }
                    for file in dataset.distributions
                ],
            }
            for dataset in found
        ],
    }
