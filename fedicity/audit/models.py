"""Dataclasses for the audit log."""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# `domain.suspend`, `report.dismiss`, `account.suspend`: an area, then what was done to it.
ACTION = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)+")


@dataclass(frozen=True)
class Actor:
    """Who acts: an account (id and username), the command line, or the instance itself."""

    name: str
    account_id: int | None = None


SYSTEM = Actor("system")


def account_actor(account_id: int, username: str) -> Actor:
    """An admin or moderator acting through the web."""
    return Actor(username, account_id)


def cli_actor() -> Actor:
    """Whoever runs the `fedicity` command, by their system user name."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (a container's arbitrary user)
        user = "unknown"
    return Actor(f"cli:{user}"[:200])


@dataclass(frozen=True)
class Entry:
    """One recorded action."""

    id: int
    created_at: datetime
    account_id: int | None
    actor_name: str
    action: str
    target: str
    reason: str
    details: dict[str, Any]
