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

Sanitizing is bleach's (html5lib) pipeline with two stages of ours around its sanitizer filter,
since bleach by itself keeps the text of stripped elements (a script's code would show as text)
and can only remove attributes, not rewrite them.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import urlsplit

from bleach import html5lib_shim
from bleach.html5lib_shim import BleachHTMLParser, BleachHTMLSerializer
from bleach.sanitizer import BleachSanitizerFilter

if TYPE_CHECKING:
    # Only the stubs exist under this name; at run time bleach uses its vendored html5lib.
    from html5lib.treewalkers.base import TreeWalker

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

# bleach re-exports its vendored html5lib's getTreeWalker (Cleaner uses it); types-bleach omits it.
_ETREE_WALKER: Final = html5lib_shim.getTreeWalker("etree")  # type: ignore[attr-defined]

_URL_IGNORED = re.compile(r"[`\x00-\x20\x7f-\xa0\s]+")
_INTEGER = re.compile(r"-?[0-9]{1,9}")
_SCRIPT_SCHEME = re.compile(r"(?:java|vb|live)script:|data:")
_URL_FORBIDDEN = frozenset('\\<>"`')

_Token = dict[str, Any]
_ATTR_CLASS: Final = (None, "class")
_ATTR_HREF: Final = (None, "href")
_ATTR_REL: Final = (None, "rel")


def sanitize_html(html_text: str) -> str:
    """Reduce remote HTML to the allowed markup (see the module docstring); safe to render as is."""
    if not html_text:
        return ""
    # A parser per call: html5lib parsers keep state, so one shared instance is not thread-safe.
    # The parser must know the dropped and renamed tags too: bleach's tokenizer turns tags it does
    # not know into text before the tree is built, and then a script's code could not be dropped.
    parser = BleachHTMLParser(
        tags=ALLOWED_TAGS | HEADINGS | DROPPED_WITH_CONTENT,
        strip=True,
        consume_entities=False,
        namespaceHTMLElements=False,
    )
    tokens: Iterable[_Token] = _ETREE_WALKER(parser.parseFragment(html_text))
    tokens = _headings_to_strong(_drop_with_content(tokens))
    sanitized = BleachSanitizerFilter(
        # The html5lib stubs type `source` as a tree walker; any token iterable is what it reads.
        source=cast("TreeWalker", tokens),
        allowed_tags=ALLOWED_TAGS,
        attributes=_allowed_attribute,
        allowed_protocols=LINK_SCHEMES,
        strip_disallowed_tags=True,
        strip_html_comments=True,
    )
    serializer = BleachHTMLSerializer(
        quote_attr_values="always",
        omit_optional_tags=False,
        escape_lt_in_attrs=True,
        # Entities stay as the author wrote them (bleach's parser did not consume them).
        resolve_entities=False,
        sanitize=False,
        alphabetical_attributes=False,
    )
    return str(serializer.render(_rewrite_links_and_classes(cast(Iterable[_Token], sanitized))))


def _drop_with_content(tokens: Iterable[_Token]) -> Iterator[_Token]:
    """Remove DROPPED_WITH_CONTENT elements with everything inside them."""
    depth = 0
    for token in tokens:
        kind = token["type"]
        if depth:
            # A tree walk is balanced, so counting start and end tags finds the matching end.
            if kind == "StartTag":
                depth += 1
            elif kind == "EndTag":
                depth -= 1
            continue
        if token.get("name") in DROPPED_WITH_CONTENT:
            if kind == "StartTag":
                depth = 1
            continue
        yield token


def _headings_to_strong(tokens: Iterable[_Token]) -> Iterator[_Token]:
    """Render h1-h6 as a bold paragraph, as Mastodon does."""
    for token in tokens:
        if token.get("name") not in HEADINGS:
            yield token
        elif token["type"] == "StartTag":
            yield {"type": "StartTag", "name": "p", "namespace": None, "data": {}}
            yield {"type": "StartTag", "name": "strong", "namespace": None, "data": {}}
        elif token["type"] == "EndTag":
            yield {"type": "EndTag", "name": "strong", "namespace": None}
            yield {"type": "EndTag", "name": "p", "namespace": None}


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    """Which attributes bleach keeps; values are rewritten later by _rewrite_links_and_classes."""
    if tag == "a":
        return name in ("rel", "class") or (name == "href" and is_safe_link(value))
    if tag == "span":
        return name == "class"
    if tag == "ol":
        return name == "reversed" or (
            name == "start" and _INTEGER.fullmatch(value.strip()) is not None
        )
    if tag == "li":
        return name == "value" and _INTEGER.fullmatch(value.strip()) is not None
    return False


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


def _rewrite_links_and_classes(tokens: Iterable[_Token]) -> Iterator[_Token]:
    """Force rel on links, unwrap links left without href, keep only known classes."""
    unwrapped: list[bool] = []  # per open <a>: was its start tag dropped?
    for token in tokens:
        kind, name = token["type"], token.get("name")
        if kind == "StartTag" and name in ("a", "span"):
            attributes: dict[tuple[str | None, str], str] = dict(token["data"])
            classes = [c for c in attributes.pop(_ATTR_CLASS, "").split() if c in ALLOWED_CLASSES]
            if classes:
                attributes[_ATTR_CLASS] = " ".join(classes)
            if name == "a":
                if _ATTR_HREF not in attributes:
                    unwrapped.append(True)
                    continue
                unwrapped.append(False)
                tagged = "tag" in attributes.pop(_ATTR_REL, "").lower().split()
                attributes[_ATTR_REL] = ("tag " if tagged else "") + LINK_REL
            token = {**token, "data": attributes}
        elif kind == "EndTag" and name == "a" and unwrapped and unwrapped.pop():
            continue
        yield token


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
