"""Plain text typed by local people, turned into the small HTML that fediverse servers expect."""

from __future__ import annotations

import html
import re

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def plain_to_html(text: str) -> str:
    """Escape text and wrap it in <p> paragraphs, with <br> for single line breaks."""
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n"))]
    return "".join("<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs if p)


def title_html(title: str) -> str:
    """A title as the first paragraph of a `content`, for servers and apps that show `content`
    and not `name` (Mastodon's polls, Takahē's events)."""
    return f"<p><strong>{html.escape(title)}</strong></p>"
