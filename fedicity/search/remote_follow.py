"""Remote follow: a visitor of one of our actors' pages types their own handle; their server's
WebFinger document gives its OStatus subscribe template, and they are sent there with our
actor's id, to follow it from their own account.

Anyone may ask (the visitor has no account here), so the WebFinger fetch goes through the
instance's fetcher like every other (no private address, no suspended domain) and is counted
per address (REMOTE_FOLLOWS_PER_ADDRESS).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from fedicity.accounts.throttle import address_subject
from fedicity.activitypub.fetcher import Fetcher
from fedicity.db.pool import Pool
from fedicity.ratelimit.limiter import Limit, hit
from fedicity.sanitize import safe_url
from fedicity.search.resolve import HANDLE
from fedicity.webfinger.client import WebFingerFailure, subscribe_template

_log = logging.getLogger(__name__)

REMOTE_FOLLOWS_PER_ADDRESS = Limit("remote-follow-ip", 20, timedelta(minutes=10))
MAX_HANDLE_CHARS = 320
_CODES = {"no_subscribe_link": "no_template", "bad_url": "blocked", "blocked_address": "blocked"}


@dataclass(frozen=True)
class RemoteFollowRefusal:
    """Why the visitor cannot be sent to their server: `bad_handle`, `local_handle`, `blocked`,
    `refused`, `unreachable`, `no_template` or `rate_limited` (with seconds to wait)."""

    code: str
    retry_after: int = 0


def parse_handle(typed: str) -> tuple[str, str] | None:
    """(user, host) of a typed handle: `name@server`, `@name@server` or `acct:name@server`."""
    text = typed.strip()
    if len(text) > MAX_HANDLE_CHARS:
        return None
    matched = HANDLE.fullmatch(text.removeprefix("acct:"))
    return None if matched is None else (matched["user"], matched["host"].lower())


async def subscribe_url(
    pool: Pool,
    fetcher: Fetcher,
    typed: str,
    actor_uri: str,
    *,
    local_host: str,
    client: str,
    now: datetime,
) -> str | RemoteFollowRefusal:
    """Where to send the visitor whose handle was typed to follow `actor_uri`: their server's
    subscribe template with the id filled in; or why not."""
    handle = parse_handle(typed)
    if handle is None:
        return RemoteFollowRefusal("bad_handle")
    user, host = handle
    if host == local_host:
        return RemoteFollowRefusal("local_handle")
    async with pool.acquire() as conn:
        verdict = await hit(conn, REMOTE_FOLLOWS_PER_ADDRESS, address_subject(client), now)
    if not verdict.allowed:
        return RemoteFollowRefusal("rate_limited", verdict.retry_after)
    if fetcher.refuse_host is not None and await fetcher.refuse_host(host) is not None:
        return RemoteFollowRefusal("refused")
    template = await subscribe_template(fetcher, user, host)
    if isinstance(template, WebFingerFailure):
        _log.info("remote follow via @%s@%s failed: %s", user, host, template.detail)
        return RemoteFollowRefusal(_CODES.get(template.reason, "unreachable"))
    target = safe_url(template.replace("{uri}", quote(actor_uri, safe="")))
    # A template that is no web address (javascript:..., a relative path) is no way to follow.
    return target if target is not None else RemoteFollowRefusal("no_template")
