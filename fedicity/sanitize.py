"""The one policy for HTML that comes from other servers: what survives, and how it reads as text.

The allowed markup follows Mastodon's (its MASTODON_STRICT sanitizer config), since that is the HTML
most remote content is written for:

- tags: p br a span ul ol li blockquote code pre strong b em i u s del sub sup;
- headings h1-h6 become <p><strong>...</strong></p>, as Mastodon renders them: a remote post must
  not outshout the page around it;
- <a> keeps href, class and rel; every link gets rel="nofollow noopener noreferrer" (plus "tag"
  when the author marked a hashtag) and loses target; hrefs need an explicit http, https or mailto
  scheme. Mastodon also allows xmpp, magnet, gemini and a few more; we do not, since they hand the
  click to another application and fedicity's audience (city residents) gains nothing from them.
  Relative and protocol-relative hrefs are dropped too: they would point into our own site. A link
  left without an href is unwrapped (its text stays);
- class on <a> and <span> keeps only h-card, mention, hashtag, u-url, invisible, ellipsis: the
  markup Mastodon uses for mentions and shortened links, which our stylesheet knows;
- ol keeps start and reversed, li keeps value (integers only);
- script, style, iframe, object, embed, svg, math, template and friends go with all their content;
  any other unknown tag is stripped and its text kept; comments and every other attribute (style,
  on*, id, target...) go.

URLs read from the network (an actor's url and icon, a post's url, an event's url, registration
link, online address and image...) go through `safe_url`: only absolute http(s) URLs with a host
are kept, since anything else (javascript:, data:, vbscript:, relative references) becomes script or
points into our own site once it is an href or a src. Templates pass every stored URL through the
same check again (web.headers.web_url) and stored HTML through `checked_html`, so rows written
before the check cannot turn into script links either.

Sanitizing is Ammonia's (nh3: html5ever's parser, in Rust) with the policy given as its options,
and two small steps of ours around it for what it cannot express: entities are kept as written
(Ammonia decodes them), and after it a single pass over its (well-formed, quoted) output turns
headings into bold paragraphs, unwraps links left without an href and adds rel to links that had
none (Ammonia can set an attribute or rewrite one, not add one only when missing).
"""

from __future__ import annotations

import html
import re
import unicodedata
from html.entities import html5 as _HTML5_ENTITIES
from html.parser import HTMLParser
from typing import Final
from urllib.parse import urlsplit

import nh3

ALLOWED_TAGS: Final = frozenset(
    {
        "p", "br", "a", "span", "ul", "ol", "li", "blockquote", "code", "pre",
        "strong", "b", "em", "i", "u", "s", "del", "sub", "sup",
    }
)  # fmt: skip
ALLOWED_CLASSES: Final = frozenset(
    {"h-card", "mention", "hashtag", "u-url", "invisible", "ellipsis"}
)
LINK_SCHEMES: Final = frozenset({"http", "https", "mailto"})
WEB_SCHEMES: Final = frozenset({"http", "https"})
# Longer URLs are not addresses people follow; 2000 is what browsers and crawlers reliably handle.
MAX_URL_LENGTH: Final = 2000
LINK_REL: Final = "nofollow noopener noreferrer"

HEADINGS: Final = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Elements whose content is code, styling, embedded documents or markup we do not render: dropped
# whole, text included. svg and math are here because their "text" is rarely prose, and their
# foreign-content parsing rules are where sanitizer bypasses usually live.
DROPPED_WITH_CONTENT: Final = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "noembed",
        "noframes", "noscript", "template", "svg", "math", "head", "title", "textarea", "select",
    }
)  # fmt: skip

_URL_IGNORED = re.compile(r"[`\x00-\x20\x7f-\xa0\s]+")
_INTEGER = re.compile(r"-?[0-9]{1,9}")
_SCRIPT_SCHEME = re.compile(r"(?:java|vb|live)script:|data:")
_URL_FORBIDDEN = frozenset('\\<>"`')
# The same for ASCII text: its control (Cc) and space (Zs) characters, then _URL_FORBIDDEN's.
_ASCII_URL_FORBIDDEN = re.compile(r'[\x00-\x20\x7f\\<>"`]')

# Ammonia decodes character references and writes back only &amp; &lt; &gt; &quot; &nbsp;, while
# what we store keeps the author's (caf&eacute;, &#60;). The "&" of each complete reference is
# hidden behind a private-use character for the parse and restored after; a private-use
# character already in the text is written as a reference first, so every one we restore is
# ours. A restored "&" only ever starts a reference (text in text, a value in a value).
_AMP_STANDIN: Final = "\ue000"
_CHARACTER_REFERENCE = re.compile(r"&(?=#[0-9]+;|#[xX][0-9a-fA-F]+;|([A-Za-z][A-Za-z0-9]*;))")

# Ammonia's output is well-formed and every attribute value is double-quoted with " escaped, and
# text has its < escaped: a start tag is found whole, even with "<" or ">" inside an href.
_REWRITTEN_TAG = re.compile(r'<(/?)(h[1-6])>|<a((?: [a-z]+="[^"]*")*)>|</a>')


def _attribute_filter(tag: str, name: str, value: str) -> str | None:
    """Which attribute values survive, and how: Ammonia has kept only the allowed names."""
    if name == "class":
        classes = " ".join(c for c in value.split() if c in ALLOWED_CLASSES)
        return classes or None
    if tag == "a":
        if name == "href":
            return value if is_safe_link(value.replace(_AMP_STANDIN, "&")) else None
        if name == "rel":
            # The author's "tag" (a hashtag) is kept, anything else replaced by ours.
            return ("tag " if "tag" in value.lower().split() else "") + LINK_REL
    elif name == "reversed" and tag == "ol":
        return value
    elif (tag, name) in (("ol", "start"), ("li", "value")):
        return value if _INTEGER.fullmatch(value.strip()) else None
    return None


_CLEANER: Final = nh3.Cleaner(
    tags=set(ALLOWED_TAGS | HEADINGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={
        # Ammonia allows lang and title everywhere unless told otherwise.
        "*": set(),
        "a": {"href", "rel", "class"},
        "span": {"class"},
        "ol": {"start", "reversed"},
        "li": {"value"},
    },
    attribute_filter=_attribute_filter,
    strip_comments=True,
    # rel is an allowed attribute (for "tag"), rewritten by the filter and added where missing.
    link_rel=None,
    url_schemes=set(LINK_SCHEMES),
    # Relative and protocol-relative hrefs would point into our own site.
    url_relative="deny",
)


def sanitize_html(html_text: str) -> str:
    """Reduce remote HTML to the allowed markup (see the module docstring); safe to render as is."""
    if not html_text:
        return ""
    hidden = "&" in html_text
    if hidden:
        html_text = _CHARACTER_REFERENCE.sub(_hide_amp, html_text.replace(_AMP_STANDIN, "&#xe000;"))
    cleaned = _CLEANER.clean(html_text)
    if "<a" in cleaned or "<h" in cleaned:
        cleaned = _rewrite_tags(cleaned)
    return cleaned.replace(_AMP_STANDIN, "&") if hidden else cleaned


def _hide_amp(match: re.Match[str]) -> str:
    name = match.group(1)
    if name is not None and name not in _HTML5_ENTITIES:
        return "&"
    return _AMP_STANDIN


def _rewrite_tags(cleaned: str) -> str:
    """Headings as bold paragraphs (as Mastodon renders them); links without href unwrapped;
    rel on every remaining link."""
    unwrapped: list[bool] = []  # per open <a>: was its start tag dropped?

    def rewrite(match: re.Match[str]) -> str:
        heading = match.group(2)
        if heading is not None:
            return "</strong></p>" if match.group(1) else "<p><strong>"
        attributes = match.group(3)
        if attributes is None:  # </a>; the output is balanced, the check is for safety's sake
            return "" if unwrapped and unwrapped.pop() else "</a>"
        if ' href="' not in attributes:
            unwrapped.append(True)
            return ""
        unwrapped.append(False)
        if ' rel="' in attributes:
            return match.group(0)
        return f'<a{attributes} rel="{LINK_REL}">'

    return _REWRITTEN_TAG.sub(rewrite, cleaned)


def is_safe_link(href: str) -> bool:
    """Whether an href (as written in HTML, entities and all) has an explicit allowed scheme.

    Entities are decoded and the characters browsers ignore in a scheme (controls, whitespace,
    backticks) removed first, so `jav&#x09;ascript:` is seen as the javascript: it is.
    """
    normalized = _URL_IGNORED.sub("", html.unescape(href)).lower()
    try:
        scheme = urlsplit(normalized).scheme
    except ValueError:
        return False
    return scheme in LINK_SCHEMES and normalized.startswith(scheme + ":")


def safe_url(value: object) -> str | None:
    """`value` if it is an absolute http(s) URL with a host that a browser reads as written;
    None for anything else (other schemes, relative, too long, hidden characters, credentials).

    The URL is returned unchanged (ids must still compare equal). Refused outright rather than
    cleaned: control, format (bidi) and whitespace characters, which browsers strip or which
    disguise what is shown; backslashes, which browsers read as slashes where we do not;
    quotes, angle brackets and backticks, which no well-formed URL holds unescaped.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        return None
    if value.isascii():
        # Most URLs: one scan in C instead of a category look-up per character.
        if _ASCII_URL_FORBIDDEN.search(value) is not None:
            return None
    else:
        for char in value:
            if char in _URL_FORBIDDEN or unicodedata.category(char)[0] in "CZ":
                return None
    scheme, separator, _rest = value.partition("://")
    if not separator or scheme.lower() not in WEB_SCHEMES:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    if not parts.hostname or "@" in parts.netloc:
        return None
    return value


def checked_html(html_text: str) -> str:
    """Stored HTML as it may be shown: sanitized again when it holds a script-like scheme.

    What we store was sanitized when it was received or written, but a row written before a fix
    of the policy (or of the code writing local HTML) may hold a link the policy now refuses.
    Sanitizing every fragment on every page view would cost a full parse each time; the text is
    cheaply searched instead for the schemes that run script (entities decoded twice and the
    characters browsers ignore removed, as is_safe_link does), and only such fragments, or text
    that merely mentions "data:", go through the policy again.
    """
    normalized = _URL_IGNORED.sub("", html.unescape(html.unescape(html_text))).lower()
    if _SCRIPT_SCHEME.search(normalized) is None:
        return html_text
    return sanitize_html(html_text)


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, turning block boundaries into line breaks."""

    PARAGRAPHS: Final = frozenset(
        {
            "p", "div", "blockquote", "pre", "ul", "ol", "dl", "table", "section", "article",
            "header", "footer", "aside", "nav", "main", "figure", "figcaption", "address",
            "details", "summary", "hr", *HEADINGS,
        }
    )  # fmt: skip
    LINES: Final = frozenset({"li", "dt", "dd", "tr"})

    def __init__(self) -> None:
        """Start with no text; entities in text are decoded by HTMLParser itself."""
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._pending_breaks = 0
        self._skipping = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open an element: maybe a break, maybe the start of content to skip or keep verbatim."""
        if tag in DROPPED_WITH_CONTENT:
            self._skipping += 1
        elif tag == "br":
            self._pending_breaks = min(self._pending_breaks + 1, 2)
        else:
            self._block_boundary(tag)
            if tag == "pre":
                self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        """Close an element (unbalanced end tags are tolerated)."""
        if tag in DROPPED_WITH_CONTENT:
            self._skipping = max(0, self._skipping - 1)
        else:
            self._block_boundary(tag)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        """Add text; outside <pre>, whitespace runs collapse to one space, as browsers show it."""
        if self._skipping:
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
            if self._at_line_start():
                data = data.lstrip()
        if not data:
            return
        if self._pending_breaks:
            if self.parts:
                self._trim_trailing_spaces()
                self.parts.append("\n" * self._pending_breaks)
            self._pending_breaks = 0
            if not self._pre:
                data = data.lstrip()
        self.parts.append(data)

    def _block_boundary(self, tag: str) -> None:
        if tag in self.PARAGRAPHS:
            self._pending_breaks = 2
        elif tag in self.LINES:
            self._pending_breaks = max(self._pending_breaks, 1)

    def _at_line_start(self) -> bool:
        return self._pending_breaks > 0 or not self.parts or self.parts[-1].endswith("\n")

    def _trim_trailing_spaces(self) -> None:
        while self.parts and not self.parts[-1].strip(" "):
            self.parts.pop()
        if self.parts:
            self.parts[-1] = self.parts[-1].rstrip(" ")


def html_to_text(html_text: str) -> str:
    """Plain text of an HTML fragment, for previews, notifications and search.

    Paragraph-like elements become a blank line, list items and <br> a line break; entities are
    decoded; script, style and the other DROPPED_WITH_CONTENT elements contribute nothing. The
    result is text, not HTML: escape it wherever it is rendered.
    """
    extractor = _TextExtractor()
    extractor.feed(html_text)
    extractor.close()
    # Strip line breaks only: leading spaces can only come from a <pre>, where they are content.
    return "".join(extractor.parts).strip("\n").rstrip()
