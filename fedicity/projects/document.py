"""Ours -> ActivityStreams for projects: the organisation's actor document made a FEP-1b12
`Group` with `kind: "Project"` and the fc: terms, plus PropertyValues Mastodon shows; and the
Create a new project is announced with. Pure: the callers read and publish."""

from __future__ import annotations

from datetime import date
from html import escape as escape_html
from typing import Any

from fedicity.activitypub.activities import activity
from fedicity.activitypub.vocab import PUBLIC
from fedicity.projects.models import Project
from fedicity.territories.document import location_of
from fedicity.territories.models import Territory

# The fc: terms a project's document adds (the same as fedicity.jsonld's), inline as Mastodon
# spells its own, so consumers that do not process JSON-LD read them by their short names.
PROJECT_TERMS: dict[str, Any] = {
    "kind": "fc:kind",
    "maturity": "fc:maturity",
    "license": {"@id": "schema:license", "@type": "@id"},
    "parentOrganization": {"@id": "fc:parentOrganization", "@type": "@id"},
    "parentProject": {"@id": "fc:parentProject", "@type": "@id"},
    "contributors": {"@id": "fc:contributors", "@type": "@id"},
}

# What Mastodon shows of each maturity in the profile's fields (French is the default locale).
MATURITY_LABELS = {
    "idea": "Idée",
    "concept": "Concept",
    "started": "Démarré",
    "development": "En développement",
    "testing": "En test",
    "mature": "Mature",
}


def day_time(day: date) -> str:
    """A day as the xsd:dateTime startTime and endTime are (midnight UTC)."""
    return f"{day.isoformat()}T00:00:00Z"


def _is_link(text: str) -> bool:
    return text.startswith(("https://", "http://"))


def _field(name: str, value_html: str) -> dict[str, str]:
    return {"type": "PropertyValue", "name": name, "value": value_html}


def project_document(
    document: dict[str, Any],
    project: Project,
    *,
    contributors_uri: str,
    page_url: str,
    parent_organization_uri: str | None,
    parent_project_uri: str | None,
    territory: Territory | None,
) -> dict[str, Any]:
    """An organisation's actor document (members, moderators) made a project's Group."""
    context = list(document["@context"])
    context[-1] = {**context[-1], **PROJECT_TERMS}
    enriched: dict[str, Any] = {**document, "@context": context, "type": "Group"}
    enriched.pop("organizationKind", None)
    enriched["kind"] = "Project"
    enriched["url"] = page_url
    enriched["maturity"] = project.maturity
    enriched["contributors"] = contributors_uri
    fields = [_field("Maturité", MATURITY_LABELS[project.maturity])]
    if project.starts_on is not None:
        enriched["startTime"] = day_time(project.starts_on)
        fields.append(_field("Début", project.starts_on.isoformat()))
    if project.ends_on is not None:
        enriched["endTime"] = day_time(project.ends_on)
        fields.append(_field("Fin", project.ends_on.isoformat()))
    if project.license:
        enriched["license"] = project.license
        shown = escape_html(project.license)
        fields.append(
            _field(
                "Licence",
                f'<a href="{shown}" rel="nofollow noopener" target="_blank">{shown}</a>'
                if _is_link(project.license)
                else shown,
            )
        )
    if parent_organization_uri is not None:
        enriched["parentOrganization"] = parent_organization_uri
    if parent_project_uri is not None:
        enriched["parentProject"] = parent_project_uri
    if territory is not None:
        enriched["location"] = location_of(territory)
        fields.append(_field("Territoire", escape_html(territory.name)))
    enriched["attachment"] = fields
    return enriched


def create_project(
    *, id: str, document: dict[str, Any], audience_uri: str | None, published: str
) -> dict[str, Any]:
    """Create{object: the project's Group} by the project itself, public, for the territory to
    announce (a follower's server learns the new project, as it learns a new event)."""
    embedded = {key: value for key, value in document.items() if key != "@context"}
    return activity(
        "Create",
        id=id,
        actor=document["id"],
        object=embedded,
        to=[PUBLIC],
        cc=[document["followers"]],
        published=published,
        context=document["@context"],
        audience=audience_uri,
    )
