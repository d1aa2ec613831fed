"""Password hashing with argon2id, bounded process-wide, and the rules a new password follows."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
MAX_LENGTH = 1024

_HASHER = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile (64 MiB)

# Each argon2 hash or verification takes 64 MiB and ~0.1 s of a core. At most HASH_WORKERS run
# at once in a process (so hashing adds at most 128 MiB), on threads of their own (the event
# loop, and the pool's connections, stay free); HASH_CAPACITY counts those running and those
# waiting, past which a request is refused at once (HashBusy, a 429) rather than queued: with
# two workers, the last admitted waits about four hash times.
HASH_WORKERS = 2
HASH_CAPACITY = 10
BUSY_RETRY_AFTER = 2

T = TypeVar("T")


class HashBusy(Exception):
    """Too many password hashes are running or waiting in this process; try again shortly."""


class _HashGate:
    """A small executor with a bound on the jobs it holds, running and queued."""

    def __init__(self, workers: int, capacity: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._capacity = capacity
        self._lock = threading.Lock()
        self._held = 0

    def _release(self, _: Future[Any]) -> None:
        with self._lock:
            self._held -= 1

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """Run `function(*args)` on a hashing thread; HashBusy when the gate is full."""
        with self._lock:
            if self._held >= self._capacity:
                raise HashBusy
            self._held += 1
        try:
            job = self._executor.submit(function, *args)
        except BaseException:
            with self._lock:
                self._held -= 1
            raise
        # Released when the job ends, or when it is cancelled before starting (the request
        # went away): a running hash keeps its place until it is really done.
        job.add_done_callback(self._release)
        return await asyncio.wrap_future(job)


_GATE = _HashGate(HASH_WORKERS, HASH_CAPACITY)


@cache
def _dummy_hash() -> str:
    # Verified when no account matches, so a wrong username costs as much as a wrong password.
    return _HASHER.hash("not a real password, only spends time")


def hash_password(password: str) -> str:
    """Hash a password for storage (blocking; see hash_password_async)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; takes as long when there is no hash at all (blocking)."""
    try:
        return (
            _HASHER.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    """Hash a password on the bounded hashing threads; HashBusy when they are all taken."""
    # Looked up at call time, so tests can observe the blocking function.
    return await _GATE.run(lambda: hash_password(password))


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """verify_password on the bounded hashing threads; HashBusy when they are all taken."""
    return await _GATE.run(lambda: verify_password(password_hash, password))


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(password_hash)


@cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn's list of the 30,000 commonest passwords from leaked databases (lower case), the
    # one its strength estimator starts from; loaded on the first check only.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common(password: str) -> bool:
    """Whether the password, whatever its case, is among the commonest ones."""
    return password.lower() in _common_passwords()


def password_problem(password: str) -> str | None:
    """A reason the password is unacceptable, or None."""
    if len(password) < MIN_LENGTH:
        return "password_too_short"
    if len(password) > MAX_LENGTH:
        return "password_too_long"
    if is_common(password):
        return "password_common"
    return None
