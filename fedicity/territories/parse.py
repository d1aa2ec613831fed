"""Remote territory actors read from ActivityStreams (pure: no database)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _term(document: Mapping[str, Any], name: str) -> Any:
    # Our own context maps these short names; a peer may also send them prefixed.
    return document.get(name, document.get(f"fc:{name}"))


def claimed_territories(group: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (level, code) a remote territory actor's Group stands for, then its parents', nearest
    first; entries that are not two strings are left out."""
    candidates: list[tuple[Any, Any]] = [(_term(group, "level"), _term(group, "territoryCode"))]
    parents = _term(group, "territoryParents")
    if isinstance(parents, list):
        candidates += [
            (_term(p, "level"), _term(p, "territoryCode"))
            for p in reversed(parents)
            if isinstance(p, Mapping)
        ]
    return [
        (level, code)
        for level, code in candidates
        if isinstance(level, str) and isinstance(code, str)
    ]
