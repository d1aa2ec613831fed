"""The content policies at work: screening an inbound activity before it is routed (in the
worker's row transaction), and admins changing a policy or releasing or rejecting a held
activity (each one transaction with its audit entry)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from fedicity.activitypub.accessors import get_id, get_object, get_type
from fedicity.audit import queries as audit_queries
from fedicity.audit.models import Actor
from fedicity.db.pool import Connection
from fedicity.inbound.mailbox import skeleton
from fedicity.moderation import content
from fedicity.moderation import content_queries as queries
from fedicity.moderation.content import ActorFacts, ContentPolicyError, PolicyConfig

# Fetch an object by its id (the worker's signed fetcher); None when it cannot be had.
FetchObject = Callable[[str], Awaitable[Mapping[str, Any] | None]]
# The policies that read the object: a Create that carries only its id is fetched for them.
_READ_OBJECT = frozenset(
    {
        content.KEYWORD,
        content.HASHTAG,
        content.MENTIONS,
        content.OBJECT_AGE,
        content.NEW_ACTOR_LINKS,
    }
)


@dataclass(frozen=True)
class Screened:
    """What the pipeline made of an activity: `pass` (route it; any flags are recorded),
    `rejected` or `held`, with the reason for the inbox row; `fetched`, the object the policies
    fetched to judge it, which the handler is given so it stores what was judged."""

    state: Literal["pass", "rejected", "held"]
    detail: str = ""
    fetched: Mapping[str, Any] | None = None


PASS = Screened("pass")


async def screen(
    conn: Connection,
    *,
    item_id: int,
    activity: Mapping[str, Any],
    actor_uri: str,
    configs: Mapping[str, PolicyConfig],
    fetch_object: FetchObject,
    now: datetime,
    seen: tuple[datetime, str | None] | None = None,
) -> Screened:
    """Run the enabled policies on one remote activity and record what they decided: a
    rejection ends its row ignored, a hold keeps its row 'held' for an admin, flags are recorded
    and the activity goes on. `seen`: the actor's first sighting, recorded already, and its type
    (as the row's claim read them)."""
    enabled = any(config.enabled for config in configs.values())
    if seen is not None and (seen[1] is not None or not enabled):
        # A first sighting once recorded never changes: no statement to record or read it.
        first_seen_at, actor_type = seen
    else:
        first_seen_at, actor_type = await queries.first_seen(conn, actor_uri, now=now)
    if not enabled:
        return PASS
    document = get_object(activity)
    object_uri = get_id(activity.get("object"))
    wants_object = any(configs[name].enabled for name in _READ_OBJECT if name in configs)
    fetched = None
    if document is None and object_uri and wants_object and get_type(activity) == "Create":
        fetched = document = await fetch_object(object_uri)
        if fetched is None:
            # Unjudged, it would be fetched again by its handler and stored unscreened.
            return Screened("rejected", f"cannot fetch {object_uri[:200]} to judge it")
    facts = ActorFacts(actor_uri, actor_type, first_seen_at)
    judgement = content.judge(activity, document, facts, configs, now)
    if judgement.held is not None and await queries.was_released(conn, item_id):
        # Released by an admin: processed as usual; its flags were recorded with the hold.
        judgement = replace(
            content.judge(activity, document, facts, configs, now, released=True), flags=()
        )
    for decision in judgement.recorded:
        await queries.insert_decision(
            conn,
            decision,
            activity_uri=get_id(activity) or "",
            activity_type=get_type(activity) or "",
            actor_uri=actor_uri,
            object_uri=object_uri,
            inbox_item_id=item_id,
            now=now,
        )
    if judgement.rejected is not None:
        return Screened("rejected", _detail(judgement.rejected))
    if judgement.held is not None:
        detail = _detail(judgement.held)
        await queries.hold_inbox_item(conn, item_id, detail=detail)
        return Screened("held", detail)
    return PASS if fetched is None else Screened("pass", fetched=fetched)


def _detail(decision: content.Decision) -> str:
    return f"content policy {decision.policy}: {decision.reason}"


def configure(
    current: PolicyConfig,
    *,
    enabled: bool,
    action: str | None = None,
    terms: str | None = None,
    amount: str | None = None,
    by: Actor,
    now: datetime,
) -> PolicyConfig:
    """The policy with the values an admin typed (None: unchanged), checked;
    ContentPolicyError (with the field) when one cannot be used."""
    name = current.name
    return replace(
        current,
        enabled=enabled,
        action=current.action if action is None else content.parse_action(name, action),
        terms=(
            current.terms
            if terms is None or name not in content.WITH_TERMS
            else content.parse_terms(name, terms)
        ),
        amount=current.amount if amount is None else content.parse_amount(name, amount),
        updated_at=now,
        updated_by=by.name,
    )


async def save_policy(
    conn: Connection, config: PolicyConfig, *, by: Actor, reason: str, now: datetime
) -> None:
    """Store a policy's new settings and the audit entry, in one transaction."""
    if config.name not in content.POLICIES:
        raise ContentPolicyError("content_policy_unknown", "policy", "no such policy")
    async with conn.transaction():
        await queries.save_config(conn, config)
        await audit_queries.record(
            conn,
            by,
            "content.configure",
            target=config.name,
            reason=reason,
            details={
                "enabled": config.enabled,
                "action": config.action,
                "terms": list(config.terms),
                "amount": config.amount,
            },
            now=now,
        )


async def resolve_held(
    conn: Connection,
    decision_id: int,
    *,
    release: bool,
    by: Actor,
    reason: str,
    now: datetime,
) -> None:
    """Release a held activity (the workers process it normally, without holding it again) or
    reject it (its row ends ignored); either with its audit entry, in one transaction."""
    async with conn.transaction():
        decision = await queries.select_decision_for_update(conn, decision_id)
        if decision is None or decision.hold_state != "held":
            raise ContentPolicyError("content_hold_unknown", "decision", "no such held activity")
        state = "released" if release else "rejected"
        if decision.inbox_item_id is not None:
            if release:
                await queries.release_inbox_item(conn, decision.inbox_item_id, now=now)
            else:
                raw = await queries.select_inbox_raw(conn, decision.inbox_item_id) or {}
                await queries.refuse_held_inbox_item(
                    conn,
                    decision.inbox_item_id,
                    detail=f"content policy {decision.policy}: rejected by {by.name}",
                    raw=skeleton(raw),
                    now=now,
                )
        await queries.resolve_hold(conn, decision_id, state=state, by=by.name, now=now)
        await audit_queries.record(
            conn,
            by,
            "content.release" if release else "content.reject",
            target=decision.activity_uri,
            reason=reason,
            details={"decision": decision_id, "policy": decision.policy},
            now=now,
        )
