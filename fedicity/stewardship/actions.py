"""The moderation queue's actions, each in one transaction with its audit entry and, when taken
on a report, the report's resolution and the reporter's notification:

- dismiss: nothing to do;
- remove content: a local object is deleted as its owner's own deletion would delete it (the same
  federated Delete); our copy of a remote one is removed;
- hide from a territory: the object leaves the territory's pages (territory moderators);
- silence an account (local or remote): kept out of territory pages and the territories'
  Announces, its followers still see it;
- suspend an account: a local one cannot log in or post and answers 410 (accounts/suspension.py);
  a remote one's activities are refused at the inbox and our copies of its posts are removed;
- suspend a whole domain (moderation/queries.py's domain policies).

Who may act: the instance's admins on every report; an organisation's admins and moderators on
reports about content on its wall or in its rooms (dismiss, remove); a territory's moderators
on reports about content located in it or below (dismiss, hide).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fedicity.accounts import suspension
from fedicity.accounts.models import Account
from fedicity.activitypub.accessors import host_of
from fedicity.activitypub.activities import activity
from fedicity.activitypub.keys import KeyGenerator
from fedicity.activitypub.vocab import PUBLIC
from fedicity.actors import queries as actor_queries
from fedicity.actors.models import Actor
from fedicity.actors.outbox import Audience, publish
from fedicity.actors.service import ensure_instance_actor, local_actor_for_uri
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import Actor as AuditActor
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.errors import DomainError
from fedicity.events import queries as event_queries
from fedicity.events import service as event_service
from fedicity.events.document import tombstone
from fedicity.follows import queries as follow_queries
from fedicity.located import queries as located_queries
from fedicity.moderation import queries as moderation_queries
from fedicity.moderation import reports
from fedicity.moderation.policy import policy_domain
from fedicity.moderation.queries import Report
from fedicity.organizations import queries as organization_queries
from fedicity.poi import queries as poi_queries
from fedicity.poi import service as poi_service
from fedicity.posts import queries as post_queries
from fedicity.posts import service as post_service
from fedicity.proposals import queries as proposal_queries
from fedicity.stewardship import targets
from fedicity.stewardship.targets import Target
from fedicity.urls import Urls, new_token

Action = Literal["dismiss", "remove", "hide", "silence", "suspend", "suspend_domain"]
ADMIN_ACTIONS: frozenset[Action] = frozenset(
    {"dismiss", "remove", "hide", "silence", "suspend", "suspend_domain"}
)
ORGANIZATION_ACTIONS: frozenset[Action] = frozenset({"dismiss", "remove"})
TERRITORY_ACTIONS: frozenset[Action] = frozenset({"dismiss", "hide"})
MAX_REASON = 5000


class ModerationError(DomainError):
    """An action refused: not allowed, nothing to act on, already done."""


@dataclass(frozen=True)
class Env:
    """What the actions need: URL minting and time."""

    urls: Urls
    clock: Clock


async def allowed_actions(
    conn: Connection, account: Account, report: Report, urls: Urls
) -> frozenset[Action]:
    """What this account may do with this report (empty: it may not even see it)."""
    if account.is_admin:
        return ADMIN_ACTIONS
    allowed: set[Action] = set()
    if report.organization_id is not None:
        membership = await organization_queries.select_membership(
            conn, report.organization_id, urls.actor(account.username)
        )
        if membership is not None and membership.accepted and membership.role != "member":
            allowed |= ORGANIZATION_ACTIONS
    if report.territory_id is not None:
        moderated = await moderation_queries.select_moderated_territories(conn, account.id)
        if await moderation_queries.territory_within(conn, report.territory_id, moderated):
            allowed |= TERRITORY_ACTIONS
    return frozenset(allowed)


async def moderated_scope(
    conn: Connection, account: Account, urls: Urls
) -> tuple[list[int], list[int]]:
    """The organisations (admin or moderator) and territories an account moderates."""
    organizations = [
        organization_id
        for organization_id, role in await organization_queries.select_organizations_of(
            conn, urls.actor(account.username)
        )
        if role in ("admin", "moderator")
    ]
    return organizations, await moderation_queries.select_moderated_territories(conn, account.id)


def _reason(reason: str) -> str:
    return reason.strip()[:MAX_REASON]


async def dismiss(
    conn: Connection, report: Report, *, by: AuditActor, reason: str, env: Env
) -> None:
    """Close a report with nothing done."""
    async with conn.transaction():
        await _close_report(conn, report, "dismissed", by=by, reason=_reason(reason), env=env)


async def _owner(conn: Connection, actor_id: int | None) -> Actor:
    owner = await actor_queries.select_actor_by_id(conn, actor_id) if actor_id else None
    if owner is None:
        raise ModerationError("owner_missing", "the owner of this content is gone")
    return owner


async def remove_object(
    conn: Connection,
    target: Target,
    *,
    by: AuditActor,
    reason: str,
    env: Env,
    report_id: int | None = None,
) -> bool:
    """Remove one object (see the module's docstring); False when there was nothing to remove."""
    now = env.clock.now()
    removed = False
    if target.kind == "post":
        post = await post_queries.select_post(conn, target.uri)
        if post is None:
            return False
        if post.local_actor_id is not None:
            owner = await _owner(conn, post.local_actor_id)
            await post_service.delete_note(
                conn, actor=owner, post=post, urls=env.urls, clock=env.clock
            )
            removed = True
        else:
            removed = await post_queries.mark_post_deleted(conn, post.uri, post.author_uri, now)
            await located_queries.mark_deleted(conn, post.uri, now)
    elif target.kind == "event":
        event = await event_queries.select_event(conn, target.uri)
        if event is None:
            return False
        if event.local_actor_id is not None:
            owner = await _owner(conn, event.local_actor_id)
            await event_service.delete_event(
                conn, actor=owner, event=event, urls=env.urls, clock=env.clock
            )
            removed = True
        else:
            removed = await event_queries.mark_deleted(conn, event.uri, event.organizer_uri, now)
            await located_queries.mark_deleted(conn, event.uri, now)
    elif target.kind == "place":
        place = await poi_queries.select_place(conn, target.uri)
        if place is None or place.deleted_at is not None:
            return False
        if place.local_actor_id is not None:
            owner = await _owner(conn, place.local_actor_id)
            await poi_service.delete_place(
                conn, editor=owner, is_admin=True, place=place, urls=env.urls, clock=env.clock
            )
            removed = True
        else:
            removed = await poi_queries.mark_deleted(conn, place.uri, place.author_uri, now)
            await located_queries.mark_deleted(conn, place.uri, now)
    elif target.kind == "comment" and target.owner is not None:
        removed = await proposal_queries.delete_comment(
            conn, uri=target.uri, author_uri=target.owner
        )
        author = await local_actor_for_uri(conn, env.urls, target.owner) if target.local else None
        if removed and author is not None:
            # As the author's servers learn of any deletion: a Delete of a Tombstone.
            await publish(
                conn,
                actor=author,
                activity=activity(
                    "Delete",
                    id=env.urls.activity(new_token()),
                    actor=target.owner,
                    object=tombstone(target.uri, "Note"),
                    to=[PUBLIC],
                ),
                audience=Audience(followers=True),
                urls=env.urls,
                clock=env.clock,
            )
    else:
        raise ModerationError("not_removable", "a proposal or an account is not removed this way")
    if removed:
        details: dict[str, object] = {"kind": target.kind, "local": target.local}
        if report_id is not None:
            details["report"] = report_id
        await audit_queries.record(
            conn, by, "content.remove", target=target.uri, reason=reason, details=details, now=now
        )
    return removed


async def _objects(conn: Connection, report: Report, urls: Urls) -> list[Target]:
    return [
        target
        for target in await targets.find_all(conn, urls, report.targets)
        if target.kind != "actor" and not target.removed
    ]


async def remove_content(
    conn: Connection,
    report: Report,
    *,
    by: AuditActor,
    reason: str,
    env: Env,
    organization_id: int | None = None,
) -> int:
    """Remove the reported objects and close the report; how many went. With
    `organization_id` (an organisation's moderator acting), only those on its wall or in its
    rooms: a report may carry the author's other posts, which are not theirs to remove."""
    reason = _reason(reason)
    async with conn.transaction():
        count = 0
        for target in await _objects(conn, report, env.urls):
            if target.kind == "proposal":
                continue
            if organization_id is not None and target.organization_id != organization_id:
                continue
            if await remove_object(
                conn, target, by=by, reason=reason, env=env, report_id=report.id
            ):
                count += 1
        if count == 0:
            raise ModerationError("nothing_to_remove", "nothing in this report can be removed")
        await _close_report(conn, report, "content_removed", by=by, reason=reason, env=env)
    return count


async def hide_from_territory(
    conn: Connection,
    report: Report,
    *,
    by: AuditActor,
    reason: str,
    env: Env,
    territory_ids: list[int] | None = None,
) -> int:
    """Take the reported objects off the territories' pages and close the report. With
    `territory_ids` (a territory moderator acting), only those located in them or below."""
    reason = _reason(reason)
    now = env.clock.now()
    async with conn.transaction():
        count = 0
        for target in await _objects(conn, report, env.urls):
            if territory_ids is not None and (
                target.territory_id is None
                or not await moderation_queries.territory_within(
                    conn, target.territory_id, territory_ids
                )
            ):
                continue
            if await located_queries.mark_deleted(conn, target.uri, now):
                count += 1
                await audit_queries.record(
                    conn,
                    by,
                    "content.hide",
                    target=target.uri,
                    reason=reason,
                    details={"report": report.id, "kind": target.kind},
                    now=now,
                )
        if count == 0:
            raise ModerationError(
                "nothing_to_hide", "nothing in this report is on a territory's pages"
            )
        await _close_report(conn, report, "content_hidden", by=by, reason=reason, env=env)
    return count


async def _account(conn: Connection, actor_uri: str, urls: Urls) -> Actor | None:
    """The local actor, or None for a remote one; ModerationError when we know neither."""
    local = await local_actor_for_uri(conn, urls, actor_uri)
    if local is not None:
        if local.kind not in ("person", "organization"):
            raise ModerationError("not_an_account", "only people and organisations are moderated")
        return local
    if host_of(actor_uri) == host_of(urls.base):
        raise ModerationError("unknown_account", "no such account here")
    if await actor_queries.select_remote_actor(conn, actor_uri) is None:
        raise ModerationError("unknown_account", "no such account known here")
    return None


async def silence(
    conn: Connection,
    actor_uri: str,
    *,
    by: AuditActor,
    reason: str,
    env: Env,
    report: Report | None = None,
) -> None:
    """Silence an account, local or remote (closing the report when given)."""
    reason = _reason(reason)
    async with conn.transaction():
        local = await _account(conn, actor_uri, env.urls)
        if await moderation_queries.select_restriction(conn, actor_uri) == "suspend":
            raise ModerationError("already_suspended", "this account is suspended already")
        now = env.clock.now()
        await moderation_queries.upsert_restriction(
            conn,
            actor_uri=actor_uri,
            local_actor_id=local.id if local else None,
            level="silence",
            reason=reason,
            now=now,
        )
        await audit_queries.record(
            conn,
            by,
            "account.silence",
            target=actor_uri,
            reason=reason,
            details={"report": report.id} if report else {},
            now=now,
        )
        await _close_report(conn, report, "account_silenced", by=by, reason=reason, env=env)


async def unsilence(
    conn: Connection, actor_uri: str, *, by: AuditActor, reason: str, env: Env
) -> bool:
    """Lift a silence; False when the account was not silenced."""
    async with conn.transaction():
        lifted = await moderation_queries.delete_restriction(conn, actor_uri, level="silence")
        if lifted:
            await audit_queries.record(
                conn,
                by,
                "account.unsilence",
                target=actor_uri,
                reason=_reason(reason),
                now=env.clock.now(),
            )
    return lifted


async def suspend(
    conn: Connection,
    actor_uri: str,
    *,
    by: AuditActor,
    reason: str,
    env: Env,
    report: Report | None = None,
) -> None:
    """Suspend an account, local or remote (closing the report when given)."""
    reason = _reason(reason)
    now = env.clock.now()
    async with conn.transaction():
        local = await _account(conn, actor_uri, env.urls)
        details: dict[str, object] = {"report": report.id} if report else {}
        if local is not None:
            await suspension.suspend(
                conn,
                local,
                by=by,
                reason=reason,
                urls=env.urls,
                clock=env.clock,
                report_id=report.id if report else None,
            )
        else:
            await moderation_queries.upsert_restriction(
                conn,
                actor_uri=actor_uri,
                local_actor_id=None,
                level="suspend",
                reason=reason,
                now=now,
            )
            # Its content is hidden: our copies go; the follows with it end both ways.
            details["posts_removed"] = await post_queries.delete_posts_of(conn, actor_uri, now)
            await follow_queries.delete_follows_of(conn, actor_uri)
            await audit_queries.record(
                conn,
                by,
                "account.suspend",
                target=actor_uri,
                reason=reason,
                details=details,
                now=now,
            )
        await _close_report(conn, report, "account_suspended", by=by, reason=reason, env=env)


async def unsuspend(
    conn: Connection, actor_uri: str, *, by: AuditActor, reason: str, env: Env
) -> bool:
    """Lift a suspension; False when the account was not suspended."""
    async with conn.transaction():
        local = await _account(conn, actor_uri, env.urls)
        if local is not None:
            return await suspension.unsuspend(
                conn, local, by=by, reason=_reason(reason), urls=env.urls, clock=env.clock
            )
        lifted = await moderation_queries.delete_restriction(conn, actor_uri, level="suspend")
        if lifted:
            await audit_queries.record(
                conn,
                by,
                "account.unsuspend",
                target=actor_uri,
                reason=_reason(reason),
                now=env.clock.now(),
            )
        return lifted


async def suspend_domain(
    conn: Connection, report: Report, *, by: AuditActor, reason: str, env: Env
) -> str:
    """Suspend the reported account's whole domain and close the report; the domain."""
    reason = _reason(reason)
    if not reports.forwardable(report, env.urls):
        raise ModerationError("not_remote", "this report is about a local account")
    assert report.target_actor is not None
    domain = policy_domain(host_of(report.target_actor))
    async with conn.transaction():
        await moderation_queries.upsert_domain_policy(conn, domain, "suspend", reason)
        await audit_queries.record(
            conn,
            by,
            "domain.suspend",
            target=domain,
            reason=reason,
            details={"report": report.id},
            now=env.clock.now(),
        )
        await _close_report(conn, report, "domain_suspended", by=by, reason=reason, env=env)
    return domain


async def forward(
    conn: Connection, report: Report, *, by: AuditActor, env: Env, keygen: KeyGenerator
) -> None:
    """Send a copy of a report about a remote account to its server (a moderator's choice when
    the reporter did not ask for it, or for a Flag another server sent about a third one)."""
    instance = await ensure_instance_actor(conn, keygen=keygen)
    async with conn.transaction():
        if report.forwarded_at is not None:
            raise ModerationError("report_forwarded", "this report was forwarded already")
        await reports.forward(conn, report, instance_actor=instance, urls=env.urls, clock=env.clock)
        await audit_queries.record(
            conn,
            by,
            "report.forward",
            target=f"report:{report.id}",
            details={"report": report.id, "to": report.target_actor},
            now=env.clock.now(),
        )


async def _close_report(
    conn: Connection,
    report: Report | None,
    resolution: reports.Resolution,
    *,
    by: AuditActor,
    reason: str,
    env: Env,
) -> None:
    """Close the report an action was taken from, if it was (the reporter is told)."""
    if report is not None:
        await reports.close(
            conn,
            report,
            by=by,
            resolution=resolution,
            reason=reason,
            urls=env.urls,
            clock=env.clock,
        )
