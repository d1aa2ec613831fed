"""The federation policy gate: which peer domains we talk to."""

from __future__ import annotations

from dataclasses import dataclass

from fedicity.db.pool import Connection
from fedicity.moderation import queries


@dataclass(frozen=True)
class Decision:
    """Whether a domain may federate with us, and why not."""

    allowed: bool
    reason: str = ""


async def admit(conn: Connection, domain: str, *, allowlist_mode: bool) -> Decision:
    """Suspended domains never; in allowlist mode, only domains the admin allowed."""
    policy = await queries.select_domain_policy(conn, domain)
    if policy is not None and policy.action == "suspend":
        return Decision(False, f"{domain} is suspended on this instance")
    if allowlist_mode and (policy is None or policy.action != "allow"):
        return Decision(False, f"{domain} is not on this instance's allowlist")
    return Decision(True)
