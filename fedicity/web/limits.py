"""Request body caps per route: FEDICITY_MAX_BODY_BYTES everywhere (inboxes, forms), and room for
one upload (FEDICITY_MAX_UPLOAD_BYTES more) on the routes marked with `accepts_uploads`.

Quart checks MAX_CONTENT_LENGTH once, when the request arrives and before routing, and only
against what is buffered at a time (a multipart body is consumed as it streams, so a chunked upload
with no Content-Length would never trip it). So the app's MAX_CONTENT_LENGTH is the larger, upload
cap, every request's body is a `CappedBody` that counts all it received, and `limit_body` (the
first before-request hook) lowers the cap to the route's own as soon as the route is known.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from quart import current_app, request
from quart.wrappers.request import Body, Request
from werkzeug.exceptions import RequestEntityTooLarge

from fedicity.settings import Settings

_UPLOAD_MARK = "fedicity_accepts_uploads"
View = TypeVar("View", bound=Callable[..., object])


# The most files one form takes (a point of interest's photos; the settings page takes two).
MAX_FILES_PER_FORM = 4


def accepts_uploads(view: View) -> View:
    """Mark a view (under its route decorator) as taking a file upload in its form."""
    setattr(view, _UPLOAD_MARK, 1)
    return view


def accepts_two_uploads(view: View) -> View:
    """Mark a view whose form takes two files, each up to the upload cap."""
    setattr(view, _UPLOAD_MARK, 2)
    return view


def accepts_four_uploads(view: View) -> View:
    """Mark a view whose form takes four files (a place's photos), each up to the upload cap."""
    setattr(view, _UPLOAD_MARK, MAX_FILES_PER_FORM)
    return view


def upload_body_cap(settings: Settings, files: int = 1) -> int:
    """The body cap of an upload route: its files plus room for the rest of the form."""
    return files * settings.max_upload_bytes + settings.max_body_bytes


def app_body_cap(settings: Settings) -> int:
    """The cap checked before routing (MAX_CONTENT_LENGTH): the largest any route allows."""
    return max(settings.max_body_bytes, upload_body_cap(settings, MAX_FILES_PER_FORM))


class CappedBody(Body):
    """A request body that refuses once the total received passes its cap, and whose cap can be
    lowered after routing. Past the cap, nothing more is kept."""

    def __init__(self, expected_content_length: int | None, max_content_length: int | None) -> None:
        super().__init__(expected_content_length, max_content_length)
        self._received = 0

    def append(self, data: bytes) -> None:
        """Take a chunk from the server, counting it against the cap."""
        if data == b"" or self._must_raise is not None:
            return
        self._received += len(data)
        if self._max_content_length is not None and self._received > self._max_content_length:
            self._refuse()
            return
        super().append(data)

    async def __anext__(self) -> bytes:
        # Quart checks for a refusal only before waiting for data: a reader that was waiting
        # when the cap was passed would see a plain end of body, and parse half a form.
        try:
            data = await super().__anext__()
        except StopAsyncIteration:
            if self._must_raise is not None:
                raise self._must_raise from None
            raise
        if self._must_raise is not None:
            raise self._must_raise
        return data

    def lower_cap(self, limit: int, expected_content_length: int | None) -> None:
        """Apply a route's (smaller) cap; refuse now if the declared or received size passes it."""
        if self._max_content_length is not None and self._max_content_length <= limit:
            return
        self._max_content_length = limit
        if self._must_raise is None and (
            self._received > limit
            or (expected_content_length is not None and expected_content_length > limit)
        ):
            self._refuse()

    def _refuse(self) -> None:
        self._must_raise = RequestEntityTooLarge()
        self._data.clear()
        self.set_complete()


class CappedRequest(Request):
    """Quart's request with a `CappedBody`."""

    body_class = CappedBody


async def limit_body() -> None:
    """Before any other hook reads the body: cap it for the route that was matched."""
    from fedicity.web.app import state

    settings = state().settings
    view = current_app.view_functions.get(request.endpoint or "")
    files = int(getattr(view, _UPLOAD_MARK, 0)) if view is not None else 0
    # Files come only in multipart bodies: any other body keeps the ordinary cap, even here.
    if request.mimetype != "multipart/form-data":
        files = 0
    limit = upload_body_cap(settings, files) if files else settings.max_body_bytes
    request.max_content_length = limit
    body = request.body
    if isinstance(body, CappedBody):
        body.lower_cap(limit, request.content_length)
