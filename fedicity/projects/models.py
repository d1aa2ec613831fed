"""A project's own fields (its actor, contributors and join rules are an organisation's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, get_args

from fedicity.actors.models import Actor
from fedicity.territories.models import Territory

Maturity = Literal["idea", "concept", "started", "development", "testing", "mature"]
# In the order a project goes through them (the page's step bar).
MATURITIES: tuple[Maturity, ...] = get_args(Maturity)

# A licence is a short name ("CC BY-SA 4.0") or a link to its text.
MAX_LICENSE = 500
# Dates outside these years are typing mistakes, not projects.
FIRST_YEAR = 1900
LAST_YEAR = 2200


@dataclass(frozen=True)
class Project:
    """What a local project has beyond its organisation-shaped actor."""

    actor_id: int
    owner_uri: str
    maturity: Maturity
    starts_on: date | None
    ends_on: date | None
    license: str
    parent_organization_id: int | None
    parent_project_id: int | None
    territory_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ProjectFields:
    """What the form (or the API) says of a project, before it is checked."""

    maturity: str = "idea"
    starts_on: date | None = None
    ends_on: date | None = None
    license: str = ""
    # Local usernames; empty: none.
    parent_organization: str = ""
    parent_project: str = ""
    territory_id: int | None = None


@dataclass(frozen=True)
class ListedProject:
    """A project as the list of projects shows it."""

    actor: Actor
    project: Project


@dataclass(frozen=True)
class RemoteProject:
    """What parse.py reads of another server's project (a Group with kind "Project")."""

    uri: str
    maturity: Maturity | None
    starts_on: date | None
    ends_on: date | None
    license: str
    parent_organization_uri: str | None
    parent_project_uri: str | None
    contributors_uri: str | None
    location_name: str


@dataclass(frozen=True)
class Relations:
    """What a project's ids point at: its parent organisation and project, its territory."""

    parent_organization: Actor | None
    parent_project: Actor | None
    territory: Territory | None
