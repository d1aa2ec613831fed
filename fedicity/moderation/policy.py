"""The federation policy gate: which peer domains we talk to, and what we take from them.

A policy names a domain and covers its subdomains: `example.org` and `*.example.org` are the same
policy (the second is stored as the first), and the most specific policy wins, so
`good.example.org` may be allowed under a suspended `example.org`. Every check reads the database,
so a change takes effect on the next request in every process.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fedicity.db.pool import Borrowed, Connection, Pool
from fedicity.moderation import queries

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}|localhost")


@dataclass(frozen=True)
class Decision:
    """Whether a domain may federate with us, and why not."""

    allowed: bool
    reason: str = ""


SEVERITIES = ("suspend", "silence", "noop")
ACTIONS = (*SEVERITIES, "allow")


def normalize_domain(text: str) -> str | None:
    """The domain a typed or imported name stands for, or None when it names no domain.

    Lower case, without a root dot; `*.example.org` is `example.org` (a policy covers subdomains
    either way); an internationalised name is kept in its ASCII (punycode) form, as hosts appear
    in URLs.
    """
    name = text.strip().lower().rstrip(".")
    if name.startswith("*."):
        name = name[2:]
    if not name or len(name) > 253:
        return None
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name if _HOST_NAME.fullmatch(name) else None
    return name


def domain_digest(domain: str) -> str:
    """The SHA-256 of a domain, hex: how Mastodon lets others check an obfuscated entry."""
    return hashlib.sha256(domain.encode()).hexdigest()


def obfuscated(domain: str) -> str:
    """A domain with its middle letters starred, as Mastodon publishes an obfuscated block."""
    length = len(domain)
    visible = length // 4
    return "".join(
        "*" if visible < i < length - visible and char != "." else char
        for i, char in enumerate(domain)
    )


async def rejects_media(conn: Connection, host: str) -> bool:
    """Whether we show no image from this host (nor fetch any)."""
    policy = await queries.select_domain_policy(conn, policy_domain(host))
    return policy is not None and (policy.reject_media or policy.action == "suspend")


async def rejects_reports(conn: Connection, host: str) -> bool:
    """Whether reports (Flag) from this host are ignored."""
    policy = await queries.select_domain_policy(conn, policy_domain(host))
    return policy is not None and (policy.reject_reports or policy.action == "suspend")


async def limiting_action(conn: Connection, host: str) -> str | None:
    """'silence' or 'suspend' when this host's domain policy keeps its posts out of what the
    instance shares in public (territory pages, walls' Announces); None otherwise."""
    policy = await queries.select_domain_policy(conn, policy_domain(host))
    return policy.action if policy is not None and policy.action in ("silence", "suspend") else None


async def admit(conn: Connection, domain: str, *, allowlist_mode: bool) -> Decision:
    """Suspended domains never; in allowlist mode, only domains the admin allowed."""
    domain = policy_domain(domain)
    policy = await queries.select_domain_policy(conn, domain)
    return decide(domain, None if policy is None else policy.action, allowlist_mode=allowlist_mode)


def decide(domain: str, action: str | None, *, allowlist_mode: bool) -> Decision:
    """admit's rule, given the action of the domain's most specific policy (read elsewhere, e.g.
    by the statement that claims deliveries)."""
    if action == "suspend":
        return Decision(False, f"{domain} is suspended on this instance")
    if allowlist_mode and action != "allow":
        return Decision(False, f"{domain} is not on this instance's allowlist")
    return Decision(True)


def host_refusal(
    db: Pool | Borrowed, *, allowlist_mode: bool
) -> Callable[[str], Awaitable[str | None]]:
    """The `refuse_host` check the protocol asks before a key fetch: why the policy refuses a
    host, or None when it may federate. On a `Borrowed` connection, the request's own."""

    async def refuse_host(host: str) -> str | None:
        if isinstance(db, Borrowed):
            decision = await admit(await db.get(), host, allowlist_mode=allowlist_mode)
        else:
            async with db.acquire() as conn:
                decision = await admit(conn, host, allowlist_mode=allowlist_mode)
        return None if decision.allowed else decision.reason

    return refuse_host


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


def trusted_authority(raw: str) -> str | None:
    """The server a trust entry names, as voters' ids carry it: the lower-case host, with its
    port unless it is a scheme's default; None when `raw` names no server.

    Unlike a suspension, trust is narrow on purpose: trusting `example.org:8443` does not
    trust every server on that host.
    """
    text = raw.strip().lower()
    if "://" not in text:
        text = "//" + text
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.path not in ("", "/") or parts.query or parts.username is not None or not host:
        return None
    host = host.rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            return None
    else:
        if address.version == 6:  # an IPv6 literal keeps its brackets in a URL authority
            host = f"[{host}]"
    return host if port in (None, 80, 443) else f"{host}:{port}"
