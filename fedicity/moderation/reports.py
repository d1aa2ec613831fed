"""Reports, as Mastodon keeps them: a citizen's report from the form or a Flag from another
server, in one queue; a copy of a report about remote content forwarded to its server as a Flag
from the instance actor (so the reporter stays unnamed there); closing a report says who closed it
and how, writes the audit log, and tells a local reporter the outcome (never the moderator's
private reason).

What a reported URI is (a post, an event, a proposal, a comment, an actor) is read by the packages
above this one (see stewardship/targets.py); this module takes it already resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, get_args

from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.activities import activity
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import Actor as AuditActor
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.moderation import queries
from fedicity.moderation.queries import Report
from fedicity.notifications.service import notify
from fedicity.ratelimit.limiter import Limit, hit
from fedicity.urls import Urls, new_token

Category = Literal["spam", "legal", "violation", "other"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
TargetKind = Literal["post", "event", "proposal", "comment", "actor", "place"]
TARGET_KINDS: tuple[TargetKind, ...] = get_args(TargetKind)
Resolution = Literal[
    "dismissed",
    "content_removed",
    "content_hidden",
    "account_silenced",
    "account_suspended",
    "domain_suspended",
]
RESOLUTIONS: tuple[Resolution, ...] = get_args(Resolution)

MAX_COMMENT = 1000
# Objects of one actor a report may carry (the reported one and some of their other posts).
MAX_TARGETS = 20
# Reports one account may file: enough for a bad day, not for flooding the moderators.
FILING_LIMIT = Limit("report.file", 10, timedelta(hours=1))


class ReportError(DomainError):
    """A report refused or an action on a report refused."""


@dataclass(frozen=True)
class NewReport:
    """What a citizen reports: the objects (URIs, the first the one they chose), whose they are,
    where they live here, why."""

    kind: TargetKind
    targets: tuple[str, ...]
    target_actor: str | None
    category: str
    comment: str
    forward: bool
    organization_id: int | None = None
    territory_id: int | None = None


def check(new: NewReport) -> None:
    """Refuse a report that says nothing usable, with the field's code."""
    if new.kind not in TARGET_KINDS:
        raise ReportError("report_kind", "one reports a post, event, proposal, comment or actor")
    if new.category not in CATEGORIES:
        raise ReportError("report_category", f"a category is one of {', '.join(CATEGORIES)}")
    if len(new.comment) > MAX_COMMENT:
        raise ReportError("report_comment_long", f"a comment is at most {MAX_COMMENT} characters")
    if not new.targets or len(new.targets) > MAX_TARGETS:
        raise ReportError("report_targets", f"a report names 1 to {MAX_TARGETS} objects")


def flag_document(report: Report, *, instance_actor: str) -> dict[str, object]:
    """The Flag sent for a report about remote content: from the instance actor, naming the
    account and those of the reported objects that live on its server."""
    assert report.target_actor is not None
    origin = host_of(report.target_actor)
    objects = [uri for uri in report.targets if host_of(uri) == origin]
    named = [report.target_actor, *(uri for uri in objects if uri != report.target_actor)]
    return activity(
        "Flag",
        id=report.activity_uri,
        actor=instance_actor,
        object=named,
        to=[report.target_actor],
        content=report.content,
    )


def forwardable(report: Report, urls: Urls) -> bool:
    """Whether a report is about another server's account (so it can go there)."""
    return report.target_actor is not None and host_of(report.target_actor) != host_of(urls.base)


async def file_report(
    conn: Connection,
    *,
    reporter: Actor,
    account_id: int,
    new: NewReport,
    instance_actor: Actor,
    urls: Urls,
    clock: Clock,
) -> Report:
    """Store a citizen's report (and forward it when asked and remote), in one transaction;
    ReportError when refused or over the filing limit."""
    check(new)
    now = clock.now()
    async with conn.transaction():
        verdict = await hit(conn, FILING_LIMIT, str(account_id), now)
        if not verdict.allowed:
            raise ReportError("report_rate", "too many reports for now; try again later")
        report_id = await queries.insert_local_report(
            conn,
            activity_uri=urls.activity(new_token()),
            reporter=urls.actor(reporter.username),
            reporter_account_id=account_id,
            targets=list(new.targets),
            target_kind=new.kind,
            target_actor=new.target_actor,
            category=new.category,
            content=new.comment.strip(),
            organization_id=new.organization_id,
            territory_id=new.territory_id,
            now=now,
        )
        report = await queries.select_report(conn, report_id)
        assert report is not None
        if new.forward and forwardable(report, urls):
            report = await forward(
                conn, report, instance_actor=instance_actor, urls=urls, clock=clock
            )
    return report


async def forward(
    conn: Connection, report: Report, *, instance_actor: Actor, urls: Urls, clock: Clock
) -> Report:
    """Send a copy of the report to the reported account's server, signed by the instance
    actor, through the outbox (the delivery worker signs and retries)."""
    if not forwardable(report, urls):
        raise ReportError("report_not_remote", "only a report about a remote account is forwarded")
    if report.forwarded_at is not None:
        return report
    assert report.target_actor is not None
    await publish(
        conn,
        actor=instance_actor,
        activity=flag_document(report, instance_actor=urls.instance_actor),
        audience=Audience(actors=frozenset({report.target_actor})),
        urls=urls,
        clock=clock,
    )
    await queries.update_report_forwarded(conn, report.id, clock.now())
    updated = await queries.select_report(conn, report.id)
    assert updated is not None
    return updated


def reporter_page(urls: Urls, report_id: int) -> str:
    """Where a local reporter reads what became of their report."""
    return urls.absolute(f"/reports/{report_id}")


async def close(
    conn: Connection,
    report: Report,
    *,
    by: AuditActor,
    resolution: Resolution,
    reason: str,
    urls: Urls,
    clock: Clock,
) -> None:
    """Resolve an open report (who, how), write the audit log, and tell a local reporter the
    outcome; ReportError when it was closed already."""
    now = clock.now()
    if not await queries.resolve_report(
        conn, report.id, by=by.name, resolution=resolution, now=now
    ):
        raise ReportError("report_closed", "this report was already handled")
    await audit_queries.record(
        conn,
        by,
        "report.resolve",
        target=f"report:{report.id}",
        reason=reason,
        details={"report": report.id, "resolution": resolution},
        now=now,
    )
    if report.reporter_account_id is not None:
        await notify(
            conn,
            recipient=report.reporter,
            kind="report_resolved",
            actor_uri=urls.instance_actor,
            object_uri=reporter_page(urls, report.id),
            urls=urls,
            clock=clock,
        )
