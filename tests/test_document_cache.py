"""The actor document cache: entries expire and the cache stays bounded."""

from __future__ import annotations

import pytest

from fedicity.web.app import DocumentCache


def test_entries_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("fedicity.web.app.time.monotonic", lambda: now[0])
    cache = DocumentCache(ttl=60)
    cache.put("camille", b"{}")
    assert cache.get("camille") == b"{}"
    now[0] += 61
    assert cache.get("camille") is None


def test_the_cache_is_bounded_and_forgets_on_pop() -> None:
    cache = DocumentCache(ttl=60, max_entries=2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    cache.put("c", b"3")
    assert cache.get("a") is None
    assert cache.get("c") == b"3"
    cache.pop("c")
    assert cache.get("c") is None
