"""Telling "PostgreSQL cannot be reached right now" from every other failure.

While the server is down, starting, stopping or restarting, every statement fails; that is an
outage, answered with a short wait (the worker) or a 503 (the web), not a bug with a traceback.
Only these count: asyncpg's connection errors, the server refusing connections while it starts
or stops, a connection it ended (including one asyncpg had not yet seen end), and an OSError or
timeout raised inside asyncpg while it connects or waits for a pooled connection (an OSError
from anything else is not the database's).
"""

from __future__ import annotations

import logging
import traceback

import asyncpg

# Raised whatever the code path: the server is gone, ending our session, or not yet accepting.
_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, and "closed in the middle of operation"
    asyncpg.CannotConnectNowError,  # 57P03: starting up, shutting down, in recovery
    asyncpg.AdminShutdownError,  # 57P01: terminated by a fast or smart shutdown
    asyncpg.CrashShutdownError,  # 57P02: another backend crashed, the server restarts
)
# asyncpg's own words for a connection it already saw die (asyncpg.InterfaceError is otherwise a
# misuse, a bug of ours).
_CLOSED_CONNECTION = ("connection is closed", "connection was closed")
# An idle connection that received the server's "terminating connection" notice before the end
# of its socket was read: asyncpg stops it in its error-consuming state (2) and the next statement
# on it fails so. Nothing of ours puts a connection in that state.
_NOTICE_OF_TERMINATION = "another operation (2) is in progress"


def unreachable(error: BaseException) -> bool:
    """True when `error` says PostgreSQL cannot be reached now, not that a statement is wrong."""
    if isinstance(error, _OUTAGE_ERRORS):
        return True
    if isinstance(error, asyncpg.InterfaceError):
        return any(words in str(error) for words in _CLOSED_CONNECTION)
    if isinstance(error, asyncpg.InternalClientError):
        return str(error).endswith(_NOTICE_OF_TERMINATION)
    if isinstance(error, OSError | TimeoutError):
        return _raised_in_asyncpg(error)
    return False


def _raised_in_asyncpg(error: BaseException) -> bool:
    # A refused or missing socket surfaces as a plain OSError, a pool.acquire(timeout=...) as a
    # TimeoutError: the database's only when they passed through asyncpg on the way up.
    return any(
        str(frame.f_globals.get("__name__", "")).startswith("asyncpg.")
        for frame, _line in traceback.walk_tb(error.__traceback__)
    )


class _PoolFloorDuringOutage(logging.Filter):
    """Drops asyncpg's "Failed to restore the pool connection floor" warnings (a traceback each,
    from the pool's own reconnecting task) while the database is unreachable: the outage's own
    start and end lines say it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (
            error is not None and record.msg.startswith("Failed to restore") and unreachable(error)
        )


_FLOOR_FILTER = _PoolFloorDuringOutage()


def quiet_pool_floor_retries() -> None:
    """Install the filter above on asyncpg's pool logger (once, however often called)."""
    logger = logging.getLogger("asyncpg.pool")
    if _FLOOR_FILTER not in logger.filters:
        logger.addFilter(_FLOOR_FILTER)
