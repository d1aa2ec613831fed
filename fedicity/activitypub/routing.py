"""One routing table: (activity type, object type) -> handler; registering twice is an error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fedicity.activitypub.accessors import get_object, get_type

Ctx = TypeVar("Ctx")


@dataclass(frozen=True)
class Outcome:
    """What a handler did with an activity: `done`, or `ignored` with the reason."""

    state: str
    detail: str = ""

    @classmethod
    def done(cls, detail: str = "") -> Outcome:
        """The activity had its effect."""
        return cls("done", detail)

    @classmethod
    def ignored(cls, detail: str) -> Outcome:
        """The activity was valid but had nothing for us to do (kept, not retried)."""
        return cls("ignored", detail)


Handler = Callable[[Ctx, Mapping[str, Any]], Awaitable[Outcome]]
ANY_OBJECT = "*"


class Router(Generic[Ctx]):
    """Handlers keyed by activity type and, when the object is embedded, its type."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Handler[Ctx]] = {}

    def register(
        self, activity_type: str, object_type: str = ANY_OBJECT
    ) -> Callable[[Handler[Ctx]], Handler[Ctx]]:
        """Decorator: route (activity_type, object_type) to the function."""

        def add(handler: Handler[Ctx]) -> Handler[Ctx]:
            key = (activity_type, object_type)
            if key in self._routes:
                raise ValueError(f"a handler for {key} is already registered")
            self._routes[key] = handler
            return handler

        return add

    def lookup(self, activity: Mapping[str, Any]) -> Handler[Ctx] | None:
        """The handler for an activity: exact object type first, then any object."""
        activity_type = get_type(activity) or ""
        embedded = get_object(activity)
        object_type = get_type(embedded) if embedded is not None else None
        if object_type is not None:
            handler = self._routes.get((activity_type, object_type))
            if handler is not None:
                return handler
        return self._routes.get((activity_type, ANY_OBJECT))

    def routes(self) -> list[tuple[str, str]]:
        """Every registered key, for docs and tests."""
        return sorted(self._routes)
