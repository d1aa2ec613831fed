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
