"""Text typed by local people, turned into the small HTML that fediverse servers expect: plain
text for short things, Markdown for long texts (event descriptions, proposals, comments,
amendments, bios)."""

from __future__ import annotations

import html
import re
from functools import lru_cache

from markdown_it import MarkdownIt

from fedicity.sanitize import sanitize_html

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def plain_to_html(text: str) -> str:
    """Escape text and wrap it in <p> paragraphs, with <br> for single line breaks."""
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n"))]
    return "".join("<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs if p)


class _Markdown(MarkdownIt):
    """markdown-it with the text of a link made from a typed address left as typed."""

    def normalizeLinkText(self, link: str) -> str:
        """The address as typed: markdown-it would show a punycode host in Unicode, and
        xn--80ak6aa92e.com would read as a look-alike of apple.com."""
        return link


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # CommonMark with raw HTML off (typed tags show as text) and its nesting cap (20 levels of
    # quotes or lists; deeper markers stay text), so hostile input cannot build a deep tree;
    # typed addresses become links (linkify-it-py), which the HTML policy then checks.
    return _Markdown("commonmark", {"html": False, "linkify": True}).enable(
        ["strikethrough", "linkify"]
    )


def render_markdown(source: str) -> str:
    """Markdown (CommonMark, raw HTML off) to the sanitised HTML we show and federate: the one
    renderer of every long text typed here, passed through the one HTML policy, so what we
    publish is what we would accept from a peer."""
    if not source.strip():
        return ""
    return sanitize_html(_markdown().render(source))


def title_html(title: str) -> str:
    """A title as the first paragraph of a `content`, for servers and apps that show `content`
    and not `name` (Mastodon's polls, Takahē's events)."""
    return f"<p><strong>{html.escape(title)}</strong></p>"
