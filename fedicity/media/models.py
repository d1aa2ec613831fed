"""Uploaded media: what an image is, and the stored row of an uploaded file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fedicity.errors import DomainError


class MediaError(DomainError):
    """An upload we refuse; `code` is what the web layer translates."""


@dataclass(frozen=True)
class ImageInfo:
    """An image's type, as its bytes say, and its size in pixels."""

    media_type: str
    extension: str
    width: int
    height: int


@dataclass(frozen=True)
class Media:
    """A stored file, content-addressed by the SHA-256 of its bytes."""

    sha256: str
    extension: str
    media_type: str
    width: int
    height: int
    size: int
    uploaded_by: int | None
    created_at: datetime

    @property
    def name(self) -> str:
        """Its file name, which is also the last segment of its URL."""
        return f"{self.sha256}.{self.extension}"

    @property
    def path(self) -> str:
        """Its path under the media root (two-character fan-out by hash)."""
        return f"{self.sha256[:2]}/{self.name}"
