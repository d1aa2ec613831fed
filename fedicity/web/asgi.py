"""What the handlers answered in front of Quart (`FedicityQuart.put_in_front`) share: the ASGI
types, a request header, and sending a whole answer with the documents' security headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from fedicity.web.headers import DOCUMENT_HEADERS

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str | None:
    """A request header by its lower-case name, repeated fields joined with ", "."""
    values = [value.decode("latin-1") for key, value in scope["headers"] if key == name]
    return ", ".join(values) if values else None


async def answer(
    send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Send a whole answer: its length, the given headers and the documents' security headers."""
    sent = [(b"content-length", str(len(body)).encode("ascii")), *headers, *DOCUMENT_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": sent})
    await send({"type": "http.response.body", "body": body})
