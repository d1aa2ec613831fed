"""The figures of an instance's health, as read from the database at one moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class QueueStats:
    """One queue (inbox or delivery): its waiting rows and how late the oldest due one is."""

    queue: str
    pending: int
    due: int
    oldest_due_at: datetime | None
    # Given up after the last attempt (inbox rows only, on their partial index; None when not
    # asked for).
    failed: int | None

    def lag_seconds(self, now: datetime) -> float:
        """How long the oldest due row has been due; 0 when nothing is due."""
        if self.oldest_due_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_due_at).total_seconds())


@dataclass(frozen=True)
class DomainRow:
    """A peer domain's federation health: how it answers, what waits for it and from it."""

    domain: str
    last_success_at: datetime | None
    last_failure_at: datetime | None
    failure_days: int
    unavailable: bool
    # Our deliveries waiting for it, and the oldest of them.
    outgoing: int
    oldest_outgoing_at: datetime | None
    # Its activities waiting for our inbox worker.
    incoming: int

    @property
    def status(self) -> str:
        """unavailable, failing (failures on some day not yet ended by a success) or ok."""
        if self.unavailable:
            return "unavailable"
        if self.failure_days:
            return "failing"
        return "ok"


@dataclass(frozen=True)
class UserStats:
    """Local accounts, those seen in the last 30 days, and remote actors known here."""

    accounts: int
    active_30_days: int
    admins: int
    remote_actors: int


@dataclass(frozen=True)
class StorageStats:
    """The database's size and the uploaded files, as recorded and as found on disk."""

    database_bytes: int
    media_files: int
    media_bytes: int
    disk_files: int
    disk_bytes: int


@dataclass(frozen=True)
class Backlog:
    """What waits for the moderators: open reports, and since when."""

    open_reports: int
    oldest_open_at: datetime | None


@dataclass(frozen=True)
class Overview:
    """Everything the dashboard shows but the per-domain table."""

    taken_at: datetime
    queues: list[QueueStats]
    users: UserStats
    storage: StorageStats
    backlog: Backlog
    domains_known: int
    domains_unavailable: int
