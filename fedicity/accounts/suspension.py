"""Suspending a local account, as Mastodon does: it cannot log in (its sessions end, a new login
is refused), it cannot post, its actor and its posts answer 410, and what its outbox still had
to deliver is dropped, so other servers get nothing new from it. Its rows stay: lifting the
suspension gives everything back.

Whether an account is suspended is read from the database on every request (the session's
lookup, the login, the actor's and posts' documents), so a suspension holds in every process
from the next request; only the actor document cache of other web processes may serve the old
document for up to its lifetime (a minute).
"""

from __future__ import annotations

from fedicity.accounts import queries, sessions
from fedicity.accounts.service import AccountError
from fedicity.actors.models import Actor
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import Actor as AuditActor
from fedicity.clock import Clock
from fedicity.db.pool import Connection
from fedicity.moderation import queries as moderation_queries
from fedicity.urls import Urls


async def is_suspended(conn: Connection, actor_id: int) -> bool:
    """Whether this local actor is suspended."""
    return await moderation_queries.select_local_restriction(conn, actor_id) == "suspend"


async def suspend(
    conn: Connection,
    actor: Actor,
    *,
    by: AuditActor,
    reason: str,
    urls: Urls,
    clock: Clock,
    report_id: int | None = None,
) -> None:
    """Suspend a local actor (see the module's docstring), in the caller's transaction with its
    audit entry."""
    if actor.kind not in ("person", "organization"):
        raise AccountError("not_suspendable", "only people and organisations can be suspended")
    now = clock.now()
    uri = urls.actor(actor.username)
    await moderation_queries.upsert_restriction(
        conn, actor_uri=uri, local_actor_id=actor.id, level="suspend", reason=reason, now=now
    )
    account = await queries.select_account_by_actor(conn, actor.id)
    ended = await sessions.end_all(conn, account.id, now) if account is not None else 0
    dropped = await queries.cancel_pending_deliveries(conn, actor.id)
    details: dict[str, object] = {"sessions_ended": ended, "deliveries_dropped": dropped}
    if report_id is not None:
        details["report"] = report_id
    await audit_queries.record(
        conn, by, "account.suspend", target=uri, reason=reason, details=details, now=now
    )


async def unsuspend(
    conn: Connection, actor: Actor, *, by: AuditActor, reason: str, urls: Urls, clock: Clock
) -> bool:
    """Lift a local actor's suspension; False when it was not suspended."""
    uri = urls.actor(actor.username)
    lifted = await moderation_queries.delete_restriction(conn, uri, level="suspend")
    if lifted:
        await audit_queries.record(
            conn, by, "account.unsuspend", target=uri, reason=reason, now=clock.now()
        )
    return lifted
