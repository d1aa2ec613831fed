"""ActivityStreams -> ours for projects: what a remote `Group` with `kind: "Project"` says of
itself (kept in the remote actor's raw document, read here when shown). Pure; hostile input
gives None or leaves a field out, never an exception."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from fedicity.projects.models import (
    FIRST_YEAR,
    LAST_YEAR,
    MATURITIES,
    MAX_LICENSE,
    Maturity,
    RemoteProject,
)
from fedicity.sanitize import safe_url

# A place name longer than this is not one.
MAX_LOCATION_NAME = 200


def is_project(document: dict[str, Any]) -> bool:
    """Whether an actor document describes a project."""
    return document.get("type") == "Group" and document.get("kind") == "Project"


def parse_day(value: object) -> date | None:
    """A startTime or endTime (xsd:dateTime or a bare date) as a day; None when unreadable or
    outside the years a project can have."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
        else:
            day = datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else None


def _text(value: object, limit: int) -> str:
    if not isinstance(value, str) or "\x00" in value:
        return ""
    return value.strip()[:limit]


def _id(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return safe_url(value)


def parse_project(document: dict[str, Any]) -> RemoteProject | None:
    """A remote project's fields, or None when the document is not a project's."""
    if not is_project(document):
        return None
    uri = safe_url(document.get("id"))
    if uri is None:
        return None
    maturity = document.get("maturity")
    starts_on = parse_day(document.get("startTime"))
    ends_on = parse_day(document.get("endTime"))
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        ends_on = None
    location = document.get("location")
    location_name = (
        _text(location.get("name"), MAX_LOCATION_NAME) if isinstance(location, dict) else ""
    )
    return RemoteProject(
        uri=uri,
        maturity=cast(Maturity, maturity) if maturity in MATURITIES else None,
        starts_on=starts_on,
        ends_on=ends_on,
        license=_text(document.get("license"), MAX_LICENSE),
        parent_organization_uri=_id(document.get("parentOrganization")),
        parent_project_uri=_id(document.get("parentProject")),
        contributors_uri=_id(document.get("contributors")),
        location_name=location_name,
    )
