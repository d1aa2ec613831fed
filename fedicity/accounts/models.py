"""Dataclasses for accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Account:
    """A login, tied to exactly one local Person actor."""

    id: int
    actor_id: int
    username: str
    email: str | None
    password_hash: str
    is_admin: bool
    locale: str | None
    session_epoch: int
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class Session:
    """A login session: its cookie holds a random token whose hash is kept here."""

    id: int
    account_id: int
    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    ip: str
    revoked_at: datetime | None


@dataclass(frozen=True)
class ApiToken:
    """A personal API token: its name, when it was made and last used; only its hash is kept."""

    id: int
    account_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
