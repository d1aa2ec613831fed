"""The CSV tables of a territory (RFC 4180: a header row, CRLF, UTF-8 without a BOM): its
organisations' directory, its events, its proposals with their results. A cell that a
spreadsheet would run as a formula is made text (audit/export.py's rule)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from fedicity.activitypub.dates import format_datetime
from fedicity.audit.export import csv_line, spreadsheet_cell
from fedicity.events.models import Event
from fedicity.events.text import zone
from fedicity.exports.models import DirectoryEntry
from fedicity.proposals import votes
from fedicity.proposals.models import ABSTAIN, AGAINST, FOR, Proposal, Tally
from fedicity.sanitize import safe_url
from fedicity.urls import Urls

ORGANIZATIONS_HEADER = (
    "name",
    "kind",
    "official_id_kind",
    "official_id",
    "address",
    "postal_code",
    "territory_code",
    "territory_name",
    "page",
    "actor_id",
    "website",
    "email",
    "latitude",
    "longitude",
)
EVENTS_HEADER = (
    "title",
    "start",
    "end",
    "timezone",
    "all_day",
    "status",
    "place",
    "address",
    "latitude",
    "longitude",
    "online_url",
    "organizer",
    "url",
    "tags",
)
PROPOSALS_HEADER = (
    "title",
    "state",
    "published",
    "voting_opens",
    "voting_ends",
    "votes_for",
    "votes_against",
    "votes_abstain",
    "tally",
    "voters",
    "outcome",
    "url",
)


def _line(values: Iterable[str]) -> str:
    return csv_line(tuple(spreadsheet_cell(value) for value in values))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def organizations(entries: Iterable[DirectoryEntry], urls: Urls) -> Iterator[str]:
    """The directory: the header, then one record per organisation, its contacts where known
    (the website only when safe to link)."""
    yield csv_line(ORGANIZATIONS_HEADER)
    for entry in entries:
        yield _line(
            (
                entry.name,
                entry.organization_kind or "",
                entry.official_id_kind or "",
                entry.official_id_value or "",
                entry.address or "",
                entry.postal_code or "",
                entry.territory_code or "",
                entry.territory_name or "",
                urls.organization_page(entry.username),
                urls.actor(entry.username),
                safe_url(entry.website) or "",
                entry.email or "",
                _number(entry.latitude),
                _number(entry.longitude),
            )
        )


def events(found: Iterable[Event]) -> Iterator[str]:
    """The events: times with the offset of the event's own zone, named in `timezone`."""
    yield csv_line(EVENTS_HEADER)
    for event in found:
        tz = zone(event.timezone)
        where = event.location
        town = " ".join(p for p in (where.postal_code, where.locality) if p)
        yield _line(
            (
                event.title,
                event.starts_at.astimezone(tz).isoformat(),
                event.ends_at.astimezone(tz).isoformat() if event.ends_at else "",
                event.timezone,
                "true" if event.all_day else "false",
                event.status,
                where.place_name or "",
                ", ".join(p for p in (where.street, town) if p),
                _number(where.latitude),
                _number(where.longitude),
                safe_url(where.online_url) or "",
                event.organizer_uri,
                (safe_url(event.url) if not event.is_local else None) or event.uri,
                " ".join(event.tags),
            )
        )


def _outcome(proposal: Proposal, tally: Tally) -> str:
    """The result of a vote that ended (adopted, rejected, chosen: OPTION, tie, none)."""
    if proposal.state not in ("closed", "archived"):
        return ""
    where = votes.standing(proposal, tally, ())
    result = proposal.result or votes.compute_result(proposal, tally)
    said = votes.outcome(proposal, result, where)
    return f"chosen: {said.option}" if said.kind == "chosen" else said.kind


def proposals(found: Iterable[Proposal], tallies: Mapping[int, Tally]) -> Iterator[str]:
    """The proposals with their counted votes: for / against / abstain for the default ballot,
    else `tally` ("option: n" joined by "; "), and the outcome once the vote ended."""
    yield csv_line(PROPOSALS_HEADER)
    for proposal in found:
        tally = tallies.get(proposal.id, Tally())
        federated = proposal.federated_votes_count

        def counted(option: str, tally: Tally = tally, federated: bool = federated) -> str:
            return str(tally.counted(option, federated_votes_count=federated))

        default = proposal.is_default_ballot
        yield _line(
            (
                proposal.title,
                proposal.state,
                format_datetime(proposal.published),
                format_datetime(proposal.voting_opens) if proposal.voting_opens else "",
                format_datetime(proposal.voting_ends) if proposal.voting_ends else "",
                counted(FOR) if default else "",
                counted(AGAINST) if default else "",
                counted(ABSTAIN) if default else "",
                "; ".join(f"{option}: {counted(option)}" for option in proposal.options),
                str(tally.counted_voters(federated_votes_count=federated)),
                _outcome(proposal, tally),
                proposal.uri,
            )
        )
