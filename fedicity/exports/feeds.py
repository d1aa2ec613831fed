"""RSS 2.0 and Atom (RFC 4287) from one model, with feedgen: entry ids are our object URIs,
links http(s) pages, content our sanitised HTML, dates with their zone, self links."""

from __future__ import annotations

import re
from collections.abc import Iterable

from feedgen.feed import FeedGenerator

from fedicity.exports.models import Entry, Feed, FeedFormat
from fedicity.sanitize import html_to_text

MAX_TITLE = 120
# What XML 1.0 cannot carry at all (lxml refuses it): a remote title may hold any of these.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(text: str) -> str:
    """Text XML can carry: characters it forbids are dropped."""
    return _NOT_XML.sub("", text)


def title_of(text_or_html: str, *, html: bool) -> str:
    """A one-line title (a post has none of its own: its first words)."""
    text = html_to_text(text_or_html) if html else text_or_html
    line = " ".join(text.split())
    return line if len(line) <= MAX_TITLE else line[: MAX_TITLE - 1] + "…"


def render(feed: Feed, entries: Iterable[Entry], fmt: FeedFormat) -> bytes:
    """The feed in one format, newest entries as given (first first)."""
    generator = FeedGenerator()
    self_url = feed.rss_url if fmt == "rss" else feed.atom_url
    generator.id(self_url)
    generator.title(xml_text(feed.title) or "-")
    generator.subtitle(xml_text(feed.subtitle) or "-")
    # RSS has one channel link, the last one given: the page, after the self link.
    generator.link(href=self_url, rel="self")
    generator.link(href=feed.page, rel="alternate", type="text/html")
    generator.language(feed.language)
    generator.updated(feed.updated)
    # feedgen would write the time of the request: the body (and its ETag) would never repeat.
    generator.lastBuildDate(feed.updated)
    for entry in entries:
        item = generator.add_entry(order="append")
        item.id(entry.id)
        item.guid(entry.id, permalink=False)
        item.title(xml_text(entry.title) or "-")
        item.link(href=entry.link, rel="alternate", type="text/html")
        content = xml_text(entry.content_html)
        if content:
            item.content(content, type="html")
            # A summary: without isSummary feedgen would put it in Atom's content instead.
            item.description(
                xml_text(title_of(entry.content_html, html=True)) or "-", isSummary=True
            )
        item.published(entry.published)
        item.updated(entry.updated or entry.published)
        if entry.author:
            item.author(name=xml_text(entry.author) or "-")
    body: bytes = (
        generator.rss_str(pretty=False) if fmt == "rss" else generator.atom_str(pretty=False)
    )
    return body
