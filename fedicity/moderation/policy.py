"""The federation policy gate: which peer domains we talk to."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fedicity.db.pool import Connection
from fedicity.moderation import queries


@dataclass(frozen=True)
class Decision:
    """Whether a domain may federate with us, and why not."""

    allowed: bool
    reason: str = ""


async def admit(conn: Connection, domain: str, *, allowlist_mode: bool) -> Decision:
    """Suspended domains never; in allowlist mode, only domains the admin allowed."""
    domain = policy_domain(domain)
    policy = await queries.select_domain_policy(conn, domain)
    if policy is not None and policy.action == "suspend":
        return Decision(False, f"{domain} is suspended on this instance")
    if allowlist_mode and (policy is None or policy.action != "allow"):
        return Decision(False, f"{domain} is not on this instance's allowlist")
    return Decision(True)


def policy_domain(authority: str) -> str:
    """The domain a policy names, from a URL authority: without user info, port or root dot.

    `evil.example:443` and `evil.example.` reach the same server as `evil.example`, so a
    suspension of the name must cover them.
    """
    try:
        host = urlsplit("//" + authority).hostname
    except ValueError:
        host = None
    return (host or authority).lower().rstrip(".")
