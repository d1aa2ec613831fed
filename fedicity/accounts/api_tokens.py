"""Personal API tokens: made from the settings page (shown once), sent by a citizen's programs
as `Authorization: Bearer <token>`, listed and revoked there; only their SHA-256 is kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from fedicity.accounts import queries
from fedicity.accounts.models import Account, ApiToken
from fedicity.db.pool import Connection
from fedicity.errors import DomainError

MAX_NAME = 100
# More would be forgotten ones: revoke some first.
MAX_LIVE = 20
LIST_LIMIT = MAX_LIVE
# last_used_at is written when older than this, not on every request.
TOUCH_EVERY = timedelta(minutes=5)
# A token is 32 random bytes, URL-safe base64: 43 characters.
TOKEN_LENGTH = 43


class TokenError(DomainError):
    """A token could not be made; `code` says why."""


def token_hash(token: str) -> bytes:
    """What the database keeps of a token: it is random, so a plain hash hides it."""
    return hashlib.sha256(token.encode()).digest()


async def create(conn: Connection, account_id: int, name: str, *, now: datetime) -> str:
    """Make a named token for the account; the token itself, to be shown once."""
    name = " ".join(name.split())
    if not name:
        raise TokenError("token_name_missing", "a token needs a name")
    if len(name) > MAX_NAME or not name.isprintable():
        raise TokenError("token_name_invalid", f"a name has at most {MAX_NAME} characters")
    async with conn.transaction():
        if await queries.count_live_api_tokens(conn, account_id) >= MAX_LIVE:
            raise TokenError("too_many_tokens", f"at most {MAX_LIVE} tokens: revoke one first")
        token = secrets.token_urlsafe(32)
        await queries.insert_api_token(
            conn, account_id=account_id, name=name, token_hash=token_hash(token), now=now
        )
    return token


async def listed(conn: Connection, account_id: int) -> list[ApiToken]:
    """The account's live tokens, newest first."""
    return await queries.select_api_tokens(conn, account_id, limit=LIST_LIMIT)


async def revoke(conn: Connection, account_id: int, token_id: int, *, now: datetime) -> bool:
    """Revoke one of the account's tokens (False when it has no such live token)."""
    return await queries.revoke_api_token(conn, account_id, token_id, now)


async def authenticate(conn: Connection, token: str, *, now: datetime) -> Account | None:
    """The account a live token belongs to (None for an unknown, revoked or malformed one, or a
    suspended account); its last use recorded at most every TOUCH_EVERY."""
    if len(token) != TOKEN_LENGTH or not token.isascii():
        return None
    found = await queries.select_api_token_account(conn, token_hash(token))
    if found is None:
        return None
    account, record = found
    if record.last_used_at is None or now - record.last_used_at > TOUCH_EVERY:
        await queries.touch_api_token(conn, record.id, now)
    return account
